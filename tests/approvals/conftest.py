"""An org with a marketing and a finance department, a leadership group, and API helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from shared import crud
from shared.db import unit_of_work
from shared.models import Campaign, Department, Role, User
from shared.sla.engine import sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import SYSTEM, make_channel, make_department, make_token, make_user

PUBLIC = "http://closeloop.test"
T = datetime.fromisoformat


@dataclass
class Org:
    marketing: Department
    finance: Department
    ceo: User
    cmo: User
    marketing_director: User  # head of 市场部
    finance_director: User  # head of 财务部
    manager: User
    planner: User
    legal: User
    admin: User  # an admin who approves nothing
    tokens: dict[int, str]

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user.id]}"}


@pytest.fixture
async def org(sessions, clock) -> Org:
    clock.set(T("2026-03-02T10:00:00+08:00"))  # a Monday
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    marketing = await make_department(sessions, name="市场部")
    finance = await make_department(sessions, name="财务部")
    # The leadership sees every department's work: directors.
    ceo = await make_user(sessions, name="周总裁", role=Role.director)
    cmo = await make_user(sessions, name="吴CMO", role=Role.director, manager_id=ceo.id)
    marketing_director = await make_user(
        sessions, name="王总监", department_id=marketing.id, manager_id=cmo.id, role=Role.manager
    )
    finance_director = await make_user(
        sessions, name="钱总监", department_id=finance.id, manager_id=ceo.id, role=Role.director
    )
    manager = await make_user(sessions, name="李经理", department_id=marketing.id, manager_id=marketing_director.id)
    planner = await make_user(sessions, name="张策划", department_id=marketing.id, manager_id=manager.id)
    legal = await make_user(sessions, name="郑法务", manager_id=ceo.id)
    admin = await make_user(sessions, name="系统管理员", role=Role.admin)
    async with unit_of_work(sessions) as s:
        (await s.get_one(Department, marketing.id)).head_user_id = marketing_director.id
        (await s.get_one(Department, finance.id)).head_user_id = finance_director.id
    await make_channel(sessions, url="http://127.0.0.1:9/hooks/market", department_ids=[marketing.id, finance.id])
    tokens = {}
    for user in (ceo, cmo, marketing_director, finance_director, manager, planner, legal, admin):
        tokens[user.id] = (await make_token(sessions, user=user))[1]
    return Org(
        marketing, finance, ceo, cmo, marketing_director, finance_director, manager, planner, legal, admin, tokens
    )


async def make_campaign(sessions, org: Org, **overrides: Any) -> Campaign:
    data = {
        "name": "双十一大促",
        "owner_id": org.planner.id,
        "department_id": org.marketing.id,
        "budget": Decimal("100000"),
        **overrides,
    }
    async with unit_of_work(sessions) as s:
        return await crud.create(s, actor=SYSTEM, obj=Campaign(**data), entity_type="campaign")


async def add_rule(client, org: Org, **rule: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/approval-rules", headers=org.headers(org.ceo), json=rule)
    assert r.status_code == 201, r.text
    return r.json()


async def request(client, org: Org, user: User | None = None, expect: int = 201, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/approvals", headers=org.headers(user or org.planner), json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def decide(
    client, org: Org, approval_id: int, user: User, decision: str = "approve", expect: int = 200, **extra: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/approvals/{approval_id}/decision",
        headers=org.headers(user),
        json={"decision": decision, **extra},
    )
    assert r.status_code == expect, r.text
    return r.json()


async def count(sessions, model: type) -> int:
    async with unit_of_work(sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def sweep(sessions, now: datetime) -> None:
    while True:
        async with unit_of_work(sessions) as s:
            r = await sweep_due_timers(s, now=now, batch_size=100)
        if r.claimed < 100:
            return
