"""WeCom group robot: markdown with <@userid> mentions, `errcode` in the answer."""

from __future__ import annotations

from datetime import datetime

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
from shared.notify.render import Message

MARKDOWN_MAX_BYTES = 4096
RETRYABLE: dict[int, float | None] = {45009: None}
PERMANENT = {93000, 40058, 40008}


def _truncate_utf8(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "…"


def prepare(target: Target, message: Message, envelope: Envelope, now: datetime) -> Prepared:
    color = {"critical": "warning", "warning": "comment"}.get(message.severity, "info")
    # WeCom markdown mentions with `<@userid>` (and `<@all>`), colours with `<font>` and links with
    # `[x](url)`: user text goes in inert (base.inert), so only the recipients' mentions are live.
    title = inert(message.title)
    lines = [f'**<font color="{color}">{title}</font>**', *[f"> {inert(k)}: {inert(v)}" for k, v in message.fields]]
    if message.body:
        lines.extend(inert_lines(message.body))
    mentions = " ".join(f"<@{uid}>" for m in message.mentions if (uid := person_id(m.wecom_user_id)))
    if mentions:
        lines.append(mentions)
    if message.url:
        lines.append(f"[{message.url_label or message.url}]({message.url})")
    content = _truncate_utf8("\n".join(lines), MARKDOWN_MAX_BYTES)
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    return Prepared(url=target.url, body=dumps(body), headers={"Content-Type": "application/json; charset=utf-8"})


def classify(reply: Reply) -> Classified:
    return classify_vendor_code(reply, code_key="errcode", msg_key="errmsg", retryable=RETRYABLE, permanent=PERMANENT)


ADAPTER = Adapter(prepare=prepare, classify=classify)
