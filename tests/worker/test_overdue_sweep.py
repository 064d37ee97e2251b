"""The worker's overdue sweep: routed, exactly once, nothing before the due time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from services.worker.main import sweep_once
from shared.db import unit_of_work
from shared.models import Notification, Task, TaskStatus
from shared.tasks.overdue import sweep_overdue_tasks
from tests.factories import make_channel, make_department, make_task, make_user


def worker_ctx(settings, sessions, clock, arq_redis):
    return {"settings": settings, "sessions": sessions, "clock": clock, "redis": arq_redis}


async def notifications(sessions) -> list[Notification]:
    async with unit_of_work(sessions) as s:
        return list((await s.scalars(select(Notification).order_by(Notification.id))).all())


async def test_alert_goes_to_the_assignees_department_and_unscoped_channels(sessions, clock, settings, arq_redis):
    mkt, sales = await make_department(sessions), await make_department(sessions)
    owner = await make_user(sessions, department_id=mkt.id)
    mkt_channel = await make_channel(sessions, department_ids=[mkt.id])
    await make_channel(sessions, department_ids=[sales.id])
    everyone = await make_channel(sessions)
    await make_channel(sessions, enabled=False)
    task = await make_task(sessions, assignee_id=owner.id, due_at=clock.now() + timedelta(seconds=2))
    ctx = worker_ctx(settings, sessions, clock, arq_redis)

    await sweep_once(ctx)
    assert await notifications(sessions) == []  # not before it is due

    clock.advance(2)
    await sweep_once(ctx)
    sent = await notifications(sessions)
    assert sorted(n.channel_id for n in sent) == sorted([mkt_channel.id, everyone.id])
    assert {n.event_type for n in sent} == {"task.overdue"}
    assert sent[0].payload["task"]["id"] == task.id
    assert sent[0].payload["task"]["url"] == f"http://closeloop.test/api/v1/tasks/{task.id}"
    assert sent[0].payload["assignee"]["name"] == owner.name
    # The notifier's doorbell was rung for each, after the commit.
    assert len(await arq_redis.queued_jobs(queue_name="closeloop:notify")) == 2

    clock.advance(60)
    await sweep_once(ctx)
    assert len(await notifications(sessions)) == 2  # a second sweep adds nothing


async def test_done_and_cancelled_tasks_raise_nothing(sessions, clock, settings, arq_redis):
    await make_channel(sessions)
    past = clock.now() - timedelta(minutes=1)
    await make_task(sessions, due_at=past, status=TaskStatus.done)
    await make_task(sessions, due_at=past, status=TaskStatus.cancelled)
    await make_task(sessions, due_at=None)
    await sweep_once(worker_ctx(settings, sessions, clock, arq_redis))
    assert await notifications(sessions) == []


async def test_moving_the_due_date_rearms_the_alert(client, sessions, clock, settings, arq_redis):
    from tests.factories import auth

    headers = await auth(sessions)
    await make_channel(sessions)
    task = (
        await client.post(
            "/api/v1/tasks",
            headers=headers,
            json={"title": "x", "due_at": (clock.now() + timedelta(seconds=1)).isoformat()},
        )
    ).json()
    ctx = worker_ctx(settings, sessions, clock, arq_redis)
    clock.advance(1)
    await sweep_once(ctx)
    assert len(await notifications(sessions)) == 1
    new_due = clock.now() + timedelta(hours=1)
    r = await client.patch(f"/api/v1/tasks/{task['id']}", headers=headers, json={"due_at": new_due.isoformat()})
    assert r.json()["overdue_alerted_at"] is None
    await sweep_once(ctx)
    assert len(await notifications(sessions)) == 1
    clock.advance(timedelta(hours=1))
    await sweep_once(ctx)
    sent = await notifications(sessions)
    assert len(sent) == 2 and sent[1].payload["task"]["due_at"] == new_due.isoformat()


async def test_concurrent_sweeps_never_duplicate(sessions, clock, settings):
    await make_channel(sessions)
    await make_channel(sessions)
    async with unit_of_work(sessions) as s:
        s.add_all(Task(title=f"t{i}", due_at=clock.now() - timedelta(seconds=i)) for i in range(300))
    clock.advance(1)

    async def sweeper() -> int:
        total = 0
        while True:
            async with unit_of_work(sessions) as s:
                claimed, ids = await sweep_overdue_tasks(
                    s, now=clock.now(), batch_size=40, public_url=settings.public_url
                )
            total += len(ids)
            if claimed == 0:
                return total

    results = await asyncio.gather(*(sweeper() for _ in range(4)))
    sent = await notifications(sessions)
    assert sum(results) == len(sent) == 600
    assert len({n.dedupe_key for n in sent}) == 600
    assert sum(r > 0 for r in results) >= 2  # the work was really shared
