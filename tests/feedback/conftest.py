"""An org with a management chain and the seeded feedback/complaint SLA policies; helpers to move
the injected clock, sweep, and read what fired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from shared.clock import FrozenClock
from shared.db import unit_of_work
from shared.models import Department, Escalation, Feedback, SlaPolicy, SlaTimer, User
from shared.sla.engine import SweepResult, sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import make_channel, make_department, make_user

PUBLIC = "http://closeloop.test"
T0 = "2025-03-04T10:00:00+08:00"  # a Tuesday morning; the feedback targets are calendar time anyway


@dataclass
class Org:
    department: Department
    head: User
    director: User
    manager: User
    owner: User  # handles the feedback; reports to manager, who reports to director


@pytest.fixture
async def org(sessions) -> Org:
    dept = await make_department(sessions, name="客服部")
    head = await make_user(sessions, name="赵部长", department_id=dept.id)
    director = await make_user(sessions, name="王总监", department_id=dept.id)
    manager = await make_user(sessions, name="李经理", department_id=dept.id, manager_id=director.id)
    owner = await make_user(sessions, name="张客服", department_id=dept.id, manager_id=manager.id)
    async with unit_of_work(sessions) as s:
        (await s.get_one(Department, dept.id)).head_user_id = head.id
        await ensure_workflow_defaults(s)  # the seeded feedback (24 h) and complaint (2 h) policies
    await make_channel(sessions, url="http://127.0.0.1:9/hooks/none")
    async with unit_of_work(sessions) as s:
        dept = await s.get_one(Department, dept.id)
    return Org(dept, head, director, manager, owner)


class World:
    """Move the one injected clock (the API's too) and sweep as the worker would."""

    def __init__(self, sessions: Any, clock: FrozenClock) -> None:
        self.sessions, self.clock = sessions, clock

    def at(self, iso: str) -> datetime:
        self.clock.set(datetime.fromisoformat(iso))
        return self.clock.now()

    async def sweep(self, iso: str | None = None) -> SweepResult:
        if iso:
            self.at(iso)
        total = SweepResult()
        while True:
            async with unit_of_work(self.sessions) as s:
                r = await sweep_due_timers(s, now=self.clock.now(), batch_size=100)
            total.claimed += r.claimed
            total.fired += r.fired
            if r.claimed < 100:
                return total

    async def timers(self, feedback_id: int) -> list[SlaTimer]:
        async with unit_of_work(self.sessions) as s:
            return list(
                await s.scalars(
                    select(SlaTimer)
                    .where(SlaTimer.subject_type == "feedback", SlaTimer.subject_id == feedback_id)
                    .order_by(SlaTimer.id)
                )
            )

    async def escalations(self, feedback_id: int) -> list[Escalation]:
        async with unit_of_work(self.sessions) as s:
            return list(
                await s.scalars(
                    select(Escalation)
                    .where(Escalation.subject_type == "feedback", Escalation.subject_id == feedback_id)
                    .order_by(Escalation.id)
                )
            )

    async def feedback_rows(self) -> list[Feedback]:
        async with unit_of_work(self.sessions) as s:
            return list(await s.scalars(select(Feedback).order_by(Feedback.id)))

    async def policy(self, tag: str, target_value: str) -> SlaPolicy:
        async with unit_of_work(self.sessions) as s:
            policies = await s.scalars(select(SlaPolicy).where(SlaPolicy.subject_type == "feedback"))
            return next(p for p in policies if p.conditions.get("tags") == [tag] and p.target_value == target_value)


@pytest.fixture
def world(sessions, clock) -> World:
    world = World(sessions, clock)
    world.at(T0)
    return world
