"""What every adapter provides, and the response classification they share."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.models import AttemptOutcome
from shared.notify.render import Message


@dataclass(frozen=True)
class Target:
    """A channel as the sender needs it: plain data, safe to use outside a DB session."""

    id: int
    kind: str
    url: str
    secret: str | None
    keywords: list[str]


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
    classify: Callable[[int, bytes], Classified]


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
    status: int, body: bytes, *, code_key: str, msg_key: str, retryable: dict[int, float | None], permanent: set[int]
) -> Classified:
    """Chat bots answer HTTP 200 even when they reject: the body's code is the verdict."""
    if (verdict := classify_http(status)) is not None:
        return verdict
    try:
        data = json.loads(body)
        code = int(data.get(code_key))
    except (ValueError, TypeError, AttributeError):
        return Classified(AttemptOutcome.retryable, error=f"unreadable response body: {body[:200]!r}")
    if code == 0:
        return Classified(AttemptOutcome.success, vendor_code="0")
    message = str(data.get(msg_key, ""))[:300]
    if code in retryable:
        return Classified(AttemptOutcome.retryable, str(code), message, retryable[code])
    if code in permanent:
        return Classified(AttemptOutcome.permanent, str(code), message)
    # An unknown code: retry (bounded) rather than lose the alert on a guess.
    return Classified(AttemptOutcome.retryable, str(code), message)


def plain_lines(message: Message) -> list[str]:
    lines = [f"{k}: {v}" for k, v in message.fields]
    if message.body:
        lines.append(message.body)
    return lines
