"""A marketing requester and three reviewing departments (sales, product, design), each with a
head and a member, on the default SLA policies; helpers to act as a person and to sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import Department, User
from shared.sla.engine import sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import make_channel, make_department, make_token, make_user

PUBLIC = "http://closeloop.test"
T = datetime.fromisoformat


@dataclass
class Reviewing:
    department: Department
    head: User
    member: User


@dataclass
class Org:
    market: Department
    director: User
    manager: User
    planner: User  # the requester
    sales: Reviewing
    product: Reviewing
    design: Reviewing
    tokens: dict[int, str]

    def as_(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user.id]}"}


async def _reviewing(sessions: Any, name: str) -> Reviewing:
    dept = await make_department(sessions, name=name)
    head = await make_user(sessions, name=f"{name}负责人", department_id=dept.id)
    member = await make_user(sessions, name=f"{name}专员", department_id=dept.id, manager_id=head.id)
    async with unit_of_work(sessions) as s:
        (await s.get_one(Department, dept.id)).head_user_id = head.id
    dept.head_user_id = head.id
    return Reviewing(dept, head, member)


@pytest.fixture
async def org(sessions) -> Org:
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    market = await make_department(sessions, name="市场部")
    director = await make_user(sessions, name="王总监", department_id=market.id)
    manager = await make_user(sessions, name="李经理", department_id=market.id, manager_id=director.id)
    planner = await make_user(sessions, name="张策划", department_id=market.id, manager_id=manager.id)
    sales, product, design = [await _reviewing(sessions, n) for n in ("销售部", "产品部", "设计部")]
    await make_channel(sessions, url="http://127.0.0.1:9/hooks/reviews")
    tokens = {}
    for user in (director, manager, planner, *(x for d in (sales, product, design) for x in (d.head, d.member))):
        tokens[user.id] = (await make_token(sessions, user=user))[1]
    return Org(market, director, manager, planner, sales, product, design, tokens)


async def sweep(sessions: Any, clock: Any, iso: str) -> None:
    clock.set(T(iso))
    while True:
        async with unit_of_work(sessions) as s:
            r = await sweep_due_timers(s, now=clock.now(), batch_size=100)
        if r.claimed < 100:
            return


async def count(sessions: Any, model: Any) -> int:
    async with unit_of_work(sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)
