"""Delivering one notification: claim it with a lease, send, classify, record, schedule a retry.

The HTTP call happens outside any transaction. A lease (not a held row lock) marks the row as
in flight; if the process dies mid-send the lease expires and the outbox sweep hands the row
to another notifier. That is at-least-once: a receiver may see a duplicate only when a send
succeeded but its answer was lost, and a generic webhook retry keeps its `webhook-id` for that.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.crypto import SecretDecryptionError, decrypt_secret
from shared.models import (
    AttemptOutcome,
    Channel,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
)
from shared.notify.adapters import ADAPTERS, Classified, Target
from shared.notify.adapters.base import Envelope
from shared.notify.render import render
from shared.notify.ssrf import UnsafeUrl, check_url_target

LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_s: float = 10.0
    max_attempts: int = 12
    max_age_s: float = 24 * 3600
    retry_base_s: float = 1.0
    retry_cap_s: float = 600.0
    allow_private: bool = False

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with jitter, capped (attempt counts from 1)."""
        ceiling = min(self.retry_cap_s, self.retry_base_s * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass
class Claimed:
    notification_id: int
    attempt_no: int
    target: Target
    envelope: Envelope
    created_at: datetime
    locale: str | None
    # Set when the channel cannot be sent to as configured (e.g. its secret no longer decrypts).
    config_error: str | None = None


@dataclass
class AttemptResult:
    classified: Classified
    http_status: int | None
    latency_ms: int


async def claim(session: AsyncSession, notification_id: int, *, now: datetime) -> Claimed | None:
    """Take a lease on a pending, due notification; None if it is not ours to send now."""
    row = (
        await session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == NotificationStatus.pending,
                Notification.next_attempt_at <= now,
                (Notification.lease_until.is_(None)) | (Notification.lease_until < now),
            )
            .values(lease_until=now + LEASE, attempts=Notification.attempts + 1)
            .returning(Notification)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    channel = await session.get_one(Channel, row.channel_id)
    if not channel.enabled:
        # Keep it pending; it goes out if the channel is enabled again.
        row.lease_until = None
        row.attempts -= 1
        return None
    secret, config_error = None, None
    if channel.secret_encrypted is not None:
        try:
            secret = decrypt_secret(channel.secret_encrypted)
        except SecretDecryptionError as exc:
            config_error = str(exc)
    target = Target(
        id=channel.id,
        kind=channel.kind.value,
        url=channel.url,
        secret=secret,
        keywords=list(channel.keywords or []),
    )
    envelope = Envelope(
        message_id=str(row.message_id), event_type=row.event_type, occurred_at=row.created_at, data=row.payload
    )
    locale = row.payload.get("locale") or (row.payload.get("assignee") or {}).get("locale")
    return Claimed(row.id, row.attempts, target, envelope, row.created_at, locale, config_error)


async def send(
    client: httpx.AsyncClient, claimed: Claimed, *, now: datetime, tz: ZoneInfo, policy: DeliveryPolicy
) -> AttemptResult:
    """One HTTP attempt, signed afresh; never raises for transport or vendor errors."""
    if claimed.config_error is not None:
        # Sending unsigned would only earn a vendor rejection; no retry fixes a key mismatch.
        return AttemptResult(Classified(AttemptOutcome.permanent, error=claimed.config_error), None, 0)
    adapter = ADAPTERS[claimed.target.kind]  # type: ignore[index]
    message = render(claimed.envelope.event_type, claimed.envelope.data, locale=claimed.locale, tz=tz, sent_at=now)
    started = time.perf_counter()
    try:
        await check_url_target(claimed.target.url, allow_private=policy.allow_private)
        prepared = adapter.prepare(claimed.target, message, claimed.envelope, now)
        response = await client.post(
            prepared.url, content=prepared.body, headers=prepared.headers, timeout=policy.timeout_s
        )
        body = await response.aread()
        status: int | None = response.status_code
        classified = adapter.classify(response.status_code, body)
    except UnsafeUrl as exc:
        status, classified = None, Classified(AttemptOutcome.permanent, error=f"unsafe URL: {exc}")
    except httpx.HTTPError as exc:
        status, classified = None, Classified(AttemptOutcome.retryable, error=f"{type(exc).__name__}: {exc}"[:300])
    latency_ms = int((time.perf_counter() - started) * 1000)
    return AttemptResult(classified, status, latency_ms)


async def record(
    session: AsyncSession, claimed: Claimed, result: AttemptResult, *, now: datetime, policy: DeliveryPolicy
) -> datetime | None:
    """Store the attempt and the notification's next state. Returns when to retry, if at all."""
    c = result.classified
    session.add(
        DeliveryAttempt(
            notification_id=claimed.notification_id,
            channel_id=claimed.target.id,
            attempt_no=claimed.attempt_no,
            attempted_at=now,
            latency_ms=result.latency_ms,
            outcome=c.outcome,
            http_status=result.http_status,
            vendor_code=c.vendor_code,
            error=c.error,
        )
    )
    notification = (
        await session.scalars(select(Notification).where(Notification.id == claimed.notification_id).with_for_update())
    ).one()
    channel = await session.get_one(Channel, claimed.target.id)
    notification.lease_until = None
    retry_at: datetime | None = None
    if c.outcome == AttemptOutcome.success:
        notification.status = NotificationStatus.delivered
        notification.delivered_at = now
        notification.last_error = None
        channel.last_success_at = now
    else:
        notification.last_error = c.error or f"vendor code {c.vendor_code}"
        channel.last_error = notification.last_error
        age = (now - claimed.created_at).total_seconds()
        delay = max(policy.backoff(claimed.attempt_no), c.retry_after_s or 0)
        exhausted = claimed.attempt_no >= policy.max_attempts or age + delay > policy.max_age_s
        if c.outcome == AttemptOutcome.permanent or exhausted:
            notification.status = NotificationStatus.dead
        else:
            retry_at = now + timedelta(seconds=delay)
            notification.next_attempt_at = retry_at
    await session.flush()
    return retry_at
