"""The planning gate waits for a big promotion's ROI estimate: the default template's `plan` stage
cannot be left until it is in (409 naming `roi_estimate`); an ordinary campaign's plan does not wait."""

from __future__ import annotations

from tests.roi.helpers import REPORT, call, finish, promotion


async def test_the_plan_stage_of_a_big_promotion_waits_for_its_roi_estimate(client, sessions, clock, org):
    campaign = await promotion(client, org, start_date="2025-04-01", template_key="campaign_default")
    cid = campaign["id"]
    await finish(client, org, cid, "research", "research_report", ["competitors", "pain_point"])
    await call(client, org, "owner", "POST", f"/campaigns/{cid}/stages/research/advance")
    await finish(client, org, cid, "plan", "campaign_plan", ["smart_goals", "budget_error"])

    problem = await call(client, org, "owner", "POST", f"/campaigns/{cid}/stages/plan/advance", expect=409)
    (unmet,) = problem["errors"]
    assert unmet["field"] == "roi_estimate" and unmet["type"] == "gate"
    assert "ROI 测算报告" in unmet["message"] and "due 2025-03-17T00:00:00+08:00" in unmet["message"]

    template = await call(client, org, "director", "GET", "/workflow-templates/campaign_default")
    assert [s["key"] for s in template["stages"] if s["requires_roi_estimate"]] == ["plan"]

    await call(client, org, "owner", "PUT", f"/campaigns/{cid}/roi-estimate", **REPORT)
    await call(client, org, "owner", "POST", f"/campaigns/{cid}/stages/plan/advance")
    stages = (await call(client, org, "owner", "GET", f"/campaigns/{cid}/stages"))["items"]
    assert {s["key"]: s["status"] for s in stages}["review"] == "active"


async def test_the_plan_stage_of_an_ordinary_campaign_does_not_wait(client, sessions, clock, org):
    campaign = await call(
        client, org, "owner", "POST", "/campaigns", expect=201, name="日常推广", template_key="campaign_default"
    )
    cid = campaign["id"]
    await finish(client, org, cid, "research", "research_report", ["competitors", "pain_point"])
    await call(client, org, "owner", "POST", f"/campaigns/{cid}/stages/research/advance")
    await finish(client, org, cid, "plan", "campaign_plan", ["smart_goals", "budget_error"])
    await call(client, org, "owner", "POST", f"/campaigns/{cid}/stages/plan/advance")
