"""DingTalk outgoing robots, the vendor's wire: verifying what DingTalk posts when someone
@-mentions the robot in a group, reading the command, and answering in the group.

DingTalk signs each message with the robot's AppSecret: headers `timestamp` (milliseconds) and
`sign = base64(HMAC-SHA256(key=app_secret, msg=f"{timestamp}\\n{app_secret}"))`, the timestamp within
one hour of now. The answer goes back through the message's `sessionWebhook` (a URL on
oapi.dingtalk.com that is valid for a while) and is also the HTTP response (DingTalk shows a
message returned in the response body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared.errors import Unauthorized
from shared.notify.adapters.base import inert_lines

CLOCK_SKEW_MS = 3600 * 1000  # the vendor's window: a sign more than an hour away is refused
TOKEN_PATH = "/v1.0/oauth2/accessToken"
SESSION_WEBHOOK_HOST = "oapi.dingtalk.com"
_MENTION = re.compile(r"^\s*(?:@\S+\s+)*")


def sign(app_secret: str, timestamp: str) -> str:
    """DingTalk: key = the secret, message = f"{timestamp}\\n{secret}" (the reverse of Feishu's bots)."""
    mac = hmac.new(app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def verify(app_secret: str, headers: Mapping[str, str], *, now: datetime) -> None:
    """`Unauthorized` unless `sign` matches `timestamp` and the timestamp is within an hour of now."""
    timestamp, given = headers.get("timestamp", ""), headers.get("sign", "")
    if not timestamp.isdigit() or len(timestamp) > 15 or not given:
        raise Unauthorized("send the timestamp (milliseconds) and sign headers")
    if abs(now.timestamp() * 1000 - int(timestamp)) > CLOCK_SKEW_MS:
        raise Unauthorized("timestamp is more than an hour from now")
    if not hmac.compare_digest(sign(app_secret, timestamp).encode(), given.encode()):
        raise Unauthorized("sign does not match")


@dataclass(frozen=True)
class Said:
    """What someone said to the robot."""

    msg_id: str
    sender_id: str  # senderStaffId (the corp's userid, as on users.dingtalk_user_id) or senderId
    text: str  # after the @-mention
    session_webhook: str | None


def said(raw: bytes) -> Said:
    """Read a verified message; ValueError if it is not a text message with an id and a sender."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    text = data.get("text")
    content = text.get("content") if isinstance(text, dict) else None
    msg_id = data.get("msgId")
    sender = data.get("senderStaffId") or data.get("senderId")
    if not isinstance(msg_id, str) or not msg_id or not isinstance(sender, str) or not sender:
        raise ValueError("a message names its msgId and sender")
    webhook = data.get("sessionWebhook")
    return Said(
        msg_id=msg_id,
        sender_id=sender,
        text=_MENTION.sub("", content if isinstance(content, str) else "").strip(),
        session_webhook=webhook if isinstance(webhook, str) and webhook else None,
    )


def session_webhook_allowed(url: str, *, api_base: str) -> bool:
    """The sessionWebhook comes from the request: send only to DingTalk itself (or to the configured
    API base, where a test double plays DingTalk), never to wherever the payload points."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        return False
    if parts.scheme == "https" and parts.hostname == SESSION_WEBHOOK_HOST and parts.port in (None, 443):
        return True
    base = urlsplit(api_base)
    return (parts.scheme, parts.hostname, parts.port) == (base.scheme, base.hostname, base.port)


def reply(message: str, *, sender_id: str) -> dict[str, Any]:
    """A markdown message @-mentioning the sender (the id in `at` and `@id` in the text, as DingTalk
    needs both); the message is made inert: it may quote what people typed."""
    lines = [line for line in inert_lines(message) if line.strip()] or [""]
    text = f"@{sender_id} " + "\n\n".join(lines)  # a blank line: DingTalk markdown's line break
    return {
        "msgtype": "markdown",
        "markdown": {"title": lines[0][:40] or "Closeloop", "text": text},
        "at": {"atUserIds": [sender_id], "isAtAll": False},
    }
