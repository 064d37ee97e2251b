"""Signed inbound intake: other systems POST feedback, signed per the Standard Webhooks spec.

The signature is the one our own outbound webhooks carry (`shared.notify.adapters.webhook.sign`):
`v1,<base64(HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{raw body}"))>`, the key being the
base64-decoded part of `whsec_…`. Delivery is at least once, so the `webhook-id` dedupes.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.errors import Unauthorized
from shared.feedback import service
from shared.feedback.schemas import FeedbackCreate
from shared.models import Feedback
from shared.notify.adapters.webhook import sign

ACTOR = Actor.system("inbound-webhook")
SOURCE = "webhook"
TOLERANCE = timedelta(minutes=5)  # the Standard Webhooks reference libraries' default


def verify(
    secret: str,
    *,
    message_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
) -> None:
    """Raise `Unauthorized` unless one of the header's `v1,` signatures matches and the
    timestamp is within five minutes of `now` (replays of old deliveries are refused)."""
    if not message_id or not timestamp or not signature:
        raise Unauthorized("send the webhook-id, webhook-timestamp and webhook-signature headers")
    try:
        if not timestamp.isdigit() or len(timestamp) > 12:  # Unix seconds; longer cannot be "now"
            raise ValueError
        ts = int(timestamp)
    except ValueError:
        raise Unauthorized("webhook-timestamp must be Unix seconds") from None
    if abs(now.timestamp() - ts) > TOLERANCE.total_seconds():
        raise Unauthorized("webhook-timestamp is more than 5 minutes from now")
    expected = sign(secret, message_id, ts, body).encode()
    # Compare against every entry (no early exit), so timing says nothing about which one matched.
    matched = False
    for candidate in signature.split():
        if candidate.startswith("v1,"):
            matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise Unauthorized("webhook-signature does not match")


async def receive_feedback(
    session: AsyncSession, *, message_id: str, data: FeedbackCreate, now: datetime
) -> tuple[Feedback, bool]:
    """Record a verified delivery once: returns (item, created). A redelivery of the same
    `webhook-id` returns the item recorded the first time and writes nothing."""
    # Two deliveries of one id at once: the second waits here, then finds the first's row.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"closeloop:inbound-feedback:{message_id}"}
    )
    existing = await service.find_by_external_id(session, message_id)
    if existing is not None:
        return existing, False
    feedback = await service.create_feedback(
        session, actor=ACTOR, data=data, now=now, source=SOURCE, external_id=message_id
    )
    return feedback, True
