"""Deadline extensions (申请延期): asked through the API, decided by the item's department head;
approved → the task's due date and timer move (the old breach and its escalations stay on record);
rejected → the requester is told why, in their group."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import Approval, ApprovalKind, ApprovalStatus, Role, SlaTimer, TimerState
from shared.notify.work import WorkEvent
from tests.approvals.conftest import Org, add_rule, count, decide, make_campaign, sweep
from tests.arrival.conftest import Bots, deliver, rows
from tests.extensions.conftest import approvals, ask, make_task, task_due
from tests.factories import escalations, make_token, make_user, timers

T = datetime.fromisoformat


async def test_extend_by_counts_working_time_over_the_qingming_holiday(client, sessions, clock, org: Org):
    clock.set(T("2026-04-01T10:00:00+08:00"))
    task = await make_task(client, org, "2026-04-03T17:00:00+08:00")  # Friday before 清明
    approval = await ask(client, org, task["id"], extend_by="1d2h", reason="素材未到")
    # One working day after Fri 17:00 is Tue 17:00 (Sat, and 清明 Sun + Mon, are off), then two
    # working hours: Tue 17:00–18:00 and Wed 09:00–10:00.
    assert approval["kind"] == "extension" and approval["status"] == "pending"
    assert approval["details"] | {"rule": None} == {
        "rule": None,
        "subject_type": "task",
        "subject_id": task["id"],
        "subject_title": "双十一海报",
        "subject_path": f"/api/v1/tasks/{task['id']}",
        "calendar_id": (await timers(sessions, "task", task["id"]))[0].calendar_id,
        "due_from": "2026-04-03T17:00:00+08:00",
        "due_to": "2026-04-08T10:00:00+08:00",
        "extend_to": None,
        "extend_by": "1d2h",
        "reason": "素材未到",
        "source": "api",
        "requested_by": org.planner.id,
    }
    assert approval["title"] == "延期申请 Extension: 任务「双十一海报」2026-04-03 17:00 → 2026-04-08 10:00"
    assert approval["requester_id"] == org.planner.id and approval["department_id"] == org.marketing.id
    # The item's manager decides, under the approvers' own SLA (1 working day).
    (step,) = approval["steps"]
    assert step["approver_ids"] == [org.marketing_director.id]
    (assignment,) = step["assignments"]
    assert [(t["state"], t["due_at"]) for t in assignment["sla"]] == [("running", "2026-04-02T02:00:00Z")]
    # The approvals board lists it under kind=extension, and nothing moved yet.
    board = await client.get("/api/v1/approvals?kind=extension", headers=org.headers(org.marketing_director))
    assert [a["id"] for a in board.json()["items"]] == [approval["id"]]
    assert (await client.get("/api/v1/approvals?kind=campaign", headers=org.headers(org.ceo))).json()["items"] == []
    assert await task_due(sessions, task["id"]) == T("2026-04-03T17:00:00+08:00")


async def test_extend_to_names_the_new_deadline(client, sessions, clock, org: Org):
    task = await make_task(client, org, "2026-03-04T18:00:00+08:00")
    approval = await ask(client, org, task["id"], extend_to="2026-03-06T12:00:00+08:00", reason="等法务")
    assert (approval["details"]["due_from"], approval["details"]["due_to"]) == (
        "2026-03-04T18:00:00+08:00",
        "2026-03-06T12:00:00+08:00",
    )
    assert approval["details"]["extend_to"] == "2026-03-06T12:00:00+08:00"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"reason": "x"}, ["body.extend_to", "body.extend_by"]),
        ({"extend_by": "1d", "extend_to": "2026-03-09T18:00:00+08:00", "reason": "x"}, ["body.extend_by"]),
        ({"extend_by": "1d", "reason": "  "}, ["body.reason"]),
        ({"extend_by": "two days", "reason": "x"}, ["body.extend_by"]),
        ({"extend_by": "0h", "reason": "x"}, ["body.extend_by"]),
        ({"extend_to": "2026-03-04T17:59:00+08:00", "reason": "x"}, ["body.extend_to"]),  # earlier
        ({"extend_to": "2026-03-04T18:00:00+08:00", "reason": "x"}, ["body.extend_to"]),  # the same
        ({"extend_to": "2100-01-02T00:00:00+08:00", "reason": "x"}, ["body.extend_to"]),  # off the calendar
        ({"extend_to": "2026-03-09T18:00:00", "reason": "x"}, ["body.extend_to"]),  # no timezone
        ({"subject_type": "tsak", "extend_by": "1d", "reason": "x"}, ["body.subject_type"]),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(client, sessions, org: Org, body, fields):
    task = await make_task(client, org, "2026-03-04T18:00:00+08:00")
    r = await client.post(
        "/api/v1/extension-requests",
        headers=org.headers(org.planner),
        json={"subject_type": "task", "subject_id": task["id"], **body},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == fields
    assert await count(sessions, Approval) == 0
    (timer,) = await timers(sessions, "task", task["id"])
    assert timer.state == TimerState.running and timer.due_at == T("2026-03-04T18:00:00+08:00")


async def test_approved_moves_the_due_date_and_the_breach_fires_at_the_new_deadline(client, sessions, clock, org: Org):
    task = await make_task(client, org, "2026-03-06T18:00:00+08:00")  # Friday
    # The old deadline passes: warning and breach fire.
    clock.set(T("2026-03-06T18:00:30+08:00"))
    await sweep(sessions, clock.now())
    (old,) = await timers(sessions, "task", task["id"])
    assert [(e.level, e.kind.value) for e in await escalations(sessions, "task", task["id"])] == [
        (0, "warning"),
        (1, "breach"),
    ]
    clock.set(T("2026-03-07T10:00:00+08:00"))  # Saturday: the planner asks for two more working days
    approval = await ask(client, org, task["id"], extend_by="2d", reason="供应商延迟交付")
    assert approval["details"]["due_to"] == "2026-03-10T18:00:00+08:00"
    decided = await decide(client, org, approval["id"], org.marketing_director)
    assert decided["status"] == "approved"

    # The task's due date moved; the old timer is kept, cancelled, with its breach on record.
    assert await task_due(sessions, task["id"]) == T("2026-03-10T18:00:00+08:00")
    before, after = await timers(sessions, "task", task["id"])
    assert before.id == old.id and before.state == TimerState.cancelled
    assert before.cancel_reason == f"deadline extended by approval #{approval['id']}"
    assert before.breached_at == T("2026-03-06T18:00:00+08:00") and before.fired == ["0:0", "1:0"]
    assert after.state == TimerState.running and after.due_at == T("2026-03-10T18:00:00+08:00")
    assert after.started_at == before.started_at and after.fired == [] and after.breached_at is None
    r = await client.get(f"/api/v1/tasks/{task['id']}", headers=org.headers(org.planner))
    assert r.json()["due_at"] == "2026-03-10T10:00:00Z"
    assert [(t["state"], t["due_at"], t["breached"]) for t in r.json()["sla"]] == [
        ("running", "2026-03-10T10:00:00Z", False)
    ]

    # Nothing fires at the old repeat (Fri 18:00 + 4 working hours = Mon 13:00) …
    clock.set(T("2026-03-09T13:00:30+08:00"))
    await sweep(sessions, clock.now())
    assert len(await escalations(sessions, "task", task["id"])) == 2
    # … the breach fires at the new deadline, on the new timer; the old rows stay.
    clock.set(T("2026-03-10T17:59:59+08:00"))
    await sweep(sessions, clock.now())
    clock.set(T("2026-03-10T18:00:01+08:00"))
    await sweep(sessions, clock.now())
    fired = [
        (e.timer_id, e.level, e.kind.value, e.scheduled_at) for e in await escalations(sessions, "task", task["id"])
    ]
    assert fired[:2] == [
        (old.id, 0, "warning", fired[0][3]),
        (old.id, 1, "breach", T("2026-03-06T18:00:00+08:00")),
    ]
    assert [(f[0], f[1], f[2]) for f in fired[2:]] == [(after.id, 0, "warning"), (after.id, 1, "breach")]
    assert fired[3][3] == T("2026-03-10T18:00:00+08:00")

    # The trail says so.
    trail = (await client.get(f"/api/v1/trail/task/{task['id']}", headers=org.headers(org.planner))).json()
    extended = [e for e in trail["entries"] if e["action"] == "deadline.extend"]
    assert [e["details"]["after"]["note"] for e in extended] == [
        f"deadline extended from 2026-03-06 18:00 to 2026-03-10 18:00 by approval #{approval['id']}"
    ]


async def test_rejected_tells_the_requester_why_in_their_group(
    client, sessions, settings, arq_redis, botsim, org: Org, bots: Bots
):
    task = await make_task(client, org, "2026-03-04T18:00:00+08:00")
    approval = await ask(client, org, task["id"], extend_by="1d", reason="素材未到")
    await decide(client, org, approval["id"], org.marketing_director, "reject", reason="活动日期不能改，今天加班完成")
    assert await task_due(sessions, task["id"]) == T("2026-03-04T18:00:00+08:00")
    (timer,) = await timers(sessions, "task", task["id"])
    assert timer.state == TimerState.running and timer.due_at == T("2026-03-04T18:00:00+08:00")

    (decision,) = [r for r in await rows(sessions, WorkEvent.decision_made) if r.channel_id == bots.market.id]
    assert decision.payload["outcome"] == "rejected"
    assert [m["name"] for m in decision.payload["mentions"]] == ["张策划"]
    await deliver(settings, sessions, arq_redis, bots)
    cards = [m["body"]["card"] for m in botsim.messages("market")]
    (card,) = [c for c in cards if c["header"]["title"]["content"].startswith("已有结果")]
    assert "延期申请" in card["header"]["title"]["content"]
    assert "活动日期不能改，今天加班完成" in str(card) and "<at id=ou_zhang></at>" in str(card)
    # The head was told first that the request waits for them.
    assert any(c["header"]["title"]["content"].startswith("待你审批") for c in cards)


async def test_a_second_request_while_one_is_pending_is_a_conflict(client, sessions, org: Org):
    task = await make_task(client, org, "2026-03-04T18:00:00+08:00")
    first = await ask(client, org, task["id"], extend_by="1d", reason="素材未到")
    r = await client.post(
        "/api/v1/extension-requests",
        headers=org.headers(org.planner),
        json={"subject_type": "task", "subject_id": task["id"], "extend_by": "2d", "reason": "再加一天"},
    )
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == [
        {"field": "subject_id", "message": f"extension request #{first['id']} is pending", "type": "duplicate"}
    ]
    # Once it is decided, the next may be asked.
    await decide(client, org, first["id"], org.marketing_director, "reject", reason="不行")
    second = await ask(client, org, task["id"], extend_by="2d", reason="再加一天")
    assert [a.id for a in await approvals(sessions)] == [first["id"], second["id"]]


async def test_a_finished_or_paused_item_needs_no_more_time(client, sessions, org: Org):
    done = await make_task(client, org, "2026-03-04T18:00:00+08:00")
    r = await client.patch(f"/api/v1/tasks/{done['id']}", headers=org.headers(org.planner), json={"status": "done"})
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/extension-requests",
        headers=org.headers(org.planner),
        json={"subject_type": "task", "subject_id": done["id"], "extend_by": "1d", "reason": "x"},
    )
    assert r.status_code == 409 and r.json()["errors"][0]["message"] == "is done: a finished item needs no more time"
    blocked = await make_task(client, org, "2026-03-04T18:00:00+08:00")
    r = await client.patch(
        f"/api/v1/tasks/{blocked['id']}", headers=org.headers(org.planner), json={"status": "blocked"}
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/extension-requests",
        headers=org.headers(org.planner),
        json={"subject_type": "task", "subject_id": blocked["id"], "extend_by": "1d", "reason": "x"},
    )
    assert r.status_code == 409
    assert r.json()["errors"][0]["message"] == "its clock is paused: nothing is due while it is"
    assert await count(sessions, Approval) == 0


async def test_another_departments_member_cannot_see_the_item(client, sessions, org: Org):
    task = await make_task(client, org, "2026-03-04T18:00:00+08:00")
    outsider = await make_user(sessions, name="孙销售", department_id=org.finance.id, role=Role.member)
    _, token = await make_token(sessions, user=outsider)
    r = await client.post(
        "/api/v1/extension-requests",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject_type": "task", "subject_id": task["id"], "extend_by": "1d", "reason": "x"},
    )
    assert r.status_code == 404, r.text
    # A colleague in the department who is neither the assignee nor a manager sees it but may not ask.
    colleague = await make_user(sessions, name="赵设计", department_id=org.marketing.id, role=Role.member)
    _, token = await make_token(sessions, user=colleague)
    r = await client.post(
        "/api/v1/extension-requests",
        headers={"Authorization": f"Bearer {token}"},
        json={"subject_type": "task", "subject_id": task["id"], "extend_by": "1d", "reason": "x"},
    )
    assert r.status_code == 403, r.text
    assert await count(sessions, Approval) == 0


async def test_the_head_asking_for_themself_is_decided_by_a_director(client, sessions, org: Org):
    task = await make_task(client, org, "2026-03-04T18:00:00+08:00", user=org.marketing_director)
    approval = await ask(client, org, task["id"], user=org.marketing_director, extend_by="4h", reason="客户改需求")
    assert approval["details"]["due_to"] == "2026-03-05T13:00:00+08:00"
    assert [s["approver_ids"] for s in approval["steps"]] == [[org.ceo.id]]  # the first director
    assert approval["rule_id"] is None and "resolves to the requester" not in approval["details"]["rule"]
    assert "would have you approve your own request" in approval["details"]["fallback"]


async def test_an_extension_rule_overrides_the_chain(client, sessions, org: Org):
    await add_rule(
        client,
        org,
        name="市场部延期 法务把关",
        kind="extension",
        priority=10,
        conditions={"department_ids": [org.marketing.id]},
        steps=[{"mode": "one", "approvers": [f"user:{org.legal.id}"]}],
    )
    task = await make_task(client, org, "2026-03-04T18:00:00+08:00")
    approval = await ask(client, org, task["id"], extend_by="1d", reason="x")
    assert [s["approver_ids"] for s in approval["steps"]] == [[org.legal.id]]
    (row,) = await approvals(sessions)
    assert row.kind == ApprovalKind.extension and row.status == ApprovalStatus.pending


async def test_an_extension_is_not_asked_through_the_approvals_route(client, sessions, org: Org):
    campaign = await make_campaign(sessions, org)
    r = await client.post(
        "/api/v1/approvals", headers=org.headers(org.planner), json={"kind": "extension", "campaign_id": campaign.id}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.kind"


async def test_an_item_without_a_due_date_of_its_own_keeps_the_extended_deadline(client, sessions, org: Org):
    # A review's deadline is its policy's (2 working days): only its timer can move.
    r = await client.post(
        "/api/v1/reviews",
        headers=org.headers(org.planner),
        json={"title": "方案评审", "reviewer_user_ids": [org.manager.id, org.legal.id]},
    )
    assert r.status_code == 201, r.text
    review = r.json()
    r = await client.post(
        "/api/v1/extension-requests",
        headers=org.headers(org.planner),
        json={
            "subject_type": "review_request",
            "subject_id": review["id"],
            "extend_to": "2026-03-06T10:00:00+08:00",
            "reason": "法务出差",
        },
    )
    assert r.status_code == 201, r.text
    approval = r.json()
    assert approval["details"]["due_from"] == "2026-03-04T10:00:00+08:00"
    await decide(client, org, approval["id"], org.marketing_director)
    # One reviewer answers: the review is synced again and keeps the extended deadline.
    response = next(x for x in review["rounds"][0]["responses"] if x["user_id"] == org.manager.id)
    r = await client.post(
        f"/api/v1/reviews/{review['id']}/responses/{response['id']}",
        headers=org.headers(org.manager),
        json={"decision": "approve"},
    )
    assert r.status_code == 200, r.text
    async with unit_of_work(sessions) as s:
        found = list(
            await s.scalars(
                select(SlaTimer)
                .where(SlaTimer.subject_type == "review_request", SlaTimer.subject_id == review["id"])
                .order_by(SlaTimer.id)
            )
        )
    assert [(t.state, t.due_at) for t in found] == [
        (TimerState.cancelled, T("2026-03-04T10:00:00+08:00")),
        (TimerState.running, T("2026-03-06T10:00:00+08:00")),
    ]
    trail = (await client.get(f"/api/v1/trail/review/{review['id']}", headers=org.headers(org.planner))).json()
    assert [e["details"]["after"]["note"] for e in trail["entries"] if e["action"] == "deadline.extend"] == [
        f"deadline extended from 2026-03-04 10:00 to 2026-03-06 10:00 by approval #{approval['id']}"
    ]
