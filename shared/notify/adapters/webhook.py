"""Generic outgoing webhook, signed per the Standard Webhooks spec."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from shared.models import AttemptOutcome
from shared.notify.adapters.base import Adapter, Classified, Envelope, Prepared, Target, classify_http, dumps
from shared.notify.http import Reply
from shared.notify.render import Message


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256).digest()).decode()


def prepare(target: Target, message: Message, envelope: Envelope, now: datetime) -> Prepared:
    body = dumps(envelope.as_json())
    ts = int(now.timestamp())
    # The id stays the same on every retry so receivers can dedupe; the timestamp and signature are fresh.
    headers = {"Content-Type": "application/json", "webhook-id": envelope.message_id, "webhook-timestamp": str(ts)}
    if target.secret:
        headers["webhook-signature"] = sign(target.secret, envelope.message_id, ts, body)
    return Prepared(url=target.url, body=body, headers=headers)


def classify(reply: Reply) -> Classified:
    if (verdict := classify_http(reply.status)) is not None:
        return verdict
    if 200 <= reply.status < 300:
        return Classified(AttemptOutcome.success)
    return Classified(AttemptOutcome.permanent, error=f"HTTP {reply.status}")


ADAPTER = Adapter(prepare=prepare, classify=classify)
