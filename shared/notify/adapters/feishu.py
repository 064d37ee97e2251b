"""Feishu / Lark custom bot: interactive card, body-level signature, `code` in the answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

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

HEADER_TEMPLATE = {"critical": "red", "warning": "orange", "info": "blue"}
RETRYABLE: dict[int, float | None] = {11232: None}
PERMANENT = {19001, 19021, 19022, 19024, 9499}


def sign(secret: str, timestamp: int) -> str:
    """Feishu: key = f"{timestamp}\\n{secret}", message empty (the reverse of DingTalk)."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def card(target: Target, message: Message) -> dict[str, Any]:
    # The header is `plain_text` (shown as typed); the body is `lark_md`, whose `<at id=all>`,
    # `<at user_id=…>`, `<a>`, `<font>` and `[x](url)` user text must not spell: it goes in inert
    # (base.inert). A plain "@所有人" in lark_md is only text: Feishu mentions are `<at>` tags.
    title = ensure_keyword(message.title, target.keywords)
    lines = [f"**{inert(k)}**：{inert(v)}" for k, v in message.fields]
    if message.body:
        lines.extend(inert_lines(message.body))
    mentions = " ".join(f"<at id={oid}></at>" for m in message.mentions if (oid := person_id(m.feishu_open_id)))
    if mentions:
        lines.append(mentions)
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(lines)}}]
    if message.url:
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "type": "primary",
                        "url": message.url,
                        "text": {"tag": "plain_text", "content": message.url_label or message.url},
                    }
                ],
            }
        )
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "template": HEADER_TEMPLATE.get(message.severity, "blue"),
            "title": {"tag": "plain_text", "content": title},
        },
        "elements": elements,
    }


def prepare(target: Target, message: Message, envelope: Envelope, now: datetime) -> Prepared:
    body: dict[str, Any] = {"msg_type": "interactive", "card": card(target, message)}
    if target.secret:
        ts = int(now.timestamp())
        body = {"timestamp": str(ts), "sign": sign(target.secret, ts), **body}
    return Prepared(url=target.url, body=dumps(body), headers={"Content-Type": "application/json; charset=utf-8"})


def classify(reply: Reply) -> Classified:
    return classify_vendor_code(reply, code_key="code", msg_key="msg", retryable=RETRYABLE, permanent=PERMANENT)


ADAPTER = Adapter(prepare=prepare, classify=classify)
