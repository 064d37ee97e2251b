"""DingTalk custom robot: markdown with real @mentions, query-string signature, `errcode`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from shared.notify.adapters.base import (
    Adapter,
    Classified,
    Envelope,
    Prepared,
    Target,
    classify_vendor_code,
    dumps,
    inert,
    inert_lines,
    person_id,
)
from shared.notify.http import Reply
from shared.notify.render import Message, ensure_keyword

THROTTLE_S = 600.0  # exceeding 20/min blocks the robot for 10 minutes
RETRYABLE: dict[int, float | None] = {130101: THROTTLE_S}
PERMANENT = {310000, 300005, 460101, 400402}


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: key = secret, message = f"{timestamp_ms}\\n{secret}"."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def prepare(target: Target, message: Message, envelope: Envelope, now: datetime) -> Prepared:
    # DingTalk notifies only whom `at` names (atMobiles, atUserIds; isAtAll stays false): an
    # "@13800000000" or "@所有人" typed into a title is not a mention. Its markdown does render
    # links, images, headings and some HTML, so user text goes in inert (base.inert), its `@` too:
    # only the recipients' "@mobile" this adapter writes stand out as mentions.
    title = ensure_keyword(inert(message.title), target.keywords)
    lines = [f"### {title}", *[f"- **{inert(k)}**: {inert(v)}" for k, v in message.fields]]
    if message.body:
        lines.append("\n".join(inert_lines(message.body)))
    mobiles = [m.mobile for m in message.mentions if m.mobile]
    user_ids = [uid for m in message.mentions if not m.mobile and (uid := person_id(m.dingtalk_user_id))]
    if mobiles or user_ids:
        lines.append(" ".join(f"@{x}" for x in [*mobiles, *user_ids]))
    if message.url:
        lines.append(f"[{message.url_label or message.url}]({message.url})")
    body: dict[str, Any] = {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": "\n\n".join(lines)},
        "at": {"atMobiles": mobiles, "atUserIds": user_ids, "isAtAll": False},
    }
    url = target.url
    if target.secret:
        ts = int(now.timestamp() * 1000)
        url += f"&timestamp={ts}&sign={quote_plus(sign(target.secret, ts))}"
    return Prepared(url=url, body=dumps(body), headers={"Content-Type": "application/json; charset=utf-8"})


def classify(reply: Reply) -> Classified:
    return classify_vendor_code(reply, code_key="errcode", msg_key="errmsg", retryable=RETRYABLE, permanent=PERMANENT)


ADAPTER = Adapter(prepare=prepare, classify=classify)
