"""What operators do to deliveries: replay a dead letter, test a channel for real."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.access import subjects
from shared.actor import Actor
from shared.errors import Conflict, FieldError, NotFound
from shared.filters import any_of
from shared.models import AttemptOutcome, Channel, Notification, NotificationStatus
from shared.notify import delivery
from shared.notify.adapters.base import Envelope
from shared.notify.dispatch import limiter_key
from shared.notify.http import Sender
from shared.notify.ratelimit import RateLimiter, limits_for
from shared.notify.render import render


def visible_notifications(stmt: Select[Any], actor: Actor) -> Select[Any]:
    """The outbox as the caller may read it: below director, the notifications about items they may
    read (the subject decides, not the channel: a company-wide channel carries every department's
    alerts, and a department's chat group is no permission)."""
    return subjects.visible(stmt, actor, type_column=Notification.subject_type, id_column=Notification.subject_id)


async def require_notification(session: AsyncSession, actor: Actor, notification_id: int) -> Notification:
    """One notification, or 404 — missing, or about an item the caller may not read."""
    stmt = visible_notifications(select(Notification).where(Notification.id == notification_id), actor)
    row = await session.scalar(stmt)
    if row is None:
        raise NotFound(f"notification {notification_id} does not exist")
    return row


def notification_filter(
    stmt: Select[Any],
    *,
    statuses: Collection[NotificationStatus] | None,
    channel_id: int | None,
    event_type: str | None,
    subject_type: str | None,
    subject_id: int | None,
    digest_id: UUID | None,
) -> Select[Any]:
    if statuses:
        stmt = stmt.where(any_of(Notification.status, statuses))
    for column, value in (
        (Notification.channel_id, channel_id),
        (Notification.event_type, event_type),
        (Notification.subject_type, subject_type),
        (Notification.subject_id, subject_id),
        (Notification.digest_id, digest_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


async def replay(session: AsyncSession, *, actor: Actor, notification_id: int, now: datetime) -> Notification:
    """Send a dead letter again, with a fresh retry budget; its message id (and so the
    receiver's dedupe key) stays the same. Like reading it: only about an item the caller may read."""
    await require_notification(session, actor, notification_id)
    row = await crud.get_or_404(session, Notification, notification_id, for_update=True)
    if row.status != NotificationStatus.dead:
        raise Conflict(
            f"only dead notifications can be replayed; this one is {row.status.value}",
            errors=[FieldError("notification_id", f"status is {row.status.value}", "state")],
        )
    return await crud.update(
        session,
        actor=actor,
        obj=row,
        entity_type="notification",
        changes={
            "status": NotificationStatus.pending,
            "next_attempt_at": now,
            "lease_until": None,
            "replayed_at": now,
            "budget_from": row.attempts,
        },
    )


@dataclass
class TestResult:
    outcome: AttemptOutcome
    http_status: int | None
    vendor_code: str | None
    error: str | None
    latency_ms: int
    healthy: bool

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


async def test_channel(
    session: AsyncSession,
    *,
    actor: Actor,
    channel_id: int,
    http: Sender,
    now: datetime,
    policy: delivery.DeliveryPolicy,
    tz: ZoneInfo,
    limiter: RateLimiter,
    window_scale: float = 1.0,
    locale: str | None = None,
) -> TestResult:
    """Send a test message now (even to a disabled or unhealthy channel) and report the vendor's
    answer. It takes a slot of the bot's shared rate limit like any message (none free: nothing is
    sent, and the answer says when to try). Success clears the unhealthy mark: held messages flow."""
    channel = await crud.get_or_404(session, Channel, channel_id)  # no row lock across the HTTP call
    target = await delivery.target_for(session, channel)
    windows = limits_for(target.kind, target.rate_limits, scale=window_scale)
    wait = await limiter.acquire(limiter_key(channel.id), windows)
    if wait > 0:
        error = f"rate limit: the bot's next free slot is in {wait:.1f} s; nothing was sent"
        return TestResult(AttemptOutcome.retryable, None, None, error, 0, channel.healthy)
    envelope = Envelope(
        message_id=f"test-{channel.id}-{int(now.timestamp() * 1000)}",
        event_type="channel.test",
        occurred_at=now,
        data={"channel": {"id": channel.id, "name": channel.name}, "requested_by": actor.user_id},
    )
    message = render("channel.test", envelope.data, locale=locale, tz=tz, sent_at=now)
    result = await delivery.send(http, target, message, envelope, now=now, policy=policy)
    k = result.classified
    if k.retry_after_s:  # the vendor throttled the bot
        await limiter.block(limiter_key(channel.id), k.retry_after_s * window_scale)
    channel = await crud.get_or_404(session, Channel, channel_id, for_update=True)
    if k.outcome == AttemptOutcome.success:
        channel.last_success_at = now
        if not channel.healthy:
            await crud.update(
                session,
                actor=actor,
                obj=channel,
                entity_type="channel",
                changes={"healthy": True, "unhealthy_since": None, "unhealthy_reason": None},
            )
    else:
        channel.last_error = k.error or f"vendor code {k.vendor_code}"
    await session.flush()
    return TestResult(k.outcome, result.http_status, k.vendor_code, k.error, result.latency_ms, channel.healthy)
