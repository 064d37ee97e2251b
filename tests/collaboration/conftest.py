"""Marketing asks sales and product; default policies and the CN calendar; helpers to move the clock,
run the worker's occurrence loop and sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from shared.actor import Actor
from shared.clock import FrozenClock
from shared.collaboration import service as collaboration
from shared.collaboration.schemas import CollaborationCreate, OccurrenceCompletion
from shared.db import unit_of_work
from shared.models import (
    CollaborationOccurrence,
    CollaborationRequest,
    Department,
    Escalation,
    Role,
    SlaTimer,
    User,
)
from shared.sla.engine import sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import make_department, make_user

PUBLIC = "http://closeloop.test"


@dataclass
class Org:
    marketing: Department
    sales: Department
    product: Department
    marketer: User  # asks
    owner: User  # sales: owes the answer
    sales_head: User
    sales_colleague: User
    outsider: User  # finance: unrelated


@pytest.fixture
async def org(sessions) -> Org:
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    marketing = await make_department(sessions, name="市场部")
    sales = await make_department(sessions, name="销售部")
    product = await make_department(sessions, name="产品部")
    finance = await make_department(sessions, name="财务部")
    sales_head = await make_user(sessions, name="钱部长", department_id=sales.id)
    director = await make_user(sessions, name="孙总监", department_id=sales.id)
    manager = await make_user(sessions, name="周经理", department_id=sales.id, manager_id=director.id)
    owner = await make_user(sessions, name="吴销售", department_id=sales.id, manager_id=manager.id)
    colleague = await make_user(sessions, name="郑销售", department_id=sales.id, manager_id=manager.id)
    marketer = await make_user(sessions, name="冯市场", department_id=marketing.id)
    outsider = await make_user(sessions, name="陈会计", department_id=finance.id)
    async with unit_of_work(sessions) as s:
        (await s.get_one(Department, sales.id)).head_user_id = sales_head.id
    return Org(marketing, sales, product, marketer, owner, sales_head, colleague, outsider)


class Desk:
    """Create requests and run the worker's loop with one injected clock."""

    def __init__(self, sessions: Any, clock: FrozenClock, org: Org) -> None:
        self.sessions, self.clock, self.org = sessions, clock, org

    def at(self, iso: str) -> datetime:
        self.clock.set(datetime.fromisoformat(iso))
        return self.clock.now()

    async def create(self, **data: Any) -> CollaborationRequest:
        data = {
            "matter": "线索交接",
            "collaborating_department_ids": [self.org.sales.id],
            "owner_id": self.org.owner.id,
            "deadline": {"kind": "daily_at", "value": "17:00"},
            **data,
        }
        actor = Actor.user(self.org.marketer.id, Role.member)
        async with unit_of_work(self.sessions) as s:
            return await collaboration.create_request(
                s, actor=actor, data=CollaborationCreate.model_validate(data), now=self.clock.now()
            )

    async def open_due(self, iso: str | None = None) -> int:
        if iso:
            self.at(iso)
        async with unit_of_work(self.sessions) as s:
            return await collaboration.open_due_occurrences(s, now=self.clock.now())

    async def complete(self, request: CollaborationRequest, occurrence: CollaborationOccurrence, user: User) -> None:
        async with unit_of_work(self.sessions) as s:
            await collaboration.complete_occurrence(
                s,
                actor=Actor.user(user.id, user.role),
                request_id=request.id,
                occurrence_id=occurrence.id,
                data=OccurrenceCompletion(),
                now=self.clock.now(),
            )

    async def sweep(self, iso: str) -> None:
        self.at(iso)
        async with unit_of_work(self.sessions) as s:
            await sweep_due_timers(s, now=self.clock.now(), batch_size=100)

    async def request(self, request_id: int) -> CollaborationRequest:
        async with unit_of_work(self.sessions) as s:
            return await s.get_one(CollaborationRequest, request_id)

    async def occurrences(self, request: CollaborationRequest) -> list[CollaborationOccurrence]:
        async with unit_of_work(self.sessions) as s:
            return list(
                await s.scalars(
                    select(CollaborationOccurrence)
                    .where(CollaborationOccurrence.request_id == request.id)
                    .order_by(CollaborationOccurrence.occurrence_date)
                )
            )

    async def occurrence_on(self, request: CollaborationRequest, day: date) -> CollaborationOccurrence:
        (found,) = [o for o in await self.occurrences(request) if o.occurrence_date == day]
        return found

    async def timers(self, occurrence: CollaborationOccurrence) -> list[SlaTimer]:
        async with unit_of_work(self.sessions) as s:
            return list(
                await s.scalars(
                    select(SlaTimer)
                    .where(SlaTimer.subject_type == "collaboration", SlaTimer.subject_id == occurrence.id)
                    .order_by(SlaTimer.id)
                )
            )

    async def escalations(self, occurrence: CollaborationOccurrence) -> list[Escalation]:
        async with unit_of_work(self.sessions) as s:
            return list(
                await s.scalars(
                    select(Escalation)
                    .where(Escalation.subject_type == "collaboration", Escalation.subject_id == occurrence.id)
                    .order_by(Escalation.id)
                )
            )


@pytest.fixture
def desk(sessions, clock, org) -> Desk:
    return Desk(sessions, clock, org)
