"""Two workers sweeping one database: every level fires exactly once, and the work is shared."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.models import Escalation, Notification, SlaTimer, Task, TimerState
from shared.sla import engine as sla_engine
from shared.sla.engine import SweepResult, sweep_due_timers
from tests.factories import make_channel, make_user

N = 10_000
LEVELS = [{"offset": "-PT1M", "recipients": ["assignee"]}, {"offset": "0", "recipients": ["assignee"]}]


async def test_two_workers_fire_ten_thousand_timers_exactly_once(sessions, settings, clock):
    await make_channel(sessions)
    users = [await make_user(sessions) for _ in range(10)]
    now = clock.now()
    async with unit_of_work(sessions) as s:
        task_ids = list(
            await s.scalars(
                insert(Task).returning(Task.id),
                [{"title": f"t{i}", "assignee_id": users[i % 10].id, "due_at": now} for i in range(N)],
            )
        )
        await s.execute(
            insert(SlaTimer),
            [
                {
                    "subject_type": "task",
                    "subject_id": tid,
                    "target_kind": "calendar",
                    "target_value": "PT1H",
                    "target_s": 3600.0,
                    "levels": LEVELS,
                    "state": TimerState.running,
                    "started_at": now - timedelta(hours=1),
                    "due_at": now + timedelta(seconds=30),
                    "paused_total_s": 0.0,
                    "fired": [],
                    "next_fire_at": now - timedelta(seconds=30) + timedelta(milliseconds=i % 1000),
                }
                for i, tid in enumerate(task_ids)
            ],
        )
    clock.advance(31)  # both levels are due now

    async def worker() -> int:
        engine = make_engine(settings.require_database_url(), pool_size=2)
        own = make_sessionmaker(engine)
        fired = 0
        try:
            while True:
                async with unit_of_work(own) as s:
                    r = await sweep_due_timers(s, now=clock.now(), batch_size=500)
                fired += r.fired
                if r.claimed == 0:
                    return fired
        finally:
            await engine.dispose()

    a, b = await asyncio.gather(worker(), worker())
    async with unit_of_work(sessions) as s:
        records = await s.scalar(select(func.count()).select_from(Escalation))
        distinct = await s.scalar(
            select(func.count()).select_from(
                select(Escalation.timer_id, Escalation.level, Escalation.repeat).distinct().subquery()
            )
        )
        notifications = await s.scalar(select(func.count()).select_from(Notification))
        left = await s.scalar(select(func.count()).select_from(SlaTimer).where(SlaTimer.next_fire_at.is_not(None)))
    assert a + b == records == distinct == 2 * N  # every (timer, level) once, no duplicates
    assert notifications == N  # the warning overtaken by the breach is recorded, not sent
    assert left == 0
    assert a > 0 and b > 0, (a, b)  # both workers really took part


async def test_a_claimed_batch_stays_locked_until_its_sweep_commits(sessions, settings, clock, monkeypatch):
    """The claim is the sweep's first statement: it must run inside the sweep's transaction, so a
    second worker sweeping right after the claim (before anything is written) skips those timers
    instead of firing them a second time."""
    await make_channel(sessions)
    user = await make_user(sessions)
    now = clock.now()
    async with unit_of_work(sessions) as s:
        task_ids = list(
            await s.scalars(
                insert(Task).returning(Task.id),
                [{"title": f"t{i}", "assignee_id": user.id, "due_at": now} for i in range(3)],
            )
        )
        await s.execute(
            insert(SlaTimer),
            [
                {
                    "subject_type": "task",
                    "subject_id": tid,
                    "target_kind": "calendar",
                    "target_value": "PT1H",
                    "target_s": 3600.0,
                    "levels": [{"offset": "0", "recipients": ["assignee"]}],
                    "state": TimerState.running,
                    "started_at": now - timedelta(hours=1),
                    "due_at": now,
                    "paused_total_s": 0.0,
                    "fired": [],
                    "next_fire_at": now,
                }
                for tid in task_ids
            ],
        )
    engine = make_engine(settings.require_database_url(), pool_size=2)
    other = make_sessionmaker(engine)
    theirs: list[SweepResult] = []
    load_batch = sla_engine._load_batch
    interleaved = False

    async def second_worker_sweeps_first(*args: Any) -> Any:
        nonlocal interleaved
        if not interleaved:  # between the first sweep's claim and its writes
            interleaved = True
            async with unit_of_work(other) as second:
                theirs.append(await sweep_due_timers(second, now=now, batch_size=500))
        return await load_batch(*args)

    monkeypatch.setattr(sla_engine, "_load_batch", second_worker_sweeps_first)
    try:
        async with unit_of_work(sessions) as first:
            mine = await sweep_due_timers(first, now=now, batch_size=500)
    finally:
        await engine.dispose()
    assert (mine.claimed, mine.fired, len(mine.notification_ids)) == (3, 3, 3)
    assert [(r.claimed, r.fired, r.notification_ids) for r in theirs] == [(0, 0, [])]
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Escalation)) == 3
        assert await s.scalar(select(func.count()).select_from(Notification)) == 3
