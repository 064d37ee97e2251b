"""Seed 004's money rules: beyond 115 % of a line's plan an expense needs both directors (专项审批);
a budget change needs both directors (双签) from a new install on, and draft is no way around it."""

from __future__ import annotations

from decimal import Decimal

from shared.db import unit_of_work
from shared.models import Campaign
from shared.workflow.defaults import BUDGET_CHANGE_RULE, LINE_OVERRUN_RULE
from tests.approvals.conftest import decide, make_campaign, request
from tests.budget.conftest import call, point_dual_sign_at_directors, rule_named


async def _line(client, org, campaign_id: int, planned: str, category: str) -> dict:
    path = f"/campaigns/{campaign_id}/budget-lines"
    return await call(client, org, org.planner, "POST", path, 201, category=category, planned=planned)


async def _approval_of(client, org, line_id: int, amount: str, user=None) -> tuple[dict, dict]:
    expense = await call(client, org, user or org.planner, "POST", "/expenses", 201, line_id=line_id, amount=amount)
    return expense, await call(client, org, org.planner, "GET", f"/approvals/{expense['approval_id']}")


async def test_an_expense_beyond_115_percent_of_its_line_needs_both_directors(sessions, client, org):
    await point_dual_sign_at_directors(client, org)
    special = await rule_named(client, org, LINE_OVERRUN_RULE)
    assert special["conditions"] == {"line_overrun_pct_over": 15}
    campaign = await make_campaign(sessions, org, status="active")
    media = await _line(client, org, campaign.id, "10000", "media")
    gifts = await _line(client, org, campaign.id, "10000", "gifts")
    events = await _line(client, org, campaign.id, "10000", "events")

    _, at_limit = await _approval_of(client, org, media["id"], "11500")  # exactly 115 %: the routine chain
    assert at_limit["rule_id"] != special["id"] and at_limit["details"]["line_overrun_pct"] == "15.00"
    assert at_limit["steps"][0]["approver_ids"] == [org.marketing_director.id]

    expense, beyond = await _approval_of(client, org, gifts["id"], "11500.01")
    assert beyond["rule_id"] == special["id"] and beyond["details"]["line_overrun_pct"] == "15.00"
    assert beyond["steps"][0]["mode"] == "all"
    assert beyond["steps"][0]["approver_ids"] == [org.marketing_director.id, org.finance_director.id]
    # The department head alone does not approve it.
    await decide(client, org, beyond["id"], org.marketing_director)
    assert (await call(client, org, org.planner, "GET", f"/expenses/{expense['id']}"))["status"] == "requested"
    await decide(client, org, beyond["id"], org.finance_director)
    assert (await call(client, org, org.planner, "GET", f"/expenses/{expense['id']}"))["status"] == "approved"

    # Expenses still waiting count too: two of 6 000 would take the line to 120 %.
    _, first = await _approval_of(client, org, events["id"], "6000")
    _, second = await _approval_of(client, org, events["id"], "6000")
    assert first["rule_id"] != special["id"] and second["rule_id"] == special["id"]
    assert second["details"]["line_overrun_pct"] == "20.00"


async def test_the_seeded_special_chain_reads_roles_until_the_directors_are_named(sessions, client, org):
    special = await rule_named(client, org, LINE_OVERRUN_RULE)
    assert special["steps"][0]["approvers"] == ["department_head", "director"]
    campaign = await make_campaign(sessions, org, status="active")
    line = await _line(client, org, campaign.id, "1000", "media")
    # The manager asks: the campaign department's head and the manager's director, both.
    _, approval = await _approval_of(client, org, line["id"], "2000", user=org.manager)
    assert approval["rule_id"] == special["id"]
    assert approval["steps"][0]["approver_ids"] == [org.marketing_director.id, org.cmo.id]


async def test_rule_condition_line_overrun_is_checked(client, org):
    for conditions, field in (
        ({"line_overrun_pct_over": -1}, "body.conditions.line_overrun_pct_over"),
        ({"line_overrun_pct_over": "15"}, "body.conditions.line_overrun_pct_over"),
    ):
        r = await client.post(
            "/api/v1/approval-rules",
            headers=org.headers(org.ceo),
            json={"name": "x", "kind": "expense", "conditions": conditions, "steps": [{"approvers": ["director"]}]},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    r = await client.post(
        "/api/v1/approval-rules",
        headers=org.headers(org.ceo),
        json={
            "name": "x",
            "kind": "campaign",
            "conditions": {"line_overrun_pct_over": 15},
            "steps": [{"approvers": ["director"]}],
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.conditions.line_overrun_pct_over"


async def test_a_budget_change_needs_both_directors_and_draft_is_no_way_around_it(sessions, client, org):
    campaign = await make_campaign(sessions, org, status="active")
    planner = org.headers(org.planner)
    path = f"/api/v1/campaigns/{campaign.id}"
    # A new install seeds the 双签 rule: the budget is not edited directly.
    r = await client.patch(path, headers=planner, json={"budget": "130000"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.budget", r.text
    # Back to draft, change, active again: refused at the first step (and all at once too).
    # A status is never set by PATCH (422 naming it); no action leads back to draft.
    r = await client.patch(path, headers=planner, json={"status": "draft"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.status", r.text
    r = await client.patch(path, headers=org.headers(org.ceo), json={"status": "draft", "budget": "130000"})
    assert r.status_code == 422
    async with unit_of_work(sessions) as s:
        row = await s.get_one(Campaign, campaign.id)
        assert (row.status.value, row.budget) == ("active", Decimal("100000"))

    # A draft is still planned freely, until it leaves draft.
    draft = await make_campaign(sessions, org, name="春节")
    r = await client.patch(f"/api/v1/campaigns/{draft.id}", headers=planner, json={"budget": "80000"})
    assert r.status_code == 200, r.text
    # Leaving draft skips no signature: not by PATCH, and not by `start` before its campaign approval.
    r = await client.patch(f"/api/v1/campaigns/{draft.id}", headers=planner, json={"status": "active"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.status", r.text
    r = await client.post(f"/api/v1/campaigns/{draft.id}/start", headers=planner)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "approval", r.text

    # The change goes through the seeded rule: both directors sign, then it applies.
    await point_dual_sign_at_directors(client, org)
    approval = await request(client, org, kind="budget_change", campaign_id=campaign.id, budget="130000")
    assert approval["rule_id"] == (await rule_named(client, org, BUDGET_CHANGE_RULE))["id"]
    assert approval["steps"][0]["approver_ids"] == [org.marketing_director.id, org.finance_director.id]
    await decide(client, org, approval["id"], org.marketing_director)
    await decide(client, org, approval["id"], org.finance_director)
    r = await client.get(path, headers=planner)
    assert r.json()["budget"] == "130000.00"
