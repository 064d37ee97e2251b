"""Cross-department reviews: rounds, each reviewer's feedback timer, consensus, the stage gate."""

from __future__ import annotations

from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import AuditLog, ReviewRequest, ReviewResponse, Role, SlaTimer, TimerState
from tests.factories import auth, escalations, timers
from tests.reviews.conftest import T, count, sweep


async def request(client, org, reviewers, **extra):
    body = {"title": "双十一活动方案评审", "reviewer_department_ids": [r.department.id for r in reviewers], **extra}
    r = await client.post("/api/v1/reviews", headers=org.as_(org.planner), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def pending(review, reviewing):
    """The current round's response asked of this department."""
    (rnd,) = [x for x in review["rounds"] if x["round"] == review["round"]]
    (resp,) = [x for x in rnd["responses"] if x["department_id"] == reviewing.department.id]
    return resp


async def answer(client, org, review, reviewing, user, decision, comment=None):
    rid = pending(review, reviewing)["id"]
    return await client.post(
        f"/api/v1/reviews/{review['id']}/responses/{rid}",
        headers=org.as_(user),
        json={"decision": decision, **({"comment": comment} if comment else {})},
    )


async def get(client, org, review_id):
    r = await client.get(f"/api/v1/reviews/{review_id}", headers=org.as_(org.planner))
    assert r.status_code == 200, r.text
    return r.json()


async def test_three_departments_review_a_plan_over_two_rounds(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))  # a Monday
    review = await request(client, org, [org.sales, org.product, org.design], description="v1")
    assert review["status"] == "in_review" and review["round"] == 1
    assert review["requester_id"] == org.planner.id and review["department_id"] == org.market.id
    assert review["response_target"] == {"kind": "calendar", "value": "PT24H"}
    (whole,) = review["sla"]
    assert T(whole["due_at"]) == T("2026-03-04T10:00:00+08:00")  # 2 working days
    (round1,) = review["rounds"]
    assert [x["status"] for x in round1["responses"]] == ["pending"] * 3
    assert {T(x["sla"][0]["due_at"]) for x in round1["responses"]} == {T("2026-03-03T10:00:00+08:00")}

    clock.set(T("2026-03-02T14:00:00+08:00"))
    assert (await answer(client, org, review, org.sales, org.sales.head, "approve")).status_code == 200
    r = await answer(client, org, review, org.product, org.product.member, "approve", "OK")
    assert r.status_code == 200 and r.json()["status"] == "in_review"
    clock.set(T("2026-03-02T15:00:00+08:00"))
    r = await answer(client, org, review, org.design, org.design.member, "request_changes", "主视觉需要调整")
    assert r.status_code == 200, r.text
    review = r.json()
    assert review["status"] == "changes_requested" and review["decided_at"] is None
    by_target = {s["target"]["value"]: s for s in review["sla"]}
    assert by_target["2"]["state"] == "paused"  # the whole review waits while the requester works
    assert by_target["1"]["state"] == "running"  # the resubmission clock: 1 working day
    assert T(by_target["1"]["due_at"]) == T("2026-03-03T15:00:00+08:00")

    clock.set(T("2026-03-02T16:00:00+08:00"))  # resubmitted an hour later
    r = await client.post(
        f"/api/v1/reviews/{review['id']}/resubmit", headers=org.as_(org.planner), json={"note": "换了主视觉"}
    )
    assert r.status_code == 200, r.text
    review = r.json()
    assert review["status"] == "in_review" and review["round"] == 2
    by_target = {s["target"]["value"]: s for s in review["sla"]}
    assert by_target["1"]["state"] == "met"
    assert by_target["2"]["state"] == "running" and by_target["2"]["paused_total_s"] == 3600
    # The hour spent with the requester did not count: the deadline moved by that hour.
    assert T(by_target["2"]["due_at"]) == T("2026-03-04T11:00:00+08:00")
    round1, round2 = review["rounds"]
    assert [(x["department_id"], x["decision"]) for x in round1["responses"]] == [
        (org.sales.department.id, "approve"),
        (org.product.department.id, "approve"),
        (org.design.department.id, "request_changes"),
    ]
    assert [x["department_id"] for x in round2["responses"]] == [
        org.sales.department.id,
        org.product.department.id,
        org.design.department.id,
    ]
    assert {x["status"] for x in round2["responses"]} == {"pending"}
    assert {T(x["sla"][0]["due_at"]) for x in round2["responses"]} == {T("2026-03-03T16:00:00+08:00")}

    clock.set(T("2026-03-03T09:30:00+08:00"))
    for reviewing in (org.sales, org.product, org.design):
        r = await answer(client, org, review, reviewing, reviewing.head, "approve")
        assert r.status_code == 200, r.text
    review = r.json()
    assert review["status"] == "approved" and T(review["decided_at"]) == T("2026-03-03T09:30:00+08:00")
    assert [x["state"] for x in review["sla"] if x["target"]["value"] == "2"] == ["met"]
    assert [x["decision"] for x in review["rounds"][0]["responses"]] == ["approve", "approve", "request_changes"]
    assert review["rounds"][0]["responses"][2]["comment"] == "主视觉需要调整"
    assert review["rounds"][0]["responses"][2]["answered_by"] == org.design.member.id
    assert {x["state"] for rnd in review["rounds"] for x in rnd["responses"] for x in x["sla"]} == {"met"}

    async with unit_of_work(sessions) as s:
        trail = list(
            await s.scalars(
                select(AuditLog.action)
                .where(AuditLog.entity_type == "review_request", AuditLog.entity_id == review["id"])
                .order_by(AuditLog.id)
            )
        )
    assert trail[:6] == ["create"] + ["review.answer"] * 3 + ["review.return", "review.resubmit"]
    assert trail[6:] == ["review.answer"] * 3 + ["review.decide"]

    r = await client.post(f"/api/v1/reviews/{review['id']}/resubmit", headers=org.as_(org.planner))
    assert r.status_code == 409  # only after changes are requested


async def test_review_feedback_breach_escalates_to_department_head(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    review = await request(client, org, [org.sales, org.product])
    sales_id, product_id = pending(review, org.sales)["id"], pending(review, org.product)["id"]
    clock.set(T("2026-03-02T16:00:00+08:00"))
    assert (await answer(client, org, review, org.product, org.product.member, "approve")).status_code == 200

    await sweep(sessions, clock, "2026-03-03T10:00:00+08:00")  # 24 h after the request
    late = await escalations(sessions, "review_response", sales_id)
    (breach,) = [e for e in late if e.kind == "breach"]
    alerted = {x["user_id"] for x in breach.recipients}
    assert org.sales.head.id in alerted
    assert org.planner.id not in alerted and org.manager.id not in alerted
    assert all(org.planner.id not in {x["user_id"] for x in e.recipients} for e in late)
    assert await escalations(sessions, "review_response", product_id) == []  # answered in time
    assert await escalations(sessions, "review_request", review["id"]) == []  # 2 working days not up

    r = await client.get(
        "/api/v1/reviews",
        headers=org.as_(org.planner),
        params={"overdue": "true", "reviewer_department_id": org.sales.department.id},
    )
    assert [x["id"] for x in r.json()["items"]] == [review["id"]]
    r = await client.get("/api/v1/reviews", headers=org.as_(org.planner), params={"overdue": "false"})
    assert r.json()["items"] == []
    r = await client.get(
        "/api/v1/reviews", headers=org.as_(org.planner), params={"reviewer_department_id": org.design.department.id}
    )
    assert r.json()["items"] == []


async def test_any_reject_decides_at_once_and_cancels_the_other_reviewers(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    review = await request(client, org, [org.sales, org.product, org.design])
    assert (await answer(client, org, review, org.sales, org.sales.member, "approve")).status_code == 200
    clock.set(T("2026-03-02T11:00:00+08:00"))
    r = await answer(client, org, review, org.product, org.product.head, "reject")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.comment"
    r = await answer(client, org, review, org.product, org.product.head, "reject", "预算超出 30%")
    assert r.status_code == 200, r.text
    review = r.json()
    assert review["status"] == "rejected" and T(review["decided_at"]) == T("2026-03-02T11:00:00+08:00")
    statuses = {x["department_id"]: x["status"] for x in review["rounds"][0]["responses"]}
    assert statuses == {
        org.sales.department.id: "answered",
        org.product.department.id: "answered",
        org.design.department.id: "cancelled",
    }
    design = next(x for x in review["rounds"][0]["responses"] if x["department_id"] == org.design.department.id)
    (timer,) = await timers(sessions, "review_response", design["id"])
    assert timer.state == TimerState.cancelled
    assert design["sla"] == []
    (whole,) = await timers(sessions, "review_request", review["id"])
    assert whole.state == TimerState.met
    r = await client.post(
        f"/api/v1/reviews/{review['id']}/responses/{design['id']}",
        headers=org.as_(org.design.head),
        json={"decision": "approve"},
    )
    assert r.status_code == 409
    assert (
        await client.post(f"/api/v1/reviews/{review['id']}/cancel", headers=org.as_(org.planner))
    ).status_code == 409

    await sweep(sessions, clock, "2026-03-04T10:00:00+08:00")
    assert await escalations(sessions, "review_response", design["id"]) == []


async def test_requester_who_does_not_resubmit_in_a_working_day_is_escalated(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    r = await client.post(
        "/api/v1/reviews",
        headers=org.as_(org.planner),
        json={"title": "海报评审", "reviewer_user_ids": [org.design.member.id]},
    )
    assert r.status_code == 201, r.text
    review = r.json()
    assert review["reviewers"] == [{"department_id": None, "user_id": org.design.member.id}]
    (resp,) = review["rounds"][0]["responses"]
    clock.set(T("2026-03-02T15:00:00+08:00"))
    r = await client.post(
        f"/api/v1/reviews/{review['id']}/responses/{resp['id']}",
        headers=org.as_(org.design.head),  # a named person's answer is theirs alone
        json={"decision": "approve"},
    )
    assert r.status_code == 404  # their department was not asked: the review is not even theirs to see
    r = await client.post(
        f"/api/v1/reviews/{review['id']}/responses/{resp['id']}",
        headers=org.as_(org.design.member),
        json={"decision": "request_changes", "comment": "字号太小"},
    )
    assert r.status_code == 200 and r.json()["status"] == "changes_requested"

    await sweep(sessions, clock, "2026-03-03T14:59:00+08:00")
    assert [e.kind for e in await escalations(sessions, "review_request", review["id"])] == ["warning"]
    await sweep(sessions, clock, "2026-03-03T15:00:00+08:00")  # 1 working day later
    fired = await escalations(sessions, "review_request", review["id"])
    (breach,) = [e for e in fired if e.kind == "breach"]
    assert {x["user_id"] for x in breach.recipients} == {org.planner.id, org.manager.id}
    (timer,) = [t for t in await timers(sessions, "review_request", review["id"]) if t.id == breach.timer_id]
    assert timer.target_value == "1" and timer.state == TimerState.running
    r = await client.get("/api/v1/reviews", headers=org.as_(org.manager), params={"overdue": "true"})
    assert [x["id"] for x in r.json()["items"]] == [review["id"]]


async def test_bad_review_input_is_refused_and_writes_nothing(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    url, headers = "/api/v1/reviews", org.as_(org.planner)
    cases = [
        ({"reviewer_department_ids": [org.sales.department.id, 999_999]}, "body.reviewer_department_ids"),
        ({"reviewer_user_ids": [999_999]}, "body.reviewer_user_ids"),
        ({"reviewer_department_ids": [org.sales.department.id] * 2}, "body.reviewer_department_ids"),
        ({}, "body.reviewer_department_ids"),
        (
            {
                "reviewer_department_ids": [org.sales.department.id],
                "response_target": {"kind": "calendar", "value": "soon"},
            },
            "body.response_target.value",
        ),
        (
            {"reviewer_department_ids": [org.sales.department.id], "campaign_id": 999_999, "stage_key": "review"},
            "body.campaign_id",
        ),
        ({"reviewer_department_ids": [org.sales.department.id], "stage_key": "review"}, "body.campaign_id"),
        ({"reviewer_department_ids": [org.sales.department.id], "deliverable_id": 1}, "body.deliverable_id"),
    ]
    for extra, field in cases:
        r = await client.post(url, headers=headers, json={"title": "评审", **extra})
        assert r.status_code == 422, (extra, r.text)
        assert r.json()["errors"][0]["field"] == field, (extra, r.text)
    viewer = await auth(sessions, role=Role.viewer)
    r = await client.post(
        url, headers=viewer, json={"title": "评审", "reviewer_department_ids": [org.sales.department.id]}
    )
    assert r.status_code == 403
    assert (await count(sessions, ReviewRequest), await count(sessions, ReviewResponse)) == (0, 0)
    assert await count(sessions, SlaTimer) == 0

    review = await request(client, org, [org.sales, org.product])
    r = await answer(client, org, review, org.sales, org.product.member, "approve")  # not in sales
    assert r.status_code == 403
    r = await answer(client, org, review, org.sales, org.planner, "approve")  # the requester is not a reviewer
    assert r.status_code == 403
    assert (await get(client, org, review["id"]))["rounds"][0]["responses"][0]["status"] == "pending"
    assert (await answer(client, org, review, org.sales, org.sales.member, "approve")).status_code == 200
    r = await answer(client, org, review, org.sales, org.sales.head, "approve")
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    r = await client.post(f"/api/v1/reviews/{review['id']}/cancel", headers=org.as_(org.sales.member))
    assert r.status_code == 403  # neither the requester nor a manager
    assert (await client.get("/api/v1/reviews/999999", headers=headers)).status_code == 404


async def test_admin_answers_on_behalf_and_cancel_withdraws_every_pending_reviewer(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    review = await request(client, org, [org.sales, org.product])
    admin = await auth(sessions, role=Role.admin)
    rid = pending(review, org.sales)["id"]
    r = await client.post(
        f"/api/v1/reviews/{review['id']}/responses/{rid}", headers=admin, json={"decision": "approve"}
    )
    assert r.status_code == 200
    r = await client.post(
        f"/api/v1/reviews/{review['id']}/cancel", headers=org.as_(org.planner), json={"reason": "活动取消"}
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    product = pending(r.json(), org.product)
    assert product["status"] == "cancelled"
    assert [t.state for t in await timers(sessions, "review_response", product["id"])] == [TimerState.cancelled]
    assert [t.state for t in await timers(sessions, "review_request", review["id"])] == [TimerState.cancelled]
    r = await client.get("/api/v1/reviews", headers=admin, params={"status": "cancelled"})
    assert [x["id"] for x in r.json()["items"]] == [review["id"]]


# ---- the stage gate -------------------------------------------------------------------------------


async def _finish_stage(client, headers, cid, key, deliverable_key, checklist):
    base = f"/api/v1/campaigns/{cid}/stages/{key}"
    r = await client.post(
        f"{base}/deliverables",
        headers=headers,
        json={"title": f"{key} v1", "url": f"https://docs.example.com/{key}", "deliverable_key": deliverable_key},
    )
    assert r.status_code == 201, r.text
    for item in checklist:
        assert (await client.put(f"{base}/checklist/{item}", headers=headers, json={})).status_code == 200
    return r.json()


async def test_review_stage_gate_waits_for_an_approved_review(sessions, client, clock, org):
    clock.set(T("2026-03-02T09:00:00+08:00"))
    headers = org.as_(org.planner)
    r = await client.post(
        "/api/v1/campaigns",
        headers=headers,
        json={
            "name": "双十一大促",
            "owner_id": org.planner.id,
            "department_id": org.market.id,
            "template_key": "campaign_default",
        },
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    await _finish_stage(client, headers, cid, "research", "research_report", ["competitors", "pain_point"])
    assert (await client.post(f"/api/v1/campaigns/{cid}/stages/research/advance", headers=headers)).status_code == 200
    await _finish_stage(client, headers, cid, "plan", "campaign_plan", ["smart_goals", "budget_error"])
    assert (await client.post(f"/api/v1/campaigns/{cid}/stages/plan/advance", headers=headers)).status_code == 200
    # "every department answered within 24 h" is derived from the review, not ticked.
    sheet = await _finish_stage(client, headers, cid, "review", "review_sheet", ["consensus"])
    advance = f"/api/v1/campaigns/{cid}/stages/review/advance"

    r = await client.post(advance, headers=headers)
    assert r.status_code == 409
    assert [e["field"] for e in r.json()["errors"]] == ["review", "checklist.feedback_24h"]

    body = {"title": "方案评审", "campaign_id": cid, "reviewer_department_ids": [org.sales.department.id]}
    r = await client.post("/api/v1/reviews", headers=headers, json={**body, "stage_key": "launch"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.stage_key"
    r = await client.post(
        "/api/v1/reviews", headers=headers, json={**body, "stage_key": "plan", "deliverable_id": sheet["id"]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.deliverable_id"
    review = await request(
        client,
        org,
        [org.sales, org.product],
        campaign_id=cid,
        stage_key="review",
        deliverable_id=sheet["id"],
    )
    stages = (await client.get(f"/api/v1/campaigns/{cid}/stages", headers=headers)).json()["items"]
    assert review["stage_id"] == next(s["id"] for s in stages if s["key"] == "review")
    assert review["campaign_id"] == cid and review["deliverable_id"] == sheet["id"]
    r = await client.get("/api/v1/reviews", headers=headers, params={"stage_id": review["stage_id"]})
    assert [x["id"] for x in r.json()["items"]] == [review["id"]]

    assert (await answer(client, org, review, org.sales, org.sales.head, "approve")).status_code == 200
    r = await client.post(advance, headers=headers)
    assert r.status_code == 409
    assert [e["field"] for e in r.json()["errors"]] == ["review", "checklist.feedback_24h"]
    assert "in_review" in r.json()["errors"][0]["message"]
    assert "1 reviewer(s) have not answered yet" in r.json()["errors"][1]["message"]
    assert (await answer(client, org, review, org.product, org.product.head, "approve")).status_code == 200

    r = await client.post(advance, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["entered"]["key"] == "resources"


async def _campaign_at_review(client, headers, org, name="双十一大促"):
    r = await client.post(
        "/api/v1/campaigns",
        headers=headers,
        json={
            "name": name,
            "owner_id": org.planner.id,
            "department_id": org.market.id,
            "template_key": "campaign_default",
        },
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    await _finish_stage(client, headers, cid, "research", "research_report", ["competitors", "pain_point"])
    assert (await client.post(f"/api/v1/campaigns/{cid}/stages/research/advance", headers=headers)).status_code == 200
    plan = await _finish_stage(client, headers, cid, "plan", "campaign_plan", ["smart_goals", "budget_error"])
    assert (await client.post(f"/api/v1/campaigns/{cid}/stages/plan/advance", headers=headers)).status_code == 200
    return cid, plan


async def test_the_review_stage_reviews_the_plan_stages_deliverable(sessions, client, clock, org):
    clock.set(T("2026-03-02T09:00:00+08:00"))
    headers = org.as_(org.planner)
    cid, plan = await _campaign_at_review(client, headers, org)
    _, other_plan = await _campaign_at_review(client, headers, org, name="年货节")
    body = {"title": "方案评审", "campaign_id": cid, "reviewer_department_ids": [org.sales.department.id]}

    r = await client.post(
        "/api/v1/reviews", headers=headers, json={**body, "stage_key": "review", "deliverable_id": other_plan["id"]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.deliverable_id"
    assert "another campaign" in r.json()["errors"][0]["message"]
    r = await client.post(
        "/api/v1/reviews", headers=headers, json={**body, "stage_key": "research", "deliverable_id": plan["id"]}
    )
    assert r.status_code == 422 and "later stage" in r.json()["errors"][0]["message"]

    # 《活动策划方案》 was attached in the plan stage; the review stage reviews it.
    review = await request(client, org, [org.sales], campaign_id=cid, stage_key="review", deliverable_id=plan["id"])
    assert review["deliverable_id"] == plan["id"] and review["campaign_id"] == cid


async def test_every_department_answered_in_time_is_derived_and_only_waived_by_a_manager(sessions, client, clock, org):
    clock.set(T("2026-03-02T09:00:00+08:00"))  # Monday
    headers = org.as_(org.planner)
    cid, _ = await _campaign_at_review(client, headers, org)
    await _finish_stage(client, headers, cid, "review", "review_sheet", ["consensus"])
    item = f"/api/v1/campaigns/{cid}/stages/review/checklist/feedback_24h"
    r = await client.put(item, headers=headers, json={"done": True})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.done"
    assert "derived" in r.json()["detail"]

    review = await request(client, org, [org.sales, org.product], campaign_id=cid, stage_key="review")
    assert (await answer(client, org, review, org.sales, org.sales.head, "approve")).status_code == 200
    clock.set(T("2026-03-03T10:00:00+08:00"))  # product answers 25 hours later: late
    assert (await answer(client, org, review, org.product, org.product.head, "approve")).status_code == 200

    advance = f"/api/v1/campaigns/{cid}/stages/review/advance"
    r = await client.post(advance, headers=headers)
    assert r.status_code == 409, r.text
    (late,) = r.json()["errors"]
    assert late["field"] == "checklist.feedback_24h" and "产品部 (round 1)" in late["message"]
    assert "销售部" not in late["message"]
    stage = next(
        s
        for s in (await client.get(f"/api/v1/campaigns/{cid}/stages", headers=headers)).json()["items"]
        if s["key"] == "review"
    )
    assert stage["checklist"]["feedback_24h"]["done"] is False
    assert stage["checklist"]["feedback_24h"]["derived"] == "review_on_time"

    r = await client.put(item, headers=headers, json={"waive": True, "note": "国庆排期"})
    assert r.status_code == 403  # a member may not waive
    manager = await auth(sessions, role=Role.director)
    r = await client.put(item, headers=manager, json={"waive": True})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.note"
    r = await client.put(
        f"/api/v1/campaigns/{cid}/stages/review/checklist/consensus", headers=manager, json={"waive": True, "note": "x"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.waive"
    r = await client.put(item, headers=manager, json={"waive": True, "note": "产品部负责人出差，已电话确认"})
    assert r.status_code == 200, r.text
    shown = r.json()["checklist"]["feedback_24h"]
    assert shown["done"] is False and shown["waived"]["note"] == "产品部负责人出差，已电话确认"
    r = await client.post(advance, headers=headers)
    assert r.status_code == 200, r.text


async def test_nobody_reviews_their_own_request(sessions, client, clock, org):
    r = await client.post(
        "/api/v1/reviews",
        headers=org.as_(org.planner),
        json={"title": "自评", "reviewer_user_ids": [org.planner.id]},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.reviewer_user_ids"
    # A sales member asks sales (their own department) among others: they cannot answer for it.
    r = await client.post(
        "/api/v1/reviews",
        headers=org.as_(org.sales.member),
        json={"title": "渠道方案", "reviewer_department_ids": [org.sales.department.id, org.product.department.id]},
    )
    assert r.status_code == 201, r.text
    review = r.json()
    assert (await answer(client, org, review, org.sales, org.sales.member, "approve")).status_code == 403
    assert (await answer(client, org, review, org.sales, org.sales.head, "approve")).status_code == 200


async def test_review_boards_filter_by_requesting_department(sessions, client, clock, org):
    r = await client.post(
        "/api/v1/reviews",
        headers=org.as_(org.planner),
        json={"title": "方案评审", "reviewer_department_ids": [org.sales.department.id]},
    )
    review_id = r.json()["id"]
    for department, want in ((org.market.id, [review_id]), (org.sales.department.id, [])):
        r = await client.get("/api/v1/reviews", headers=org.as_(org.planner), params={"department_id": department})
        assert [x["id"] for x in r.json()["items"]] == want


async def test_a_reviews_trail_answers_to_the_name_of_its_route(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    review = await request(client, org, [org.sales])
    r = await client.post(
        f"/api/v1/trail/review/{review['id']}/comments", headers=org.as_(org.planner), json={"body": "附件已更新"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["subject_type"] == "review_request"  # stored under the registered name
    r = await client.get(f"/api/v1/trail/review/{review['id']}", headers=org.as_(org.planner))
    assert r.status_code == 200, r.text
    assert r.json()["subject_type"] == "review_request"
    assert sorted(e["action"] for e in r.json()["entries"]) == ["comment", "create"]
    # The registered name keeps working and shows the same trail.
    old = await client.get(f"/api/v1/trail/review_request/{review['id']}", headers=org.as_(org.planner))
    assert old.json()["entries"] == r.json()["entries"]


async def test_review_board_takes_several_statuses_and_text(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    plan = await request(client, org, [org.sales], title="双十一活动方案评审")
    poster = await request(client, org, [org.sales], title="主视觉海报评审")
    copy = await request(client, org, [org.sales], title="投放文案评审")
    r = await answer(client, org, poster, org.sales, org.sales.head, "request_changes", "换色")
    assert r.status_code == 200 and r.json()["status"] == "changes_requested"
    r = await answer(client, org, copy, org.sales, org.sales.head, "approve")
    assert r.status_code == 200 and r.json()["status"] == "approved"

    headers = org.as_(org.planner)
    listed = await client.get("/api/v1/reviews", headers=headers, params={"status": "in_review,changes_requested"})
    assert [x["id"] for x in listed.json()["items"]] == [plan["id"], poster["id"]]
    listed = await client.get("/api/v1/reviews", headers=headers, params={"q": "海报"})
    assert [x["id"] for x in listed.json()["items"]] == [poster["id"]]
    listed = await client.get("/api/v1/reviews", headers=headers, params={"department_id": org.sales.department.id})
    assert listed.json()["items"] == []  # the requesting department is 市场部


async def test_a_review_board_page_reads_the_reviews_and_their_reviewers_timers_in_one_query(client, clock, org):
    from tests.sla.test_read import statements

    clock.set(T("2026-03-02T10:00:00+08:00"))
    first = await request(client, org, [org.sales, org.product])
    second = await request(client, org, [org.design])
    await client.get("/api/v1/reviews", headers=org.as_(org.planner))  # this process has seen the calendar

    with statements() as seen:
        r = await client.get("/api/v1/reviews", headers=org.as_(org.planner))
    assert r.status_code == 200, r.text
    page = {x["id"]: x for x in r.json()["items"]}

    assert set(page) == {first["id"], second["id"]}
    for review, reviewers in ((first, 2), (second, 1)):
        shown = page[review["id"]]
        assert len(shown["sla"]) == 1  # the whole review's clock
        (round_1,) = shown["rounds"]
        assert len(round_1["responses"]) == reviewers
        assert all(len(x["sla"]) == 1 for x in round_1["responses"])  # each reviewer's feedback clock
    assert sum("FROM sla_timers" in s for s in seen) == 1


async def test_a_token_issued_for_the_reviewer_by_an_admin_cannot_answer(sessions, client, clock, org):
    clock.set(T("2026-03-02T10:00:00+08:00"))
    review = await request(client, org, [org.sales])
    admin = await auth(sessions, Role.admin)
    issued = await client.post("/api/v1/tokens", headers=admin, json={"user_id": org.sales.head.id, "name": "代答"})
    assert issued.status_code == 201 and issued.json()["on_behalf"] is True
    r = await client.post(
        f"/api/v1/reviews/{review['id']}/responses/{pending(review, org.sales)['id']}",
        headers={"Authorization": f"Bearer {issued.json()['token']}"},
        json={"decision": "approve"},
    )
    assert r.status_code == 403 and "cannot answer a review" in r.json()["detail"]
    assert pending(await get(client, org, review["id"]), org.sales)["status"] == "pending"
    r = await answer(client, org, review, org.sales, org.sales.head, "approve")
    assert r.status_code == 200 and r.json()["status"] == "approved"
