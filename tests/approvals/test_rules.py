"""Approval rules: validated field by field, and the rule that chooses the chain."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update

from shared.approvals.rules import choose_rule
from shared.db import unit_of_work
from shared.errors import Conflict
from shared.models import ApprovalKind, ApprovalRule, AuditLog
from shared.workflow.defaults import BUDGET_CHANGE_RULE
from tests.approvals.conftest import add_rule, count, make_campaign


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"steps": [{"mode": "one", "approvers": ["boss"]}]}, "body.steps[0].approvers[0]"),
        ({"steps": [{"mode": "one", "approvers": ["user:999999"]}]}, "body.steps[0].approvers[0]"),
        ({"steps": [{"mode": "one", "approvers": ["department:999999"]}]}, "body.steps[0].approvers[0]"),
        (
            {"steps": [{"mode": "one", "approvers": ["department_head"]}, {"mode": "any", "approvers": ["x"]}]},
            "body.steps[1].approvers[0]",
        ),
        ({"steps": [{"mode": "one", "approvers": ["department_head", "campaign_owner"]}]}, "body.steps[0].approvers"),
        ({"steps": [{"mode": "some", "approvers": ["department_head"]}]}, "body.steps[0].mode"),
        ({"steps": []}, "body.steps"),
        ({"steps": [{"mode": "one", "approvers": ["director"]}] * 11}, "body.steps"),
        (
            {
                "steps": [
                    {"mode": "one", "approvers": ["director"], "time_limit": {"kind": "calendar", "value": "2 hours"}}
                ]
            },
            "body.steps[0].time_limit.value",
        ),
        (
            {"steps": [{"mode": "one", "approvers": ["director"], "time_limit": {"kind": "weeks", "value": "1"}}]},
            "body.steps[0].time_limit.kind",
        ),
        ({"conditions": {"budget_above": 10}}, "body.conditions.budget_above"),
        ({"conditions": {"budget_over": "lots"}}, "body.conditions.budget_over"),
        ({"conditions": {"major": False}}, "body.conditions.major"),
        ({"conditions": {"stage_keys": ["execution"]}}, "body.conditions.stage_keys"),  # kind campaign
        ({"conditions": {"department_ids": [999999]}}, "body.conditions.department_ids[0]"),
    ],
)
async def test_a_bad_rule_is_refused_naming_the_field_and_nothing_is_written(sessions, client, org, rule, field):
    rules_before, audit_before = await count(sessions, ApprovalRule), await count(sessions, AuditLog)
    body = {"name": "坏规则", "kind": "campaign", "steps": [{"mode": "one", "approvers": ["department_head"]}], **rule}
    r = await client.post("/api/v1/approval-rules", headers=org.headers(org.ceo), json=body)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await count(sessions, ApprovalRule) == rules_before
    assert await count(sessions, AuditLog) == audit_before


async def test_rules_are_written_by_managers_only_and_names_are_unique(sessions, client, org):
    body = {"name": "领导班子审批", "kind": "campaign", "steps": [{"mode": "one", "approvers": ["director"]}]}
    r = await client.post("/api/v1/approval-rules", headers=org.headers(org.planner), json=body)
    assert r.status_code == 403
    rule = await add_rule(client, org, **body)
    assert rule["steps"] == [{"name": "第 1 步 Step 1", "mode": "one", "approvers": ["director"], "time_limit": None}]
    r = await client.post("/api/v1/approval-rules", headers=org.headers(org.ceo), json=body)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.name"

    r = await client.patch(
        f"/api/v1/approval-rules/{rule['id']}",
        headers=org.headers(org.ceo),
        json={"steps": [{"mode": "all", "approvers": [f"user:{org.ceo.id}", "bogus"]}]},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.steps[0].approvers[1]"
    r = await client.patch(
        f"/api/v1/approval-rules/{rule['id']}", headers=org.headers(org.ceo), json={"priority": 5, "enabled": False}
    )
    assert r.status_code == 200 and r.json()["priority"] == 5 and r.json()["enabled"] is False
    r = await client.get("/api/v1/approval-rules?kind=campaign", headers=org.headers(org.planner))
    assert r.status_code == 200 and len(r.json()["items"]) == 2  # the seeded routine rule and this one
    r = await client.delete(f"/api/v1/approval-rules/{rule['id']}", headers=org.headers(org.ceo))
    assert r.status_code == 204
    r = await client.get(f"/api/v1/approval-rules/{rule['id']}", headers=org.headers(org.ceo))
    assert r.status_code == 404


async def test_budget_over_or_major_picks_the_leadership_rule_else_the_routine_one(sessions, client, org):
    leadership = await add_rule(
        client,
        org,
        name="重大活动 领导班子",
        kind="campaign",
        priority=10,
        conditions={"budget_over": 500000, "major": True},
        steps=[{"mode": "all", "approvers": [f"user:{org.ceo.id}", f"user:{org.cmo.id}"]}],
    )
    routine = await make_campaign(sessions, org, budget=Decimal("500000"))
    major = await make_campaign(sessions, org, budget=Decimal("1000"), is_major=True)
    big = await make_campaign(sessions, org, budget=Decimal("500000.01"))
    async with unit_of_work(sessions) as s:
        assert (await choose_rule(s, "campaign", routine)).priority == 1000
        assert (await choose_rule(s, "campaign", major)).id == leadership["id"]
        assert (await choose_rule(s, "campaign", big)).id == leadership["id"]
        # A budget change gets the seeded 双签 rule; with no rule of that kind → 409 on `kind`.
        assert (await choose_rule(s, "budget_change", routine, None, Decimal("600000"))).name == BUDGET_CHANGE_RULE
        await s.execute(update(ApprovalRule).where(ApprovalRule.kind == "budget_change").values(enabled=False))
        with pytest.raises(Conflict) as exc:
            await choose_rule(s, "budget_change", routine, None, Decimal("600000"))
        assert exc.value.errors[0].field == "kind"


async def test_a_value_outside_its_set_reads_the_same_whoever_finds_it(sessions, client, org):
    steps = [{"mode": "some", "approvers": ["director"]}]  # the rules module checks a step's mode
    r = await client.post(
        "/api/v1/approval-rules", headers=org.headers(org.ceo), json={"name": "x", "kind": "campaign", "steps": steps}
    )
    assert r.json()["errors"][0]["message"] == "must be one of: one, all, any"
    r = await client.post(  # pydantic checks the rule's kind
        "/api/v1/approval-rules", headers=org.headers(org.ceo), json={"name": "x", "kind": "other", "steps": steps}
    )
    assert r.json()["errors"][0]["message"] == "must be one of: " + ", ".join(ApprovalKind)
