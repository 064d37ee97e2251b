"""A campaign on the default template: stages under SLA, gates, hold / resume / cancel."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import Role, SlaTimer, TimerState
from shared.sla.engine import sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import auth, make_channel, make_department, make_token, make_user

T = datetime.fromisoformat


@pytest.fixture
async def setup(sessions):
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    dept = await make_department(sessions, name="市场部")
    director = await make_user(sessions, name="王总监", department_id=dept.id)
    manager = await make_user(sessions, name="李经理", department_id=dept.id, manager_id=director.id)
    planner = await make_user(sessions, name="张策划", department_id=dept.id, manager_id=manager.id)
    researcher = await make_user(sessions, name="陈调研", department_id=dept.id, manager_id=manager.id)
    await make_channel(sessions, url="http://127.0.0.1:9/hooks/market", department_ids=[dept.id])
    return {"dept": dept, "planner": planner, "researcher": researcher, "manager": manager}


async def member_of(sessions, user) -> dict[str, str]:
    """A token of someone in the campaign's department (their own work is theirs to do)."""
    _, token = await make_token(sessions, user=user)
    return {"Authorization": f"Bearer {token}"}


async def start(client, headers, setup, **extra):
    r = await client.post(
        "/api/v1/campaigns",
        headers=headers,
        json={
            "name": "双十一大促",
            "owner_id": setup["planner"].id,
            "department_id": setup["dept"].id,
            "template_key": "campaign_default",
            "stage_owners": {"research": setup["researcher"].id},
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


async def stages(client, headers, campaign_id):
    r = await client.get(f"/api/v1/campaigns/{campaign_id}/stages", headers=headers)
    assert r.status_code == 200, r.text
    return {s["key"]: s for s in r.json()["items"]}


async def timers(sessions, stage_id):
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(SlaTimer)
                .where(SlaTimer.subject_type == "campaign_stage", SlaTimer.subject_id == stage_id)
                .order_by(SlaTimer.id)
            )
        )


async def test_first_stage_starts_under_its_own_limit_across_national_day(sessions, client, clock, setup):
    headers = await member_of(sessions, setup["planner"])
    clock.set(T("2025-09-30T10:00:00+08:00"))
    campaign = await start(client, headers, setup)
    assert campaign["status"] == "active" and campaign["template_id"] is not None
    by_key = await stages(client, headers, campaign["id"])
    research = by_key["research"]
    assert research["status"] == "active" and research["owner_id"] == setup["researcher"].id
    assert by_key["plan"]["status"] == "pending" and by_key["plan"]["owner_id"] == setup["planner"].id
    (timer,) = research["sla"]
    # 3 working days: Oct 1–8 off, Oct 9, Oct 10, and Saturday Oct 11 (a make-up workday).
    assert T(timer["due_at"]) == T("2025-10-11T10:00:00+08:00")
    assert timer["target"] == {"kind": "working_days", "value": "3"}
    assert by_key["plan"]["sla"] == []
    assert {e["field"] for e in research["gate_unmet"]} == {
        "deliverables.research_report",
        "checklist.competitors",
        "checklist.pain_point",
    }


async def test_the_gate_lists_every_unmet_condition_then_lets_the_stage_go(sessions, client, clock, setup):
    headers = await member_of(sessions, setup["planner"])
    clock.set(T("2026-03-02T09:00:00+08:00"))  # a Monday
    campaign = await start(client, headers, setup)
    cid = campaign["id"]
    base = f"/api/v1/campaigns/{cid}/stages/research"
    r = await client.post(f"{base}/advance", headers=headers)
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in r.json()["errors"]} == {
        "deliverables.research_report",
        "checklist.competitors",
        "checklist.pain_point",
    }
    r = await client.post(
        f"{base}/deliverables",
        headers=headers,
        json={"title": "需求调研报告 v1", "url": "https://docs.example.com/r1", "deliverable_key": "research_report"},
    )
    assert r.status_code == 201, r.text
    r = await client.put(f"{base}/checklist/competitors", headers=headers, json={"note": "A、B、C 三家"})
    assert r.status_code == 200
    r = await client.post(f"{base}/advance", headers=headers)
    assert r.status_code == 409 and [e["field"] for e in r.json()["errors"]] == ["checklist.pain_point"]
    await client.put(f"{base}/checklist/pain_point", headers=headers, json={"done": True})
    clock.set(T("2026-03-03T15:30:00+08:00"))
    r = await client.post(f"{base}/advance", headers=headers)
    assert r.status_code == 200, r.text
    left, entered = r.json()["left"], r.json()["entered"]
    assert left["status"] == "done" and left["cycle_s"] == (30 * 3600 + 1800)
    assert left["sla"][0]["state"] == "met"
    assert entered["key"] == "plan" and entered["status"] == "active"
    assert T(entered["sla"][0]["due_at"]) == T("2026-03-10T15:30:00+08:00")  # 5 working days
    assert (await client.post(f"{base}/advance", headers=headers)).status_code == 409  # not active any more


async def test_bad_stage_input_is_refused_and_changes_nothing(sessions, client, clock, setup):
    headers = await member_of(sessions, setup["planner"])
    clock.set(T("2026-03-02T09:00:00+08:00"))
    cid = (await start(client, headers, setup))["id"]
    base = f"/api/v1/campaigns/{cid}/stages/research"
    r = await client.post(f"{base}/deliverables", headers=headers, json={"title": "x", "deliverable_key": "plan"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.deliverable_key"
    r = await client.post(f"{base}/deliverables", headers=headers, json={"title": "x", "url": "ftp://files"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.url"
    assert (await client.put(f"{base}/checklist/nope", headers=headers, json={})).status_code == 404
    assert (await client.post(f"/api/v1/campaigns/{cid}/stages/nope/advance", headers=headers)).status_code == 404
    assert (await stages(client, headers, cid))["research"]["deliverables"] == []
    r = await client.post("/api/v1/campaigns", headers=headers, json={"name": "x", "template_key": "does_not_exist"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.template_key"
    r = await client.post(
        "/api/v1/campaigns",
        headers=headers,
        json={"name": "x", "template_key": "campaign_default", "stage_owners": {"launch": setup["planner"].id}},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.stage_owners.launch"
    assert len((await client.get("/api/v1/campaigns", headers=headers)).json()["items"]) == 1  # only the first
    r = await client.patch(f"/api/v1/campaigns/{cid}", headers=headers, json={"status": "completed"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.status"
    r = await client.post(f"/api/v1/campaigns/{cid}/complete", headers=headers)
    assert r.status_code == 409  # a workflow completes through its last gate


async def test_hold_pauses_the_stage_clock_resume_runs_it_on_cancel_stops_it(sessions, client, clock, setup):
    headers = await member_of(sessions, setup["planner"])
    clock.set(T("2026-03-02T09:00:00+08:00"))  # Monday
    cid = (await start(client, headers, setup))["id"]
    research = (await stages(client, headers, cid))["research"]
    assert T(research["sla"][0]["due_at"]) == T("2026-03-05T09:00:00+08:00")
    clock.set(T("2026-03-02T14:00:00+08:00"))
    r = await client.post(f"/api/v1/campaigns/{cid}/hold", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "on_hold"
    (timer,) = await timers(sessions, research["id"])
    assert timer.state == TimerState.paused
    r = await client.post(f"/api/v1/campaigns/{cid}/stages/research/advance", headers=headers)
    assert r.status_code == 409 and "on hold" in r.json()["detail"]
    clock.set(T("2026-03-04T14:00:00+08:00"))  # two working days later
    assert (await client.post(f"/api/v1/campaigns/{cid}/resume", headers=headers)).status_code == 200
    (timer,) = await timers(sessions, research["id"])
    assert timer.state == TimerState.running
    # 2 working days + 4 working hours were left at the hold: from Wed 14:00 that is Fri 18:00.
    assert timer.due_at == T("2026-03-06T18:00:00+08:00")  # the held days did not count
    assert (await client.post(f"/api/v1/campaigns/{cid}/resume", headers=headers)).status_code == 409
    assert (await client.post(f"/api/v1/campaigns/{cid}/cancel", headers=headers)).status_code == 200
    (timer,) = await timers(sessions, research["id"])
    assert timer.state == TimerState.cancelled
    assert {s["status"] for s in (await stages(client, headers, cid)).values()} == {"cancelled"}


async def test_a_late_stage_escalates_to_its_owner_and_their_manager(sessions, client, clock, setup):
    headers = await member_of(sessions, setup["planner"])
    clock.set(T("2026-03-02T09:00:00+08:00"))
    cid = (await start(client, headers, setup))["id"]
    async with unit_of_work(sessions) as s:
        result = await sweep_due_timers(s, now=T("2026-03-05T09:00:00+08:00"), batch_size=100)
    assert result.fired == 2  # the 80 % warning (late) and the breach
    from shared.models import Notification

    async with unit_of_work(sessions) as s:
        (sent,) = list(await s.scalars(select(Notification)))
    assert sent.event_type == "sla.breach" and sent.subject_type == "campaign_stage"
    assert {m["name"] for m in sent.payload["mentions"]} == {"陈调研", "李经理"}
    assert sent.payload["subject"]["title"] == "双十一大促 · 需求调研"
    assert sent.payload["subject"]["path"] == f"/api/v1/campaigns/{cid}/stages/research"


async def test_tasks_can_live_inside_a_stage_of_their_campaign(sessions, client, clock, setup):
    headers = await member_of(sessions, setup["planner"])
    campaign = await start(client, headers, setup)
    other = await start(client, headers, setup, name="年货节")
    research = (await stages(client, headers, campaign["id"]))["research"]
    r = await client.post("/api/v1/tasks", headers=headers, json={"title": "竞品资料收集", "stage_id": research["id"]})
    assert r.status_code == 201, r.text
    assert (r.json()["stage_id"], r.json()["campaign_id"]) == (research["id"], campaign["id"])
    listed = await client.get("/api/v1/tasks", headers=headers, params={"stage_id": research["id"]})
    assert [t["title"] for t in listed.json()["items"]] == ["竞品资料收集"]
    for body in (
        {"title": "x", "stage_id": research["id"], "campaign_id": other["id"]},  # another campaign's stage
        {"title": "x", "stage_id": 999_999},
    ):
        r = await client.post("/api/v1/tasks", headers=headers, json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.stage_id", r.text
    assert len((await client.get("/api/v1/tasks", headers=headers)).json()["items"]) == 1


async def test_cancelling_a_campaign_cancels_its_open_tasks_reviews_approvals_and_collaboration(
    sessions, client, clock, setup
):
    headers = await member_of(sessions, setup["planner"])
    sales = await make_department(sessions, name="销售部")
    sales_head = await make_user(sessions, name="销售负责人", department_id=sales.id)
    async with unit_of_work(sessions) as s:
        from shared.models import Department

        (await s.get_one(Department, sales.id)).head_user_id = sales_head.id
        (await s.get_one(Department, setup["dept"].id)).head_user_id = setup["manager"].id
    campaign = await start(client, headers, setup)
    cid = campaign["id"]
    r = await client.post(
        "/api/v1/reviews",
        headers=headers,
        json={"title": "方案评审", "campaign_id": cid, "stage_key": "review", "reviewer_department_ids": [sales.id]},
    )
    assert r.status_code == 201, r.text
    review_id = r.json()["id"]
    r = await client.post("/api/v1/approvals", headers=headers, json={"kind": "campaign", "campaign_id": cid})
    assert r.status_code == 201, r.text
    approval_id = r.json()["id"]
    r = await client.post(
        "/api/v1/collaboration-requests",
        headers=headers,
        json={
            "matter": "线索移交",
            "collaborating_department_ids": [sales.id],
            "owner_id": sales_head.id,
            "campaign_id": cid,
            "deadline": {"kind": "daily_at", "value": "17:00"},
        },
    )
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    r = await client.post("/api/v1/tasks", headers=headers, json={"title": "物料制作", "campaign_id": cid})
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]

    assert (await client.post(f"/api/v1/campaigns/{cid}/cancel", headers=headers)).status_code == 200
    assert (await client.get(f"/api/v1/tasks/{task_id}", headers=headers)).json()["status"] == "cancelled"
    assert (await client.get(f"/api/v1/reviews/{review_id}", headers=headers)).json()["status"] == "cancelled"
    assert (await client.get(f"/api/v1/approvals/{approval_id}", headers=headers)).json()["status"] == "cancelled"
    collab = (await client.get(f"/api/v1/collaboration-requests/{request_id}", headers=headers)).json()
    assert collab["status"] == "cancelled"
    async with unit_of_work(sessions) as s:
        running = await s.scalar(
            select(func.count())
            .select_from(SlaTimer)
            .where(SlaTimer.state.in_((TimerState.running, TimerState.paused)))
        )
    assert running == 0  # nothing keeps chasing anyone
    r = await client.post(
        "/api/v1/reviews",
        headers=headers,
        json={"title": "再评审", "campaign_id": cid, "stage_key": "review", "reviewer_department_ids": [sales.id]},
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "campaign_id"


async def custom_template(sessions, client, key, stages, **extra):
    r = await client.post(
        "/api/v1/workflow-templates",
        headers=await auth(sessions, role=Role.director),
        json={"key": key, "name": key, "stages": stages, **extra},
    )
    assert r.status_code == 201, r.text


async def running_timers(sessions) -> int:
    async with unit_of_work(sessions) as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(SlaTimer)
                .where(SlaTimer.state.in_((TimerState.running, TimerState.paused)))
            )
            or 0
        )


async def test_a_stage_that_requires_approval_to_enter_is_not_entered_before_it(sessions, client, clock, setup):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    await custom_template(
        sessions,
        client,
        "launch_flow",
        [{"key": "prepare", "name": "准备"}, {"key": "launch", "name": "上线", "requires_approval_to_enter": True}],
    )
    legal = await make_user(sessions, name="法务")
    _, legal_token = await make_token(sessions, user=legal)
    r = await client.post(
        "/api/v1/approval-rules",
        headers=await auth(sessions, role=Role.director),
        json={
            "name": "上线前法务审核",
            "kind": "stage",
            "priority": 10,
            "conditions": {"stage_keys": ["launch"]},
            "steps": [{"name": "法务", "mode": "one", "approvers": [f"user:{legal.id}"]}],
        },
    )
    assert r.status_code == 201, r.text
    headers = await member_of(sessions, setup["planner"])
    cid = (await start(client, headers, setup, template_key="launch_flow", stage_owners={}))["id"]
    advance = f"/api/v1/campaigns/{cid}/stages/prepare/advance"

    r = await client.post(advance, headers=headers)
    assert r.status_code == 409, r.text
    (unmet,) = r.json()["errors"]
    assert unmet["field"] == "entry_approval.launch" and "no approval requested yet" in unmet["message"]
    assert [e["field"] for e in (await stages(client, headers, cid))["prepare"]["gate_unmet"]] == [
        "entry_approval.launch"
    ]
    r = await client.post(
        "/api/v1/approvals", headers=headers, json={"kind": "stage", "campaign_id": cid, "stage_key": "launch"}
    )
    assert r.status_code == 201, r.text
    approval_id = r.json()["id"]
    r = await client.post(advance, headers=headers)
    assert r.status_code == 409 and "still pending" in r.json()["errors"][0]["message"]
    assert (await stages(client, headers, cid))["launch"]["status"] == "pending"

    r = await client.post(
        f"/api/v1/approvals/{approval_id}/decision",
        headers={"Authorization": f"Bearer {legal_token}"},
        json={"decision": "approve"},
    )
    assert r.status_code == 200, r.text
    r = await client.post(advance, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["entered"]["key"] == "launch"
    # Once in, leaving the approved stage asks nothing more of the approval.
    r = await client.post(f"/api/v1/campaigns/{cid}/stages/launch/advance", headers=headers)
    assert r.status_code == 200, r.text


async def test_the_last_gate_waits_for_the_campaigns_open_tasks(sessions, client, clock, setup):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    await custom_template(sessions, client, "one_step", [{"key": "only", "name": "唯一阶段"}])
    headers = await member_of(sessions, setup["planner"])
    cid = (await start(client, headers, setup, template_key="one_step", stage_owners={}))["id"]
    only = (await stages(client, headers, cid))["only"]
    tasks = []
    for body in ({"title": "投放复核", "stage_id": only["id"]}, {"title": "素材归档", "campaign_id": cid}):
        r = await client.post("/api/v1/tasks", headers=headers, json=body)
        assert r.status_code == 201, r.text
        tasks.append(r.json()["id"])

    advance = f"/api/v1/campaigns/{cid}/stages/only/advance"
    r = await client.post(advance, headers=headers)
    assert r.status_code == 409, r.text
    assert [e["field"] for e in r.json()["errors"]] == [f"tasks.{tasks[0]}", f"tasks.{tasks[1]}"]
    assert "投放复核" in r.json()["errors"][0]["message"]
    for task_id, status in zip(tasks, ("done", "cancelled"), strict=True):
        r = await client.patch(f"/api/v1/tasks/{task_id}", headers=headers, json={"status": status})
        assert r.status_code == 200, r.text
    r = await client.post(advance, headers=headers)
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/campaigns/{cid}", headers=headers)).json()["status"] == "completed"
    assert await running_timers(sessions) == 0


async def test_completing_a_campaign_stops_everything_still_running_on_it(sessions, client, clock, setup):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    await custom_template(
        sessions, client, "cancel_leftovers", [{"key": "only", "name": "唯一阶段"}], open_tasks_at_completion="cancel"
    )
    headers = await member_of(sessions, setup["planner"])
    async with unit_of_work(sessions) as s:
        from shared.models import Department

        (await s.get_one(Department, setup["dept"].id)).head_user_id = setup["manager"].id
    cid = (await start(client, headers, setup, template_key="cancel_leftovers", stage_owners={}))["id"]
    r = await client.post("/api/v1/tasks", headers=headers, json={"title": "投放复核", "campaign_id": cid})
    task_id = r.json()["id"]
    r = await client.post(
        "/api/v1/reviews",
        headers=headers,
        json={
            "title": "复盘评审",
            "campaign_id": cid,
            "stage_key": "only",
            "reviewer_user_ids": [setup["researcher"].id],
        },
    )
    assert r.status_code == 201, r.text
    review_id = r.json()["id"]
    r = await client.post("/api/v1/approvals", headers=headers, json={"kind": "campaign", "campaign_id": cid})
    assert r.status_code == 201, r.text
    approval_id = r.json()["id"]
    assert await running_timers(sessions) >= 4  # stage, task, review, reviewer, approver

    clock.set(T("2026-03-02T11:00:00+08:00"))
    r = await client.post(f"/api/v1/campaigns/{cid}/stages/only/advance", headers=headers)
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/campaigns/{cid}", headers=headers)).json()["status"] == "completed"
    assert (await client.get(f"/api/v1/tasks/{task_id}", headers=headers)).json()["status"] == "cancelled"
    assert (await client.get(f"/api/v1/reviews/{review_id}", headers=headers)).json()["status"] == "cancelled"
    assert (await client.get(f"/api/v1/approvals/{approval_id}", headers=headers)).json()["status"] == "cancelled"
    assert await running_timers(sessions) == 0  # nothing keeps chasing anyone about a finished campaign
