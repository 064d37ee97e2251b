"""Rectification items (整改措施): the first subject type added through the registry — its own
package, one registration, one migration — timed and escalated like every other: breach → the
owner, then the owner's manager; done by the owner, verified by someone else, reopened with a reason."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import Campaign, ChannelKind, Escalation, SlaTimer
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.sla.engine import sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import auth, make_channel, make_department, make_token, make_user
from tests.notify.helpers import make_dispatcher

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
    director = await make_user(sessions, name="王总监", department_id=dept.id)
    manager = await make_user(sessions, name="李经理", department_id=dept.id, manager_id=director.id)
    owner = await make_user(sessions, name="张策划", department_id=dept.id, manager_id=manager.id)
    lead = await make_user(sessions, name="王主管", department_id=dept.id)
    campaign_owner = await make_user(sessions, name="赵负责人", department_id=dept.id)
    async with unit_of_work(sessions) as s:
        campaign = Campaign(name="双十一大促", owner_id=campaign_owner.id, department_id=dept.id)
        s.add(campaign)
        await s.flush()
        campaign_id = campaign.id
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)  # seeds every registered type's default policy, rectification's too
    await make_channel(sessions, url="http://127.0.0.1:9/hooks/none")
    tokens = {}
    for name, user in (("manager", manager), ("owner", owner), ("lead", lead), ("campaign_owner", campaign_owner)):
        _, token = await make_token(sessions, user=user)
        tokens[name] = {"Authorization": f"Bearer {token}"}
    return {
        "owner": owner,
        "manager": manager,
        "director": director,
        "lead": lead,
        "campaign_owner": campaign_owner,
        "campaign_id": campaign_id,
        "dept": dept,
        "tokens": tokens,
    }


async def create(client, org, **extra) -> dict:
    body = {"title": "复盘：投放素材审核过慢 → 预审清单", "owner_id": org["owner"].id, "due_at": DUE, **extra}
    r = await client.post("/api/v1/rectifications", headers=org["tokens"]["lead"], json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_an_item_gets_its_deadline_and_breach_goes_to_owner_and_manager_then_director(
    client, sessions, clock, org
):
    at(clock, T0)
    item = await create(client, org)
    assert item["status"] == "open"
    (timer,) = item["sla"]
    assert timer["state"] == "running"
    assert datetime.fromisoformat(timer["due_at"]) == datetime.fromisoformat(DUE)

    await sweep(sessions, clock, "2025-03-05T10:00:01+08:00")  # the breach
    breach = [e for e in await escalations(sessions, item["id"]) if e.kind == "breach"]
    assert [r["user_id"] for r in breach[0].recipients] == [org["owner"].id, org["manager"].id]

    await sweep(sessions, clock, "2025-03-05T14:00:01+08:00")  # +4 working hours: the director
    escalated = [e for e in await escalations(sessions, item["id"]) if e.kind == "escalation"]
    assert [r["user_id"] for r in escalated[0].recipients] == [org["director"].id]
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
        json={"title": "x", "owner_id": org["owner"].id, "due_at": "2101-01-01T00:00:00Z"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.due_at"
    assert (await client.get("/api/v1/rectifications", headers=admin)).json()["items"] == []


async def test_fields_and_a_deadline_of_any_target_kind(client, clock, org):
    at(clock, T0)
    item = await create(
        client,
        org,
        due_at=None,
        deadline={"kind": "working_hours", "value": "PT8H"},
        source="retrospective",
        campaign_id=org["campaign_id"],
        problem="投放素材审核平均 3 天",
        measure="建立素材预审清单",
        acceptance_criteria="下次活动素材审核 ≤ 1 个工作日",
    )
    assert item["source"] == "retrospective" and item["source_id"] is None
    assert item["problem"] == "投放素材审核平均 3 天" and item["measure"] == "建立素材预审清单"
    assert item["acceptance_criteria"] == "下次活动素材审核 ≤ 1 个工作日"
    assert item["deadline"] == {"kind": "working_hours", "value": "PT8H"}
    (timer,) = item["sla"]  # 8 working hours from Tuesday 10:00 → Tuesday 18:00 (09:00–18:00 working time)
    assert datetime.fromisoformat(timer["due_at"]) == datetime.fromisoformat("2025-03-04T18:00:00+08:00")


async def test_bad_deadline_or_source_names_the_field(client, clock, org):
    at(clock, T0)
    base = {"title": "x", "owner_id": org["owner"].id}
    headers = org["tokens"]["lead"]
    r = await client.post(
        "/api/v1/rectifications", headers=headers, json={**base, "deadline": {"kind": "working_hours", "value": "8"}}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.deadline.value", r.text
    r = await client.post("/api/v1/rectifications", headers=headers, json={**base, "source": "rumour"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.source"
    both = {**base, "due_at": DUE, "deadline": {"kind": "working_days", "value": "2"}}
    r = await client.post("/api/v1/rectifications", headers=headers, json=both)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.deadline"
    assert (await client.get("/api/v1/rectifications", headers=headers)).json()["items"] == []


async def test_in_progress_keeps_the_timer_running_and_only_the_campaign_owner_or_manager_verifies(
    client, sessions, clock, org
):
    at(clock, T0)
    item = await create(client, org, campaign_id=org["campaign_id"])
    url = f"/api/v1/rectifications/{item['id']}"
    started = await client.post(f"{url}/start", headers=org["tokens"]["owner"])
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    assert started.json()["sla"][0]["state"] == "running"
    assert (await client.post(f"{url}/start", headers=org["tokens"]["owner"])).status_code == 409
    await sweep(sessions, clock, "2025-03-05T10:00:01+08:00")  # still in progress past its due date: breached
    assert [e.kind for e in await escalations(sessions, item["id"])][-1] == "breach"
    done = await client.post(f"{url}/done", headers=org["tokens"]["owner"])
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert (await client.post(f"{url}/verify", headers=org["tokens"]["owner"])).status_code == 403
    assert (await client.post(f"{url}/verify", headers=org["tokens"]["lead"])).status_code == 403  # the creator
    verified = await client.post(f"{url}/verify", headers=org["tokens"]["campaign_owner"])
    assert verified.status_code == 200 and verified.json()["verified_by"] == org["campaign_owner"].id


async def test_a_campaign_counts_its_items_and_a_department_lists_what_is_overdue(client, sessions, clock, org):
    at(clock, T0)
    cid = org["campaign_id"]
    late = await create(client, org, campaign_id=cid)
    going = await create(client, org, campaign_id=cid, due_at="2025-03-10T10:00:00+08:00")
    checked = await create(client, org, campaign_id=cid, due_at="2025-03-10T10:00:00+08:00")
    elsewhere_dept = await make_department(sessions, name="销售部")
    stranger = await make_user(sessions, name="孙销售", department_id=elsewhere_dept.id)
    await create(client, org, owner_id=stranger.id)  # overdue too, but another department's and no campaign
    await client.post(f"/api/v1/rectifications/{going['id']}/start", headers=org["tokens"]["owner"])
    await client.post(f"/api/v1/rectifications/{checked['id']}/done", headers=org["tokens"]["owner"])
    await client.post(f"/api/v1/rectifications/{checked['id']}/verify", headers=org["tokens"]["manager"])
    await sweep(sessions, clock, "2025-03-05T10:00:01+08:00")

    r = await client.get(f"/api/v1/campaigns/{cid}/rectifications", headers=org["tokens"]["lead"])
    assert r.status_code == 200
    assert r.json() == {"campaign_id": cid, "open": 1, "in_progress": 1, "done": 0, "verified": 1, "overdue": 1}
    assert (
        await client.get("/api/v1/campaigns/999999/rectifications", headers=org["tokens"]["lead"])
    ).status_code == 404

    dept = org["dept"].id
    r = await client.get(f"/api/v1/rectifications?department_id={dept}&overdue=true", headers=org["tokens"]["lead"])
    assert [i["id"] for i in r.json()["items"]] == [late["id"]]


async def test_a_breached_item_reaches_the_departments_chat_group(
    settings, sessions, client, clock, arq_redis, botsim, org
):
    botsim.add_bots({"market": {"kind": "dingtalk"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[org["dept"].id]
    )
    at(clock, T0)
    item = await create(client, org, source="retrospective", problem="素材审核过慢")
    assert await sweep(sessions, clock, "2025-03-05T10:00:01+08:00") >= 1
    async with Sender() as http:
        await drain(make_dispatcher(settings, sessions, arq_redis, http, SystemClock()), channel.id)
    breach = str(botsim.messages("market")[-1]["body"])
    assert "已超时" in breach and "复盘：投放素材审核过慢 → 预审清单" in breach
    assert f"/api/v1/rectifications/{item['id']}" in breach
    assert botsim.stats()["market"].get("rejected", {}) == {}
