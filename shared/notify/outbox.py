"""Writing to the transactional outbox: idempotent on each notification's dedupe key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Channel, Notification, NotificationStatus


@dataclass(frozen=True)
class OutboxItem:
    dedupe_key: str
    event_type: str
    subject_type: str
    subject_id: int
    channel_id: int
    payload: dict[str, Any]


async def add_to_outbox(session: AsyncSession, items: list[OutboxItem], *, now: datetime) -> list[int]:
    """Insert notifications; ones whose key already exists are skipped. Returns the new ids."""
    if not items:
        return []
    stmt = (
        insert(Notification)
        .values(
            [
                {
                    "dedupe_key": i.dedupe_key,
                    "event_type": i.event_type,
                    "subject_type": i.subject_type,
                    "subject_id": i.subject_id,
                    "channel_id": i.channel_id,
                    "payload": i.payload,
                    "status": NotificationStatus.pending,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for i in items
            ]
        )
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(Notification.id)
    )
    return list((await session.scalars(stmt)).all())


async def due_for_delivery(session: AsyncSession, *, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(id, attempts) of pending notifications that are due and that nobody holds a lease on."""
    stmt = (
        select(Notification.id, Notification.attempts)
        .join(Channel, Channel.id == Notification.channel_id)
        .where(
            Notification.status == NotificationStatus.pending,
            Notification.next_attempt_at <= now,
            (Notification.lease_until.is_(None)) | (Notification.lease_until < now),
            Channel.enabled.is_(True),
        )
        .order_by(Notification.next_attempt_at)
        .limit(limit)
    )
    return [(row.id, row.attempts) for row in await session.execute(stmt)]
