"""An org for the KPI tests: a campaign owned by a marketing manager, a planner who owns its KPIs,
the seeded defaults (metric catalogue, the kpi_variance policy), and helpers that move the injected
clock, sweep and open rectification items as the worker would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from shared.clock import FrozenClock
from shared.db import unit_of_work
from shared.kpis.service import rectify_breached
from shared.models import Campaign, CampaignStatus, Department, Escalation, Role, User
from shared.sla.engine import sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import make_department, make_token, make_user

T0 = "2025-03-04T10:00:00+08:00"  # a Tuesday morning: 2 working days later is Thursday 10:00


@dataclass
class Org:
    department: Department
    manager: User  # owns the campaign
    planner: User  # owns the KPIs
    outsider: User  # a member of another department
    campaign: Campaign
    tokens: dict[str, dict[str, str]]

    @property
    def kpis_url(self) -> str:
        return f"/api/v1/campaigns/{self.campaign.id}/kpis"


@pytest.fixture
async def org(sessions, clock) -> Org:
    clock.set(datetime.fromisoformat(T0))
    dept = await make_department(sessions, name="市场部")
    other = await make_department(sessions, name="销售部")
    manager = await make_user(sessions, name="李经理", department_id=dept.id, role=Role.manager)
    planner = await make_user(sessions, name="张策划", department_id=dept.id, manager_id=manager.id)
    outsider = await make_user(sessions, name="王销售", department_id=other.id)
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)  # the metric catalogue and the kpi_variance policy
        campaign = Campaign(name="双十一大促", owner_id=manager.id, department_id=dept.id, status=CampaignStatus.active)
        s.add(campaign)
        await s.flush()
    tokens = {}
    for name, user in (("manager", manager), ("planner", planner), ("outsider", outsider)):
        _, token = await make_token(sessions, user=user)
        tokens[name] = {"Authorization": f"Bearer {token}"}
    return Org(dept, manager, planner, outsider, campaign, tokens)


class World:
    """Move the one injected clock (the API's too), sweep and rectify as the worker would."""

    def __init__(self, sessions: Any, clock: FrozenClock) -> None:
        self.sessions, self.clock = sessions, clock

    def at(self, iso: str) -> datetime:
        self.clock.set(datetime.fromisoformat(iso))
        return self.clock.now()

    async def sweep(self, iso: str | None = None) -> int:
        if iso:
            self.at(iso)
        async with unit_of_work(self.sessions) as s:
            return (await sweep_due_timers(s, now=self.clock.now(), batch_size=100)).fired

    async def rectify(self) -> int:
        async with unit_of_work(self.sessions) as s:
            return await rectify_breached(s, now=self.clock.now())

    async def escalations(self, variance_id: int) -> list[Escalation]:
        async with unit_of_work(self.sessions) as s:
            return list(
                await s.scalars(
                    select(Escalation)
                    .where(Escalation.subject_type == "kpi_variance", Escalation.subject_id == variance_id)
                    .order_by(Escalation.id)
                )
            )


@pytest.fixture
def world(sessions, clock) -> World:
    return World(sessions, clock)


async def add_kpi(client, org: Org, **body) -> dict:
    r = await client.post(org.kpis_url, headers=org.tokens["manager"], json={"owner_id": org.planner.id, **body})
    assert r.status_code == 201, r.text
    return r.json()


async def read(client, org: Org, kpi: dict, value: str, **extra) -> dict:
    r = await client.post(
        f"{org.kpis_url}/{kpi['id']}/readings", headers=org.tokens["planner"], json={"value": value, **extra}
    )
    assert r.status_code == 201, r.text
    return (await client.get(f"{org.kpis_url}/{kpi['id']}", headers=org.tokens["planner"])).json()
