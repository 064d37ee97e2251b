"""Approvals end to end: routine and leadership chains, dual sign, rejection at the gate,
any-of, cancel, and approvers under SLA."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from shared.db import unit_of_work
from shared.models import (
    Approval,
    ApprovalAssignment,
    AuditLog,
    Campaign,
    CampaignStage,
    Escalation,
    EscalationKind,
    SlaTimer,
    StageStatus,
    TimerState,
)
from tests.approvals.conftest import T, add_rule, count, decide, make_campaign, request, sweep

LEADERSHIP = "重大活动 领导班子 Leadership group"


async def add_leadership_rule(client, org) -> dict:
    return await add_rule(
        client,
        org,
        name=LEADERSHIP,
        kind="campaign",
        priority=10,
        conditions={"budget_over": 500000, "major": True},
        steps=[{"name": "领导班子", "mode": "all", "approvers": [f"user:{org.ceo.id}", f"user:{org.cmo.id}"]}],
    )


async def timers_of(sessions, assignment_id: int) -> list[SlaTimer]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(SlaTimer)
                .where(SlaTimer.subject_type == "approval_assignment", SlaTimer.subject_id == assignment_id)
                .order_by(SlaTimer.id)
            )
        )


async def test_routine_campaign_goes_to_the_department_head_who_approves_it(sessions, client, org):
    await add_leadership_rule(client, org)
    campaign = await make_campaign(sessions, org)
    approval = await request(client, org, kind="campaign", campaign_id=campaign.id, reason="Q4 主推")
    assert approval["status"] == "pending" and approval["title"] == "活动审批 Campaign approval: 双十一大促"
    (step,) = approval["steps"]
    assert step["mode"] == "one" and step["approver_ids"] == [org.marketing_director.id]
    (assignment,) = step["assignments"]
    assert assignment["status"] == "pending"
    (timer,) = assignment["sla"]  # the default: 1 working day
    assert timer["target"] == {"kind": "working_days", "value": "1"}
    assert T(timer["due_at"]) == T("2026-03-03T10:00:00+08:00")

    mine = await client.get(
        f"/api/v1/approvals?approver_id={org.marketing_director.id}", headers=org.headers(org.marketing_director)
    )
    assert [a["id"] for a in mine.json()["items"]] == [approval["id"]]
    # Only one pending approval of a kind per campaign.
    await request(client, org, expect=409, kind="campaign", campaign_id=campaign.id)

    done = await decide(client, org, approval["id"], org.marketing_director)
    assert done["status"] == "approved" and done["decided_at"] is not None
    assert done["steps"][0]["status"] == "approved"
    assert done["steps"][0]["assignments"][0]["sla"][0]["state"] == "met"
    mine = await client.get(
        f"/api/v1/approvals?approver_id={org.marketing_director.id}", headers=org.headers(org.marketing_director)
    )
    assert mine.json()["items"] == []
    async with unit_of_work(sessions) as s:
        actions = list(
            await s.scalars(
                select(AuditLog.action)
                .where(AuditLog.entity_type == "approval", AuditLog.entity_id == approval["id"])
                .order_by(AuditLog.id)
            )
        )
    assert actions == ["approval.request", "approval.approve"]


async def test_major_or_over_threshold_campaigns_go_to_the_leadership_group(sessions, client, org):
    rule = await add_leadership_rule(client, org)
    major = await make_campaign(sessions, org, name="品牌发布会", budget=Decimal("80000"), is_major=True)
    big = await make_campaign(sessions, org, name="年货节", budget=Decimal("800000"))
    for campaign in (major, big):
        approval = await request(client, org, kind="campaign", campaign_id=campaign.id)
        assert approval["rule_id"] == rule["id"]
        (step,) = approval["steps"]
        assert step["mode"] == "all" and step["approver_ids"] == [org.ceo.id, org.cmo.id]
        assert [a["approver_id"] for a in step["assignments"]] == [org.ceo.id, org.cmo.id]
        # Both sign: the first leaves it pending, the second approves it.
        assert (await decide(client, org, approval["id"], org.cmo))["status"] == "pending"
        assert (await decide(client, org, approval["id"], org.ceo))["status"] == "approved"


async def test_a_campaign_flagged_major_through_the_api_goes_to_the_leadership_group(sessions, client, org):
    rule = await add_leadership_rule(client, org)
    headers = org.headers(org.planner)
    r = await client.post(
        "/api/v1/campaigns",
        headers=headers,
        json={"name": "品牌发布会", "department_id": org.marketing.id, "budget": "80000", "is_major": True},
    )
    assert r.status_code == 201 and r.json()["is_major"] is True, r.text
    approval = await request(client, org, kind="campaign", campaign_id=r.json()["id"])
    assert approval["rule_id"] == rule["id"]
    r = await client.patch(f"/api/v1/campaigns/{r.json()['id']}", headers=headers, json={"is_major": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.is_major"


async def test_budget_change_needs_both_directors(sessions, client, org):
    await add_rule(
        client,
        org,
        name="预算变更 双签",
        kind="budget_change",
        priority=10,
        steps=[
            {
                "name": "市场+财务双签",
                "mode": "all",
                "approvers": [f"department:{org.marketing.id}", f"department:{org.finance.id}"],
            }
        ],
    )
    campaign = await make_campaign(sessions, org)
    approval = await request(client, org, kind="budget_change", campaign_id=campaign.id, budget="130000")
    assert approval["title"] == "预算变更 Budget change: 双十一大促 100000 → 130000"
    assert approval["details"]["budget_to"] == "130000.00"
    assert approval["steps"][0]["approver_ids"] == [org.marketing_director.id, org.finance_director.id]

    after_one = await decide(client, org, approval["id"], org.marketing_director)
    assert after_one["status"] == "pending"
    statuses = {a["approver_id"]: a["status"] for a in after_one["steps"][0]["assignments"]}
    assert statuses == {org.marketing_director.id: "approved", org.finance_director.id: "pending"}
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Campaign, campaign.id)).budget == Decimal("100000")

    # Nobody signs for someone else: not an admin, not the director who already signed.
    await decide(client, org, approval["id"], org.admin, expect=403)
    await decide(client, org, approval["id"], org.marketing_director, expect=403)

    done = await decide(client, org, approval["id"], org.finance_director)
    assert done["status"] == "approved"
    r = await client.get(f"/api/v1/campaigns/{campaign.id}", headers=org.headers(org.planner))
    assert Decimal(r.json()["budget"]) == Decimal("130000")
    async with unit_of_work(sessions) as s:
        change = (
            await s.scalars(
                select(AuditLog).where(
                    AuditLog.entity_type == "campaign", AuditLog.entity_id == campaign.id, AuditLog.action == "update"
                )
            )
        ).one()
    assert change.after == {"budget": "130000.00"} and change.actor_user_id == org.finance_director.id
    await decide(client, org, approval["id"], org.finance_director, expect=409)  # already decided


async def _campaign_at_resources(sessions, client, org) -> int:
    r = await client.post(
        "/api/v1/campaigns",
        headers=org.headers(org.planner),
        json={"name": "双十一大促", "department_id": org.marketing.id, "template_key": "campaign_default"},
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    # Fast-forward the earlier stages (their gates are tested in tests/workflow).
    async with unit_of_work(sessions) as s:
        await s.execute(
            update(CampaignStage)
            .where(CampaignStage.campaign_id == cid, CampaignStage.key.in_(("research", "plan", "review")))
            .values(status=StageStatus.done)
        )
        await s.execute(
            update(CampaignStage)
            .where(CampaignStage.campaign_id == cid, CampaignStage.key == "resources")
            .values(status=StageStatus.active, entered_at=T("2026-03-02T10:00:00+08:00"))
        )
    return int(cid)


async def test_a_rejected_stage_approval_blocks_the_gate_and_says_why(sessions, client, org):
    await add_rule(
        client,
        org,
        name="上线前法务审核",
        kind="stage",
        conditions={"stage_keys": ["execution"]},
        steps=[{"name": "法务", "mode": "one", "approvers": [f"user:{org.legal.id}"]}],
    )
    cid = await _campaign_at_resources(sessions, client, org)
    await request(client, org, expect=422, kind="stage", campaign_id=cid, stage_key="launch")
    await request(client, org, expect=422, kind="stage", campaign_id=cid)
    first = await request(client, org, kind="stage", campaign_id=cid, stage_key="execution")
    assert first["stage_id"] is not None

    # Rejecting needs a reason, and a refused decision changes nothing.
    audit_before = await count(sessions, AuditLog)
    r = await client.post(
        f"/api/v1/approvals/{first['id']}/decision", headers=org.headers(org.legal), json={"decision": "reject"}
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.reason"]
    assert await count(sessions, AuditLog) == audit_before
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Approval, first["id"])).status == "pending"
        assert [a.status for a in await s.scalars(select(ApprovalAssignment))] == ["pending"]

    rejected = await decide(client, org, first["id"], org.legal, "reject", reason="素材未过法务")
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "素材未过法务"
    assert rejected["steps"][0]["assignments"][0]["reason"] == "素材未过法务"
    # Execution is entered only once its assets are approved: the resources gate says why not.
    r = await client.post(f"/api/v1/campaigns/{cid}/stages/resources/advance", headers=org.headers(org.planner))
    assert r.status_code == 409
    (why,) = [e["message"] for e in r.json()["errors"] if e["field"] == "entry_approval.execution"]
    assert "素材未过法务" in why and f"#{first['id']}" in why

    second = await request(client, org, kind="stage", campaign_id=cid, stage_key="execution")
    await decide(client, org, second["id"], org.legal)
    r = await client.get(f"/api/v1/campaigns/{cid}/stages", headers=org.headers(org.planner))
    (resources,) = [s for s in r.json()["items"] if s["key"] == "resources"]
    assert "entry_approval.execution" not in {e["field"] for e in resources["gate_unmet"]}
    listed = await client.get(f"/api/v1/approvals?stage_id={first['stage_id']}", headers=org.headers(org.planner))
    assert [a["status"] for a in listed.json()["items"]] == ["rejected", "approved"]


async def test_any_of_the_first_decision_withdraws_the_others_and_cancels_their_timers(sessions, client, org):
    await add_rule(
        client,
        org,
        name="任一总监",
        kind="campaign",
        priority=5,
        steps=[
            {"mode": "any", "approvers": [f"user:{org.cmo.id}", "department_head"]},
            {"name": "财务备案", "mode": "one", "approvers": [f"department:{org.finance.id}"]},
        ],
    )
    campaign = await make_campaign(sessions, org)
    approval = await request(client, org, kind="campaign", campaign_id=campaign.id)
    first, second = approval["steps"]
    assert first["status"] == "active" and second["status"] == "waiting" and second["assignments"] == []
    cmo_a, head_a = first["assignments"]
    for a in (cmo_a, head_a):
        assert [t.state for t in await timers_of(sessions, a["id"])] == [TimerState.running]

    after = await decide(client, org, approval["id"], org.marketing_director)
    assert after["status"] == "pending"
    first, second = after["steps"]
    assert first["status"] == "approved" and second["status"] == "active"
    statuses = {a["approver_id"]: a["status"] for a in first["assignments"]}
    assert statuses == {org.cmo.id: "withdrawn", org.marketing_director.id: "approved"}
    (cmo_timer,) = await timers_of(sessions, cmo_a["id"])
    (head_timer,) = await timers_of(sessions, head_a["id"])
    assert cmo_timer.state == TimerState.cancelled and head_timer.state == TimerState.met
    (finance_a,) = second["assignments"]
    assert finance_a["approver_id"] == org.finance_director.id and finance_a["sla"][0]["state"] == "running"
    await decide(client, org, approval["id"], org.cmo, expect=403)  # withdrawn: no longer theirs

    assert (await decide(client, org, approval["id"], org.finance_director))["status"] == "approved"


async def test_the_requester_cancels_a_pending_approval_and_every_timer_stops(sessions, client, org):
    await add_leadership_rule(client, org)
    campaign = await make_campaign(sessions, org, is_major=True)
    approval = await request(client, org, kind="campaign", campaign_id=campaign.id)
    r = await client.post(f"/api/v1/approvals/{approval['id']}/cancel", headers=org.headers(org.legal))
    assert r.status_code == 404  # another department's approval: not even seen
    r = await client.post(
        f"/api/v1/approvals/{approval['id']}/cancel", headers=org.headers(org.planner), json={"reason": "活动取消"}
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert {a["status"] for a in r.json()["steps"][0]["assignments"]} == {"withdrawn"}
    for a in r.json()["steps"][0]["assignments"]:
        assert [t.state for t in await timers_of(sessions, a["id"])] == [TimerState.cancelled]
    await decide(client, org, approval["id"], org.ceo, expect=409)
    # Cancelled, a new one can be asked.
    await request(client, org, kind="campaign", campaign_id=campaign.id)


async def test_an_approver_nobody_holds_is_refused_before_anything_is_written(sessions, client, org):
    await add_rule(
        client,
        org,
        name="总监审批",
        kind="campaign",
        priority=5,
        steps=[{"mode": "one", "approvers": ["department_head"]}, {"mode": "one", "approvers": ["director"]}],
    )
    campaign = await make_campaign(sessions, org, owner_id=org.legal.id)  # legal owns it: sees it
    before = await count(sessions, Approval), await count(sessions, AuditLog)
    # The legal counsel's manager (the CEO) has no manager: `director` resolves to nobody.
    r = await client.post(
        "/api/v1/approvals", headers=org.headers(org.legal), json={"kind": "campaign", "campaign_id": campaign.id}
    )
    assert r.status_code == 409 and [e["field"] for e in r.json()["errors"]] == ["steps[1].approvers[0]"]
    await request(client, org, expect=422, kind="budget_change", campaign_id=campaign.id)  # no new budget
    await request(client, org, expect=422, kind="campaign", campaign_id=999999)
    assert (await count(sessions, Approval), await count(sessions, AuditLog)) == before


async def test_an_approver_who_does_not_decide_in_time_is_escalated_with_their_manager(sessions, client, clock, org):
    await add_rule(
        client,
        org,
        name="加急审批",
        kind="campaign",
        priority=5,
        steps=[{"mode": "one", "approvers": ["department_head"], "time_limit": {"kind": "calendar", "value": "PT2H"}}],
    )
    campaign = await make_campaign(sessions, org)
    approval = await request(client, org, kind="campaign", campaign_id=campaign.id)
    (assignment,) = approval["steps"][0]["assignments"]
    assert T(assignment["sla"][0]["due_at"]) == T("2026-03-02T12:00:00+08:00")

    clock.set(T("2026-03-02T12:01:00+08:00"))
    await sweep(sessions, clock.now())
    async with unit_of_work(sessions) as s:
        escalations = list(
            await s.scalars(
                select(Escalation)
                .where(Escalation.subject_type == "approval_assignment", Escalation.subject_id == assignment["id"])
                .order_by(Escalation.id)
            )
        )
    assert [e.kind for e in escalations] == [EscalationKind.warning, EscalationKind.breach]
    breach = escalations[-1]
    assert {r["user_id"] for r in breach.recipients} >= {org.marketing_director.id, org.cmo.id}

    r = await client.get("/api/v1/approvals?overdue=true", headers=org.headers(org.planner))
    assert [a["id"] for a in r.json()["items"]] == [approval["id"]]
    await decide(client, org, approval["id"], org.marketing_director)
    r = await client.get("/api/v1/approvals?overdue=true", headers=org.headers(org.planner))
    assert r.json()["items"] == []


async def test_nobody_approves_their_own_request_and_dual_sign_needs_two_people(sessions, client, org):
    campaign = await make_campaign(sessions, org)
    # The marketing director asks for their own department's routine approval: they would approve it.
    await request(client, org, user=org.marketing_director, expect=409, kind="campaign", campaign_id=campaign.id)
    await add_rule(
        client,
        org,
        name="双签 同一人",
        kind="budget_change",
        priority=10,
        steps=[{"name": "双签", "mode": "all", "approvers": ["department_head", f"user:{org.marketing_director.id}"]}],
    )
    problem = await request(client, org, expect=409, kind="budget_change", campaign_id=campaign.id, budget="120000")
    assert problem["errors"][0]["field"] == "steps[0].approvers"
    assert await count(sessions, Approval) == 0


async def test_budget_and_major_flag_cannot_bypass_their_approvals(sessions, client, org):
    campaign = await make_campaign(sessions, org, status="active")
    planner = org.headers(org.planner)
    r = await client.patch(f"/api/v1/campaigns/{campaign.id}", headers=planner, json={"is_major": True})
    assert r.status_code == 403  # who approves depends on it: managers only
    r = await client.patch(f"/api/v1/campaigns/{campaign.id}", headers=planner, json={"budget": "90000"})
    assert r.status_code == 409, r.text  # a new install seeds the 双签 rule: never a plain edit
    await add_rule(
        client,
        org,
        name="预算变更 双签",
        kind="budget_change",
        steps=[
            {
                "name": "双签",
                "mode": "all",
                "approvers": [f"department:{org.marketing.id}", f"department:{org.finance.id}"],
            }
        ],
    )
    r = await client.patch(f"/api/v1/campaigns/{campaign.id}", headers=org.headers(org.ceo), json={"budget": "130000"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.budget"
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Campaign, campaign.id)).budget == Decimal("100000")


async def test_approval_board_takes_several_statuses_and_text(sessions, client, org):
    first = await make_campaign(sessions, org, name="双十一大促")
    second = await make_campaign(sessions, org, name="618 大促")
    third = await make_campaign(sessions, org, name="春节")
    approved = await request(client, org, kind="campaign", campaign_id=first.id, title="双十一 预算")
    await decide(client, org, approved["id"], org.marketing_director)
    pending = await request(client, org, kind="campaign", campaign_id=second.id, title="618 预算")
    rejected = await request(client, org, kind="campaign", campaign_id=third.id, title="春节 物料")
    await decide(client, org, rejected["id"], org.marketing_director, "reject", reason="太贵")

    headers = org.headers(org.planner)
    listed = await client.get("/api/v1/approvals", headers=headers, params={"status": "pending,approved"})
    assert [a["id"] for a in listed.json()["items"]] == [approved["id"], pending["id"]]
    listed = await client.get("/api/v1/approvals", headers=headers, params={"q": "预算", "status": "approved"})
    assert [a["id"] for a in listed.json()["items"]] == [approved["id"]]


async def test_a_token_issued_for_the_approver_by_an_admin_cannot_decide(sessions, client, org):
    campaign = await make_campaign(sessions, org)
    approval = await request(client, org, kind="campaign", campaign_id=campaign.id)
    issued = await client.post(
        "/api/v1/tokens", headers=org.headers(org.admin), json={"user_id": org.marketing_director.id, "name": "代签"}
    )
    assert issued.status_code == 201 and issued.json()["on_behalf"] is True
    r = await client.post(
        f"/api/v1/approvals/{approval['id']}/decision",
        headers={"Authorization": f"Bearer {issued.json()['token']}"},
        json={"decision": "approve"},
    )
    assert r.status_code == 403
    assert r.json()["detail"] == (
        f"this token was issued to user {org.marketing_director.id} by someone else; it cannot decide an approval "
        "— the holder must use their own token (`closeloop token create --user <email>`)"
    )
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(Approval.status).where(Approval.id == approval["id"])) == "pending"
        assert await s.scalar(select(ApprovalAssignment.status)) == "pending"
    # The director's own token decides.
    done = await decide(client, org, approval["id"], org.marketing_director)
    assert done["status"] == "approved"
