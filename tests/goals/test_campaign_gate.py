"""Quarterly marketing plans are approved by management before their campaigns start (seed 002
四、(一) 2. 季度营销计划应提交给公司管理层审批后执行): a campaign serving a quarterly goal — or one of its
months — cannot start its workflow or become active until that goal is approved."""

from __future__ import annotations

from tests.approvals.conftest import make_campaign
from tests.goals.conftest import ask_approval, decide, fields, goal


async def test_a_campaign_of_an_unapproved_quarterly_plan_cannot_start(sessions, client, org):
    q4 = await goal(
        client,
        org,
        title="Q4 营销计划",
        department_id=org.marketing.id,
        metric="leads",
        period="2026-Q4",
        target="3000",
    )
    nov = await goal(client, org, title="十一月", parent_id=q4["id"], metric="leads", period="2026-11", target="3000")
    headers = org.headers(org.planner)
    campaign = {"name": "双十一大促", "department_id": org.marketing.id}
    for goal_id in (q4["id"], nov["id"]):
        r = await client.post(
            "/api/v1/campaigns",
            headers=headers,
            json={**campaign, "goal_id": goal_id, "template_key": "campaign_default"},
        )
        assert r.status_code == 409, r.text
        assert fields(r.json()) == ["goal_id"]
        assert f"goal {q4['id']} 'Q4 营销计划' (2026-Q4), which is draft" in r.json()["detail"]
    r = await client.post("/api/v1/campaigns", headers=headers, json={**campaign, "goal_id": nov["id"]})
    assert r.status_code == 201, r.text  # drafting is fine
    draft = r.json()
    assert draft["goal_id"] == nov["id"]
    r = await client.post(f"/api/v1/campaigns/{draft['id']}/start", headers=headers)
    assert (r.status_code, fields(r.json())) == (409, ["goal_id"])
    r = await client.post("/api/v1/campaigns", headers=headers, json={**campaign, "goal_id": 999999})
    assert (r.status_code, fields(r.json())) == (422, ["body.goal_id"])

    await decide(client, org, (await ask_approval(client, org, q4["id"]))["approval_id"], org.marketing_director)
    r = await client.post(f"/api/v1/campaigns/{draft['id']}/start", headers=headers)
    # The plan is approved; the draft itself still needs its campaign approval (the budget's signature).
    assert (r.status_code, fields(r.json())) == (409, ["approval"]), r.text
    r = await client.post(
        "/api/v1/campaigns", headers=headers, json={**campaign, "goal_id": q4["id"], "template_key": "campaign_default"}
    )
    assert r.status_code == 201, r.text


async def test_a_running_campaign_cannot_be_moved_under_an_unapproved_plan(sessions, client, org):
    q1 = await goal(
        client, org, title="Q1 计划", department_id=org.marketing.id, metric="leads", period="2026-Q1", target="10"
    )
    headers = org.headers(org.planner)
    # A new campaign is a draft while a campaign approval rule is in force: one already running.
    r = await client.post("/api/v1/campaigns", headers=headers, json={"name": "春季", "status": "active"})
    assert (r.status_code, fields(r.json())) == (422, ["body.status"])
    running = await make_campaign(sessions, org, name="春季", status="active")
    r = await client.patch(f"/api/v1/campaigns/{running.id}", headers=headers, json={"goal_id": q1["id"]})
    assert (r.status_code, fields(r.json())) == (409, ["goal_id"])
    year = await goal(
        client, org, title="年度", department_id=org.marketing.id, metric="leads", period="2026", target="10"
    )
    other = await make_campaign(sessions, org, name="年度品牌", status="active")
    r = await client.patch(f"/api/v1/campaigns/{other.id}", headers=headers, json={"goal_id": year["id"]})
    assert r.status_code == 200, r.text  # only quarterly plans gate their campaigns
