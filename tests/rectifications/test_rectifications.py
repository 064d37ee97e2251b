"""Rectification items (整改措施): the first subject type added through the registry — its own
package, one registration, one migration — timed and escalated like every other: breach → the
owner, then the owner's manager; done by the owner, verified by someone else, reopened with a reason."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import Escalation, SlaTimer
from shared.sla.engine import sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import auth, make_channel, make_department, make_token, make_user

T0 = "2025-03-04T10:00:00+08:00"  # a Tuesday
DUE = "2025-03-05T10:00:00+08:00"  # Wednesday 10:00


def at(clock, iso: str) -> datetime:
    clock.set(datetime.fromisoformat(iso))
    return clock.now()


async def sweep(sessions, clock, iso: str) -> int:
    at(clock, iso)
    async with unit_of_work(sessions) as s:
        return (await sweep_due_timers(s, now=clock.now(), batch_size=100)).fired


async def escalations(sessions, item_id: int) -> list[Escalation]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(Escalation)
                .where(Escalation.subject_type == "rectification", Escalation.subject_id == item_id)
                .order_by(Escalation.id)
            )
        )


@pytest.fixture
async def org(sessions):
    dept = await make_department(sessions, name="市场部")
    manager = await make_user(sessions, name="李经理", department_id=dept.id)
    owner = await make_user(sessions, name="张策划", department_id=dept.id, manager_id=manager.id)
    lead = await make_user(sessions, name="王主管", department_id=dept.id)
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)  # seeds every registered type's default policy, rectification's too
    await make_channel(sessions, url="http://127.0.0.1:9/hooks/none")
    tokens = {}
    for name, user in (("manager", manager), ("owner", owner), ("lead", lead)):
        _, token = await make_token(sessions, user=user)
        tokens[name] = {"Authorization": f"Bearer {token}"}
    return {"owner": owner, "manager": manager, "lead": lead, "tokens": tokens}


async def create(client, org, **extra) -> dict:
    body = {"title": "复盘：投放素材审核过慢 → 预审清单", "owner_id": org["owner"].id, "due_at": DUE, **extra}
    r = await client.post("/api/v1/rectifications", headers=org["tokens"]["lead"], json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_an_item_gets_its_deadline_and_breach_goes_to_owner_then_manager(client, sessions, clock, org):
    at(clock, T0)
    item = await create(client, org)
    assert item["status"] == "open"
    (timer,) = item["sla"]
    assert timer["state"] == "running"
    assert datetime.fromisoformat(timer["due_at"]) == datetime.fromisoformat(DUE)

    await sweep(sessions, clock, "2025-03-05T10:00:01+08:00")  # the breach
    breach = [e for e in await escalations(sessions, item["id"]) if e.kind == "breach"]
    assert [r["user_id"] for r in breach[0].recipients] == [org["owner"].id]

    await sweep(sessions, clock, "2025-03-05T14:00:01+08:00")  # +4 working hours: the owner's manager
    escalated = [e for e in await escalations(sessions, item["id"]) if e.kind == "escalation"]
    assert [r["user_id"] for r in escalated[0].recipients] == [org["manager"].id]
    assert (await client.get("/api/v1/rectifications?overdue=true", headers=org["tokens"]["lead"])).json()["items"][0][
        "id"
    ] == item["id"]


async def test_done_meets_the_deadline_and_only_someone_else_verifies(client, sessions, clock, org):
    at(clock, T0)
    item = await create(client, org)
    url = f"/api/v1/rectifications/{item['id']}"
    r = await client.post(f"{url}/done", headers=org["tokens"]["lead"])
    assert r.status_code == 403  # the creator does not finish the owner's work for them
    done = await client.post(f"{url}/done", headers=org["tokens"]["owner"])
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert done.json()["sla"][0]["state"] == "met"
    assert (await client.post(f"{url}/verify", headers=org["tokens"]["owner"])).status_code == 403
    verified = await client.post(f"{url}/verify", headers=org["tokens"]["manager"])
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified_by"] == org["manager"].id
    assert (await client.post(f"{url}/verify", headers=org["tokens"]["manager"])).status_code == 409


async def test_reopening_starts_a_fresh_deadline_and_keeps_the_reason_on_the_trail(client, sessions, clock, org):
    at(clock, T0)
    item = await create(client, org, due_at=None)
    url = f"/api/v1/rectifications/{item['id']}"
    await client.post(f"{url}/done", headers=org["tokens"]["owner"])
    at(clock, "2025-03-06T09:30:00+08:00")
    r = await client.post(f"{url}/reopen", headers=org["tokens"]["manager"], json={"reason": "清单未覆盖外包素材"})
    assert r.status_code == 200 and r.json()["status"] == "open"
    running = [t for t in r.json()["sla"] if t["state"] == "running"]
    assert len(running) == 1  # 5 working days from the reopening (the policy's target)
    assert datetime.fromisoformat(running[0]["due_at"]) == datetime.fromisoformat("2025-03-13T09:30:00+08:00")
    trail = (await client.get(f"/api/v1/trail/rectification/{item['id']}", headers=org["tokens"]["lead"])).json()
    reopen = next(e for e in trail["entries"] if e["action"] == "rectification.reopen")
    assert reopen["details"]["after"]["reason"] == "清单未覆盖外包素材"
    async with unit_of_work(sessions) as s:
        states = sorted(t.state for t in await s.scalars(select(SlaTimer).where(SlaTimer.subject_id == item["id"])))
    assert states == ["met", "running"]


async def test_bad_input_names_the_field_and_writes_nothing(client, sessions, org):
    admin = await auth(sessions)
    r = await client.post("/api/v1/rectifications", headers=admin, json={"title": "x", "owner_id": 999999})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.owner_id"
    r = await client.post(
        "/api/v1/rectifications",
        headers=admin,
        json={"title": "x", "owner_id": org["owner"].id, "due_at": "2099-01-01T00:00:00Z"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.due_at"
    assert (await client.get("/api/v1/rectifications", headers=admin)).json()["items"] == []
