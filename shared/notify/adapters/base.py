"""What every adapter provides, and the response classification they share."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.models import AttemptOutcome
from shared.notify.http import Reply, Sender
from shared.notify.render import Message


@dataclass(frozen=True)
class Target:
    """A channel as the sender needs it: plain data, safe to use outside a DB session."""

    id: int
    kind: str
    url: str
    secret: str | None
    keywords: list[str]
    rate_limits: list[dict[str, Any]] | None = None  # overrides of the vendor's limits
    config_error: str | None = None  # the channel cannot be sent to as configured (say, its secret won't decrypt)
    fingerprint: str = ""  # the configuration this target was built from
    app_id: str | None = None  # feishu_app: the app that sends (`secret` holds its app secret) …
    chat_id: str | None = None  # … to this group


@dataclass(frozen=True)
class Envelope:
    """The versioned event carried by every notification (the generic webhook body)."""

    message_id: str
    event_type: str
    occurred_at: datetime
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "type": self.event_type,
            "version": "1",
            "timestamp": self.occurred_at.isoformat(),
            "data": self.data,
        }


@dataclass
class Prepared:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Classified:
    outcome: AttemptOutcome
    vendor_code: str | None = None
    error: str | None = None
    retry_after_s: float | None = None  # a vendor-imposed wait (e.g. DingTalk's 10-minute throttle)


@dataclass(frozen=True)
class Adapter:
    prepare: Callable[[Target, Message, Envelope, datetime], Prepared]
    classify: Callable[[Reply], Classified]
    # A vendor that needs more than one request per message (an app API: a token, then the message)
    # sends itself: (client, target, message, envelope, now, allow_private) → the answer to classify.
    send: Callable[[Sender, Target, Message, Envelope, datetime, bool], Awaitable[Reply]] | None = None


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def classify_http(status: int) -> Classified | None:
    """Transport-level verdicts shared by all vendors; None means 'read the body'."""
    if status == 429 or status >= 500 or status == 408:
        return Classified(AttemptOutcome.retryable, error=f"HTTP {status}")
    if status >= 400:
        return Classified(AttemptOutcome.permanent, error=f"HTTP {status}")
    return None


def classify_vendor_code(
    reply: Reply, *, code_key: str, msg_key: str, retryable: dict[int, float | None], permanent: set[int]
) -> Classified:
    """Chat bots answer HTTP 200 even when they reject: the body's code is the verdict."""
    if (verdict := classify_http(reply.status)) is not None:
        return verdict
    try:
        data = json.loads(reply.body)
        code = int(data.get(code_key))
    except (ValueError, TypeError, AttributeError):
        return Classified(AttemptOutcome.retryable, error=reply_summary(reply))
    if code == 0:
        return Classified(AttemptOutcome.success, vendor_code="0")
    message = vendor_text(data.get(msg_key))
    if code in retryable:
        return Classified(AttemptOutcome.retryable, str(code), message, retryable[code])
    if code in permanent:
        return Classified(AttemptOutcome.permanent, str(code), message)
    # An unknown code: retry (bounded) rather than lose the alert on a guess.
    return Classified(AttemptOutcome.retryable, str(code), message)


# Attempt records (and a notification's or channel's last_error) are readable by every viewer:
# of an answer they keep only what the vendor says in its own code/msg fields, bounded. Anything
# else — a gateway's HTML page, a debug dump, an oversized body — is summarised, never echoed.
VENDOR_TEXT_MAX = 200
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069]+")


def vendor_text(value: object) -> str:
    """The vendor's own message field, as one bounded line of printable text."""
    text = _UNPRINTABLE.sub(" ", str(value if value is not None else "")).strip()
    return text if len(text) <= VENDOR_TEXT_MAX else text[: VENDOR_TEXT_MAX - 1] + "…"


def reply_summary(reply: Reply) -> str:
    """An answer we could not read, described without its content: status, content type, length
    and a fingerprint (to match the vendor's or a proxy's logs)."""
    content_type = _UNPRINTABLE.sub("", reply.content_type.split(";")[0]).strip()[:60] or "no content type"
    digest = hashlib.sha256(reply.body).hexdigest()[:16]
    return f"unreadable response: HTTP {reply.status}, {content_type}, {len(reply.body)} bytes, sha256:{digest}"


# Everything a Message carries in its title, fields and body may hold user-supplied text (titles,
# names, customer content, comments, a vendor's error text), and the three chat vendors render
# markdown with live extensions: Feishu lark_md `<at id=all></at>`, `<at user_id="…">`, `<font>`,
# `<a>` and `[x](url)`; DingTalk markdown `[x](url)`, `![x](img)`, headings and HTML; WeCom markdown
# `<@userid>`, `<font>` and `[x](url)`. None of them documents a backslash escape that works for
# all of these, so user text is made inert by substituting the few ASCII characters those
# constructs need with their full-width forms, which read the same in Chinese text and are never
# syntax: `<` (every tag, so every mention tag), `[` and `]` (links and images), `@` (text
# mentions), `&` (entities that could spell a tag), and the colon of `://` (so a bare URL is not
# auto-linked). Line breaks become spaces, so user text can never start a line (headings, quotes,
# lists, rules). Everything else — Chinese punctuation,
# `*`, `#` or `>` inside a line — is left as typed. Only the adapter adds live syntax afterwards:
# the resolved recipients' mentions and the item's link.
_INERT = str.maketrans({"<": "＜", "[": "［", "]": "］", "@": "＠", "&": "＆"})


def inert(text: str) -> str:
    """User text as markdown that renders as itself: one line, no tag, link or mention."""
    return " ".join(text.splitlines()).translate(_INERT).replace("://", "：//")


def inert_lines(text: str) -> list[str]:
    """A multi-line body (a digest's item per line): each line inert, the line breaks kept."""
    return [inert(line) for line in text.splitlines()]


# A mention id that would address the whole group is never a person's id.
_EVERYONE = {"all", "@all", "everyone", "所有人"}


def person_id(value: str | None) -> str | None:
    return value if value and value.strip().lower() not in _EVERYONE else None


def plain_lines(message: Message) -> list[str]:
    lines = [f"{k}: {v}" for k, v in message.fields]
    if message.body:
        lines.append(message.body)
    return lines


# What each vendor accepts, in bytes of request body, with a margin (WeCom's 4096 counts only the
# markdown content; bounding the whole body by it is stricter, so always accepted).
BODY_LIMITS = {"feishu": 19_500, "dingtalk": 19_500, "wecom": 4_000, "feishu_app": 29_000}
ELLIPSIS = "…"


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(0, chars - 1)] + ELLIPSIS


def fit(adapter: Adapter, target: Target, message: Message, envelope: Envelope, now: datetime) -> Prepared:
    """Prepare the message, shortened until the vendor would accept its size: the body text
    first (cut at a character, marked with …), then long field values, then the title (which
    keeps the bot's keyword, as the adapters put it back). Never rejected for size."""
    prepared = adapter.prepare(target, message, envelope, now)
    limit = BODY_LIMITS.get(target.kind)
    if limit is None or len(prepared.body) <= limit:
        return prepared
    m = replace(message, fields=list(message.fields), mentions=list(message.mentions))
    for _ in range(64):
        excess = len(adapter.prepare(target, m, envelope, now).body) - limit
        if excess <= 0:
            break
        step = excess // 3 + 16  # bytes to characters: CJK is three bytes each
        if m.body and len(m.body) > 1:
            m.body = _cut(m.body, len(m.body) - step)
        elif any(len(v) > 40 for _, v in m.fields):
            i = max(range(len(m.fields)), key=lambda j: len(m.fields[j][1]))
            k, v = m.fields[i]
            m.fields[i] = (k, _cut(v, max(40, len(v) - step)))
        elif len(m.mentions) > 1:
            m.mentions = m.mentions[: len(m.mentions) // 2]
        elif m.fields:
            m.fields.pop()
        else:
            m.title = _cut(m.title, max(8, len(m.title) - step))
    return adapter.prepare(target, m, envelope, now)
