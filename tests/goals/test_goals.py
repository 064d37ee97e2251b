"""Goals that cascade (seed 002 三、(一) 目标分解 / 目标调整): annual → quarterly → monthly, children
consistent with their parent for summable metrics, approved before they bind, changed afterwards
only through an approved adjustment; actuals roll up into progress."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.goals.models import Goal, GoalActual, GoalAdjustment
from shared.models import Approval, AuditLog
from tests.goals.conftest import YEAR, approval_of, ask_approval, decide, fields, get, goal


async def count(sessions, model) -> int:
    async with unit_of_work(sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_quarterly_targets_say_by_how_much_they_differ_from_the_annual_one(sessions, client, org):
    year = await goal(client, org, title="2026 全年线索", target="20000", department_id=org.marketing.id, **YEAR)
    assert (year["summable"], year["children_count"], year["children_target_sum"]) == (True, 0, None)
    for q, target in ((1, "5000"), (2, "5000"), (3, "4000")):
        child = await goal(
            client, org, title=f"Q{q} 线索", parent_id=year["id"], period=f"2026-Q{q}", metric="leads", target=target
        )
        assert (child["department_id"], child["period_kind"]) == (
            org.marketing.id,
            "quarter",
        )  # the parent's department
    read = await get(client, org, year["id"])
    assert (read["children_count"], read["children_target_sum"], read["children_difference"]) == (
        3,
        "14000.0000",
        "-6000.0000",
    )

    r = await client.post(f"/api/v1/goals/{year['id']}/approval", headers=org.headers(org.manager), json={})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert fields(r.json()) == ["body.children"]
    assert "6000 less than its target 20000" in r.json()["errors"][0]["message"]
    assert await count(sessions, Approval) == 0

    await goal(client, org, title="Q4 线索", parent_id=year["id"], period="2026-Q4", metric="leads", target="6000")
    read = await get(client, org, year["id"])
    assert (read["children_target_sum"], read["children_difference"]) == ("20000.0000", "0.0000")


async def test_a_child_that_would_exceed_its_parent_is_refused_naming_the_target_and_nothing_is_written(
    sessions, client, org
):
    year = await goal(
        client,
        org,
        title="2026 营收",
        department_id=org.marketing.id,
        metric="revenue",
        period="2026",
        target="1000000",
    )
    q1 = await goal(client, org, title="Q1", parent_id=year["id"], period="2026-Q1", metric="revenue", target="600000")
    before = await count(sessions, Goal)
    r = await client.post(
        "/api/v1/goals",
        headers=org.headers(org.marketing_director),
        json={"title": "Q2", "parent_id": year["id"], "period": "2026-Q2", "metric": "revenue", "target": "450000.50"},
    )
    assert r.status_code == 422, r.text
    assert fields(r.json()) == ["body.target"]
    assert "1050000.5, 50000.5 more than its target 1000000" in r.json()["errors"][0]["message"]
    assert await count(sessions, Goal) == before
    # Raising a child past the parent, or lowering the parent below its children, is refused the same way.
    r = await client.patch(f"/api/v1/goals/{q1['id']}", headers=org.headers(org.manager), json={"target": "1000001"})
    assert (r.status_code, fields(r.json())) == (422, ["body.target"])
    r = await client.patch(f"/api/v1/goals/{year['id']}", headers=org.headers(org.manager), json={"target": "500000"})
    assert (r.status_code, fields(r.json())) == (422, ["body.target"])
    assert (await get(client, org, q1["id"]))["target"] == "600000.0000"


async def test_bad_goals_are_422_naming_every_field(sessions, client, org):
    year = await goal(client, org, title="2026 线索", department_id=org.marketing.id, target="20000", **YEAR)
    for body, want in (
        ({"title": "x", "metric": "leads", "period": "2026-Q5", "target": "1"}, ["body.period"]),
        ({"title": "x", "metric": "leads", "period": "2026", "target": "-1"}, ["body.target"]),
        ({"title": "x", "metric": "Leads!", "period": "2026", "target": "1"}, ["body.metric"]),
        # A month directly under a year, on another metric, in another department:
        (
            {
                "title": "x",
                "parent_id": year["id"],
                "metric": "revenue",
                "period": "2026-03",
                "target": "1",
                "department_id": org.finance.id,
            },
            ["body.metric", "body.period", "body.department_id"],
        ),
        (
            {"title": "x", "parent_id": 999999, "metric": "leads", "period": "2026-Q1", "target": "1"},
            ["body.parent_id"],
        ),
    ):
        r = await client.post("/api/v1/goals", headers=org.headers(org.ceo), json=body)
        assert r.status_code == 422, (body, r.text)
        assert fields(r.json()) == want, body
    q1 = await goal(client, org, title="Q1", parent_id=year["id"], period="2026-Q1", metric="leads", target="5000")
    r = await client.post(
        "/api/v1/goals",
        headers=org.headers(org.marketing_director),
        json={"title": "四月", "parent_id": q1["id"], "metric": "leads", "period": "2026-04", "target": "1"},
    )
    assert (r.status_code, fields(r.json())) == (422, ["body.period"])
    assert "a month of 2026-Q1" in r.json()["errors"][0]["message"]
    assert await count(sessions, Goal) == 2
    # Company goals are a manager's to draft.
    r = await client.post("/api/v1/goals", headers=org.headers(org.planner), json={"title": "x", "target": "1", **YEAR})
    assert r.status_code == 403, r.text


async def test_rates_do_not_add_up_so_their_children_are_exempt(sessions, client, org):
    year = await goal(
        client,
        org,
        title="2026 转化率",
        department_id=org.marketing.id,
        metric="conversion_rate",
        period="2026",
        target="8",
    )
    await goal(client, org, title="Q1", parent_id=year["id"], period="2026-Q1", metric="conversion_rate", target="8")
    await goal(client, org, title="Q2", parent_id=year["id"], period="2026-Q2", metric="conversion_rate", target="9")
    read = await get(client, org, year["id"])
    assert (read["summable"], read["children_count"], read["children_target_sum"], read["children_difference"]) == (
        False,
        2,
        None,
        None,
    )
    assert (await ask_approval(client, org, year["id"]))["status"] == "pending"


async def test_a_department_goal_is_approved_by_its_head_then_read_only(sessions, client, org):
    year = await goal(client, org, title="2026 线索", department_id=org.marketing.id, target="20000", **YEAR)
    r = await client.patch(f"/api/v1/goals/{year['id']}", headers=org.headers(org.manager), json={"target": "21000"})
    assert r.status_code == 200 and r.json()["target"] == "21000.0000"  # a draft is edited directly
    pending = await ask_approval(client, org, year["id"])
    assert pending["status"] == "pending"
    approval = await approval_of(client, org, pending["approval_id"])
    assert (approval["kind"], approval["campaign_id"], approval["department_id"]) == ("goal", None, org.marketing.id)
    assert approval["details"]["goal_id"] == year["id"]
    assert approval["steps"][0]["approver_ids"] == [org.marketing_director.id]
    r = await client.patch(f"/api/v1/goals/{year['id']}", headers=org.headers(org.manager), json={"title": "x"})
    assert r.status_code == 409, r.text  # under review

    await decide(client, org, pending["approval_id"], org.marketing_director)
    read = await get(client, org, year["id"])
    assert (read["status"], read["approved_at"]) == ("approved", "2026-03-02T02:00:00Z")
    r = await client.patch(
        f"/api/v1/goals/{year['id']}", headers=org.headers(org.marketing_director), json={"target": "1"}
    )
    assert r.status_code == 409, r.text
    assert fields(r.json()) == ["status"] and "adjustment" in r.json()["detail"]
    assert (await get(client, org, year["id"]))["target"] == "21000.0000"


async def test_a_rejected_goal_is_a_draft_again_and_a_company_goal_goes_to_the_director(sessions, client, org):
    company = await goal(client, org, title="公司 2026 营收", metric="revenue", period="2026", target="5000000")
    assert company["department_id"] is None
    pending = await ask_approval(client, org, company["id"], user=org.marketing_director)
    approval = await approval_of(client, org, pending["approval_id"])
    # The requester's manager's manager: 王总监 → 吴CMO → 周总裁.
    assert approval["steps"][0]["approver_ids"] == [org.ceo.id]
    await decide(client, org, pending["approval_id"], org.ceo, "reject", reason="再拆分到季度")
    assert (await get(client, org, company["id"]))["status"] == "draft"
    r = await client.patch(
        f"/api/v1/goals/{company['id']}", headers=org.headers(org.marketing_director), json={"target": "4800000"}
    )
    assert r.status_code == 200, r.text


async def test_an_adjustment_changes_an_approved_target_only_once_approved_and_keeps_the_history(sessions, client, org):
    year = await goal(client, org, title="2026 线索", department_id=org.marketing.id, target="20000", **YEAR)
    q3 = await goal(client, org, title="Q3 线索", parent_id=year["id"], period="2026-Q3", metric="leads", target="5000")
    await decide(client, org, (await ask_approval(client, org, q3["id"]))["approval_id"], org.marketing_director)
    url = f"/api/v1/goals/{q3['id']}/adjustments"
    r = await client.post(url, headers=org.headers(org.manager), json={"target": "4000"})
    assert (r.status_code, fields(r.json())) == (422, ["body.reason"])
    r = await client.post(url, headers=org.headers(org.manager), json={"target": "30000", "reason": "x"})
    assert (r.status_code, fields(r.json())) == (422, ["body.target"])  # beyond the annual goal
    r = await client.post(url, headers=org.headers(org.manager), json={"target": "4000", "reason": "市场需求下降"})
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["status"], first["target_from"], first["target_to"]) == ("pending", "5000.0000", "4000.0000")
    approval = await approval_of(client, org, first["approval_id"])
    assert (approval["kind"], approval["reason"]) == ("goal_adjustment", "市场需求下降")
    assert (await get(client, org, q3["id"]))["target"] == "5000.0000"  # not before it is approved
    r = await client.post(url, headers=org.headers(org.manager), json={"target": "3000", "reason": "again"})
    assert r.status_code == 409, r.text  # one pending at a time

    await decide(client, org, first["approval_id"], org.marketing_director)
    assert (await get(client, org, q3["id"]))["target"] == "4000.0000"
    second = (
        await client.post(url, headers=org.headers(org.manager), json={"target": "3000", "reason": "再降"})
    ).json()
    await decide(client, org, second["approval_id"], org.marketing_director, "reject", reason="不同意")
    assert (await get(client, org, q3["id"]))["target"] == "4000.0000"
    history = await get(client, org, q3["id"], "/adjustments")
    assert [(a["target_from"], a["target_to"], a["status"]) for a in history] == [
        ("5000.0000", "4000.0000", "approved"),
        ("4000.0000", "3000.0000", "rejected"),
    ]
    async with unit_of_work(sessions) as s:
        changes = list(
            await s.scalars(
                select(AuditLog).where(
                    AuditLog.entity_type == "goal", AuditLog.entity_id == q3["id"], AuditLog.action == "update"
                )
            )
        )
    assert any(a.before.get("target") == "5000.0000" and a.after.get("target") == "4000.0000" for a in changes)
    assert await count(sessions, GoalAdjustment) == 2
    # A draft has nothing to adjust: it is edited directly.
    draft = await goal(client, org, title="Q4", parent_id=year["id"], period="2026-Q4", metric="leads", target="1")
    r = await client.post(
        f"/api/v1/goals/{draft['id']}/adjustments",
        headers=org.headers(org.manager),
        json={"target": "2", "reason": "x"},
    )
    assert r.status_code == 409, r.text


async def test_a_cancelled_approval_leaves_the_goal_a_draft(sessions, client, org):
    year = await goal(client, org, title="2026 线索", department_id=org.marketing.id, target="20000", **YEAR)
    pending = await ask_approval(client, org, year["id"])
    r = await client.post(
        f"/api/v1/approvals/{pending['approval_id']}/cancel", headers=org.headers(org.manager), json={}
    )
    assert r.status_code == 200, r.text
    r = await client.patch(f"/api/v1/goals/{year['id']}", headers=org.headers(org.manager), json={"target": "1"})
    assert (r.status_code, r.json()["status"]) == (200, "draft")


async def test_progress_rolls_up_exact_attainment_from_the_children(sessions, client, org):
    year = await goal(client, org, title="2026 线索", department_id=org.marketing.id, target="20000", **YEAR)
    q1 = await goal(client, org, title="Q1", parent_id=year["id"], period="2026-Q1", metric="leads", target="5000")
    q2 = await goal(client, org, title="Q2", parent_id=year["id"], period="2026-Q2", metric="leads", target="5000")
    jan = await goal(client, org, title="一月", parent_id=q1["id"], period="2026-01", metric="leads", target="1500")
    for g, value in ((jan, "1000"), (q1, "3200"), (q2, "1000"), (q2, "2000")):  # q2: the latest report counts
        r = await client.post(
            f"/api/v1/goals/{g['id']}/actuals", headers=org.headers(org.planner), json={"value": value, "source": "CRM"}
        )
        assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/goals/{q1['id']}/actuals", headers=org.headers(org.planner), json={"value": "-5"})
    assert (r.status_code, fields(r.json())) == (422, ["body.value"])
    assert await count(sessions, GoalActual) == 4

    p = await get(client, org, year["id"], "/progress")
    # Q1: its own 3200 + January's 1000 = 4200 of 5000 → 84 % (the seed's 5000 → 4200, −16 %).
    q1p = p["children"][0]
    assert (q1p["target"], q1p["actual"], q1p["attainment_pct"]) == ("5000.0000", "4200.0000", "84.00")
    assert q1p["children"][0]["attainment_pct"] == "66.67"  # 1000 / 1500, half-up
    assert (p["children"][1]["actual"], p["children"][1]["attainment_pct"]) == ("2000.0000", "40.00")
    assert (p["actual"], p["attainment_pct"], p["note"]) == ("6200.0000", "31.00", None)

    rate = await goal(
        client, org, title="转化率", department_id=org.marketing.id, metric="conversion_rate", period="2026", target="8"
    )
    empty = await get(client, org, rate["id"], "/progress")
    assert (empty["actual"], empty["attainment_pct"], empty["note"]) == (None, None, "nothing reported yet")
    await client.post(f"/api/v1/goals/{rate['id']}/actuals", headers=org.headers(org.planner), json={"value": "10"})
    assert (await get(client, org, rate["id"], "/progress"))["attainment_pct"] == "125.00"  # 8 % → 10 %: +25 %


async def test_boards_filter_goals(sessions, client, org):
    company = await goal(client, org, title="公司营收", metric="revenue", period="2026", target="100")
    year = await goal(client, org, title="部门线索", department_id=org.marketing.id, target="20000", **YEAR)
    q1 = await goal(client, org, title="Q1", parent_id=year["id"], period="2026-Q1", metric="leads", target="5000")
    headers = org.headers(org.planner)
    for params, want in (
        ({"company": "true"}, [company["id"]]),
        ({"department_id": org.marketing.id, "top_level": "true"}, [year["id"]]),
        ({"parent_id": year["id"]}, [q1["id"]]),
        ({"period": "2026-Q1"}, [q1["id"]]),
        ({"metric": "revenue"}, [company["id"]]),
    ):
        r = await client.get("/api/v1/goals", headers=headers, params=params)
        assert r.status_code == 200, r.text
        assert [g["id"] for g in r.json()["items"]] == want, params


async def test_only_a_draft_goal_without_children_is_deleted(sessions, client, org):
    year = await goal(client, org, title="2026 线索", department_id=org.marketing.id, target="20000", **YEAR)
    q1 = await goal(client, org, title="Q1", parent_id=year["id"], period="2026-Q1", metric="leads", target="5000")
    headers = org.headers(org.manager)
    r = await client.delete(f"/api/v1/goals/{year['id']}", headers=headers)
    assert (r.status_code, fields(r.json())) == (409, ["children"])
    await decide(client, org, (await ask_approval(client, org, q1["id"]))["approval_id"], org.marketing_director)
    r = await client.delete(f"/api/v1/goals/{q1['id']}", headers=headers)
    assert (r.status_code, fields(r.json())) == (409, ["status"])
    draft = await goal(client, org, title="Q2", parent_id=year["id"], period="2026-Q2", metric="leads", target="5000")
    assert (await client.delete(f"/api/v1/goals/{draft['id']}", headers=headers)).status_code == 204
    assert await count(sessions, Goal) == 2
    # A draft with reported actuals has history: it stays (409 naming it), its actuals with it.
    reported = await goal(client, org, title="Q3", parent_id=year["id"], period="2026-Q3", metric="leads", target="5")
    r = await client.post(f"/api/v1/goals/{reported['id']}/actuals", headers=headers, json={"value": "3"})
    assert r.status_code == 201, r.text
    r = await client.delete(f"/api/v1/goals/{reported['id']}", headers=headers)
    assert (r.status_code, fields(r.json())) == (409, ["goal"])
    assert await count(sessions, Goal) == 3


async def test_a_goals_actual_rolls_up_from_the_kpis_of_the_campaigns_serving_it(sessions, client, org):
    year = await goal(client, org, title="2026 线索", department_id=org.marketing.id, target="20000", **YEAR)
    rate = await goal(
        client, org, title="转化率", department_id=org.marketing.id, metric="conversion_rate", period="2026", target="8"
    )
    headers = org.headers(org.planner)
    for name, leads, conversion in (("春季", "4200", "10"), ("夏季", "1800", "6")):
        for target_goal, key, value in ((year, "leads", leads), (rate, "conversion_rate", conversion)):
            r = await client.post(
                "/api/v1/campaigns",
                headers=headers,
                json={"name": f"{name} {key}", "department_id": org.marketing.id, "goal_id": target_goal["id"]},
            )
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            kpi = await client.post(
                f"/api/v1/campaigns/{cid}/kpis",
                headers=headers,
                json={"metric_key": key, "target": value, "owner_id": org.planner.id},
            )
            assert kpi.status_code == 201, kpi.text
            reading = await client.post(
                f"/api/v1/campaigns/{cid}/kpis/{kpi.json()['id']}/readings", headers=headers, json={"value": value}
            )
            assert reading.status_code == 201, reading.text
    p = await get(client, org, year["id"], "/progress")
    assert (p["actual"], p["attainment_pct"]) == ("6000.0000", "30.00")  # 4200 + 1800 leads of 20 000
    r = await get(client, org, rate["id"], "/progress")
    assert (r["actual"], r["attainment_pct"]) == ("8.0000", "100.00")  # a rate averages: (10 + 6) / 2
