"""An org with a full management chain, a channel, and helpers to move time and sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from shared.clock import FrozenClock
from shared.db import unit_of_work
from shared.models import Channel, Escalation, Notification, SlaTimer, Task, User
from shared.sla.engine import SweepResult, sweep_due_timers
from shared.tasks.schemas import TaskCreate, TaskUpdate
from shared.tasks.service import create_task, delete_task, update_task
from tests.factories import SYSTEM, make_channel, make_department, make_user

PUBLIC = "http://closeloop.test"


@dataclass
class Org:
    head: User
    director: User
    manager: User
    assignee: User
    orphan: User  # no manager
    channel: Channel


@pytest.fixture
async def org(sessions) -> Org:
    dept = await make_department(sessions, name="市场部")
    head = await make_user(sessions, name="赵部长", department_id=dept.id)
    director = await make_user(sessions, name="王总监", department_id=dept.id)
    manager = await make_user(sessions, name="李经理", department_id=dept.id, manager_id=director.id)
    assignee = await make_user(sessions, name="张策划", department_id=dept.id, manager_id=manager.id)
    orphan = await make_user(sessions, name="孤儿", department_id=dept.id)
    async with unit_of_work(sessions) as s:
        from shared.models import Department

        (await s.get_one(Department, dept.id)).head_user_id = head.id
    channel = await make_channel(sessions, url="http://127.0.0.1:9/hooks/none")
    return Org(head, director, manager, assignee, orphan, channel)


class World:
    """Drive tasks and the sweep with one injected clock."""

    def __init__(self, sessions: Any, clock: FrozenClock) -> None:
        self.sessions, self.clock = sessions, clock

    def at(self, iso: str) -> datetime:
        self.clock.set(datetime.fromisoformat(iso))
        return self.clock.now()

    async def create(self, **data: Any) -> Task:
        async with unit_of_work(self.sessions) as s:
            return await create_task(
                s, actor=SYSTEM, data=TaskCreate(**{"title": "写方案", **data}), now=self.clock.now()
            )

    async def update(self, task: Task, **changes: Any) -> Task:
        async with unit_of_work(self.sessions) as s:
            return await update_task(
                s, actor=SYSTEM, task_id=task.id, changes=TaskUpdate(**changes), now=self.clock.now()
            )

    async def delete(self, task: Task) -> None:
        async with unit_of_work(self.sessions) as s:
            await delete_task(s, actor=SYSTEM, task_id=task.id, now=self.clock.now())

    async def sweep(self, iso: str | None = None) -> SweepResult:
        if iso:
            self.at(iso)
        total = SweepResult()
        while True:
            async with unit_of_work(self.sessions) as s:
                r = await sweep_due_timers(s, now=self.clock.now(), batch_size=100)
            total.claimed += r.claimed
            total.fired += r.fired
            total.notification_ids += r.notification_ids
            if r.claimed < 100:
                return total

    async def timers(self, task: Task) -> list[SlaTimer]:
        async with unit_of_work(self.sessions) as s:
            return list(await s.scalars(select(SlaTimer).where(SlaTimer.subject_id == task.id).order_by(SlaTimer.id)))

    async def escalations(self, task: Task) -> list[Escalation]:
        async with unit_of_work(self.sessions) as s:
            return list(
                await s.scalars(select(Escalation).where(Escalation.subject_id == task.id).order_by(Escalation.id))
            )

    async def notifications(self, task: Task) -> list[Notification]:
        async with unit_of_work(self.sessions) as s:
            return list(
                await s.scalars(
                    select(Notification).where(Notification.subject_id == task.id).order_by(Notification.id)
                )
            )


@pytest.fixture
def world(sessions, clock) -> World:
    return World(sessions, clock)
