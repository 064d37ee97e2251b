"""Writing to the transactional outbox: idempotent on each notification's dedupe key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, DateTime, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import jsontext
from shared.db import copy_rows, driver_connection
from shared.models import Channel, Notification, NotificationStatus
from shared.observability import logs

# Leases run on one clock, the database's at the statement, never a replica's own (ADR 0009): a
# notifier whose clock is off can neither steal a live lease nor keep one past its expiry.
DB_NOW = func.statement_timestamp(type_=DateTime(timezone=True))


def lease_free() -> ColumnElement[bool]:
    """No live lease on the notification, on the database's clock."""
    return (Notification.lease_until.is_(None)) | (Notification.lease_until < DB_NOW)


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
    # Fast path: ids from the sequence, rows by COPY. Any existing dedupe key makes it fall back,
    # with nothing written, to the idempotent INSERT … ON CONFLICT DO NOTHING below. The message ids
    # (UUID v4) come with the ids: PostgreSQL makes them faster than Python's uuid4 (bench/sweep.py).
    apg = await driver_connection(session)
    fresh = await apg.fetch(
        "SELECT nextval(pg_get_serial_sequence('notifications', 'id')), gen_random_uuid() FROM generate_series(1, $1)",
        len(items),
    )
    ids = [r[0] for r in fresh]
    pending = NotificationStatus.pending.value
    request_id = logs.request_id.get()  # the API request writing them, if any
    records = [
        (
            nid,
            i.dedupe_key,
            message_id,
            i.event_type,
            i.subject_type,
            i.subject_id,
            i.channel_id,
            jsontext.dumps(i.payload),
            pending,
            0,
            now,
            now,
            now,
            request_id,
        )
        for (nid, message_id), i in zip(fresh, items, strict=True)
    ]
    if await copy_rows(session, "notifications", COPY_COLUMNS, records):
        return ids
    table = cast(Table, Notification.__table__)
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
        .returning(table.c.id, sort_by_parameter_order=True)
    )
    rows = [
        dict(zip(COPY_COLUMNS, r, strict=True)) | {"payload": i.payload} for r, i in zip(records, items, strict=True)
    ]
    conn = await session.connection()
    return list((await conn.execute(stmt, rows)).scalars().all())


COPY_COLUMNS = (
    "id",
    "dedupe_key",
    "message_id",
    "event_type",
    "subject_type",
    "subject_id",
    "channel_id",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "request_id",
)


async def channels_with_due(session: AsyncSession, *, now: datetime, limit: int = 1000) -> list[int]:
    """Channels with notifications waiting to be sent now: enabled, not held as unhealthy, with a
    due row no live notifier has leased (one index probe per channel, not a scan of the backlog)."""
    waiting = (
        select(Notification.id)
        .where(
            Notification.channel_id == Channel.id,
            Notification.status == NotificationStatus.pending,
            Notification.next_attempt_at <= now,
            lease_free(),
        )
        .exists()
    )
    stmt = (
        select(Channel.id)
        .where(Channel.enabled.is_(True), Channel.healthy.is_(True), waiting)
        .order_by(Channel.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
