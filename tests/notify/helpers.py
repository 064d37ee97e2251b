"""Building outbox rows and dispatchers for notifier tests."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from shared.clock import Clock
from shared.db import unit_of_work
from shared.models import Notification, NotificationStatus
from shared.notify import delivery
from shared.notify.dispatch import Dispatcher, DrainReport, drain
from shared.notify.http import Sender
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.notify.ratelimit import RateLimiter
from shared.settings import Settings


def sla_payload(i: int, title: str, *, kind: str = "breach", now: datetime, **extra: Any) -> dict[str, Any]:
    """What the SLA engine writes for a fired level (the fields the renderers read)."""
    due = now - timedelta(minutes=30)
    return {
        "kind": kind,
        "subject": {"type": "task", "id": i, "title": title, "url": f"http://closeloop.test/tasks/{i}"},
        "timer": {
            "id": i,
            "policy_id": 1,
            "started_at": (due - timedelta(hours=8)).isoformat(),
            "due_at": due.isoformat(),
            "target": {"kind": "working_hours", "value": "PT8H"},
        },
        "level": 0,
        "repeat": 0,
        "scheduled_at": due.isoformat(),
        "fired_at": now.isoformat(),
        "late_by_s": 0.0,
        "assignee": {"name": "张三", "mobile": "13800000000"},
        "campaign": None,
        "mentions": [{"name": "张三", "mobile": "13800000000"}],
        "recipients": [{"as": "assignee", "user_id": 1, "name": "张三"}],
        "notes": [],
        "locale": None,
        **extra,
    }


async def enqueue(
    sessions: Any,
    channel_id: int,
    count: int,
    *,
    now: datetime,
    start: int = 0,
    kind: str = "breach",
    title: str = "T{i:04d}号任务",
) -> list[int]:
    items = [
        OutboxItem(
            dedupe_key=f"test:{channel_id}:{i}",
            event_type=f"sla.{kind}",
            subject_type="task",
            subject_id=i,
            channel_id=channel_id,
            payload=sla_payload(i, title.format(i=i), kind=kind, now=now),
        )
        for i in range(start, start + count)
    ]
    async with unit_of_work(sessions) as s:
        return await add_to_outbox(s, items, now=now)


def make_dispatcher(
    settings: Settings,
    sessions: Any,
    redis: Any,
    http: Sender,
    clock: Clock,
    *,
    window_scale: float = 1.0,
    **policy: Any,
) -> Dispatcher:
    return Dispatcher(
        sessions=sessions,
        http=http,
        limiter=RateLimiter(redis),
        clock=clock,
        policy=dataclasses.replace(delivery.policy_from(settings), **policy),
        tz=settings.tz,
        public_url=settings.public_url,
        window_scale=window_scale,
    )


async def statuses(sessions: Any) -> dict[str, int]:
    async with unit_of_work(sessions) as s:
        rows = await s.execute(select(Notification.status, func.count()).group_by(Notification.status))
        return {status.value: n for status, n in rows}


async def drain_in_real_time(d: Dispatcher, channel_id: int, *, want: int, limit_s: float = 30.0) -> list[DrainReport]:
    """Drain until `want` notifications are delivered, sleeping only as long as the limiter says."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    reports = []
    while loop.time() < deadline:
        report = await drain(d, channel_id)
        reports.append(report)
        if (await statuses(d.sessions)).get(NotificationStatus.delivered.value, 0) >= want:
            return reports
        wait = (report.retry_at - d.clock.now()).total_seconds() if report.retry_at else 0.05
        await asyncio.sleep(min(max(wait, 0.01), 1.0))
    raise AssertionError(f"not all delivered in {limit_s} s: {await statuses(d.sessions)}")


async def expire_leases(sessions: Any) -> None:
    """Let the database's clock pass every lease (leases run on it, not on the test's clock)."""
    async with unit_of_work(sessions) as s:
        await s.execute(
            update(Notification)
            .where(Notification.lease_until.is_not(None))
            .values(lease_until=func.statement_timestamp() - timedelta(seconds=1))
        )
