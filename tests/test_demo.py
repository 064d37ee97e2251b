"""`make run` seeds demo data on every start: doing it twice must change nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.budget.models import BudgetLine, Expense
from shared.db import unit_of_work
from shared.demo import seed_demo
from shared.goals.models import Goal
from shared.models import ApiToken, AuditLog, Campaign, Department, SlaPolicy, SlaTimer, Task, User


async def counts(sessions) -> dict[str, int]:
    async with unit_of_work(sessions) as s:
        return {
            m.__name__: await s.scalar(select(func.count()).select_from(m))
            for m in (
                Department,
                User,
                Campaign,
                Task,
                ApiToken,
                AuditLog,
                SlaPolicy,
                SlaTimer,
                Goal,
                BudgetLine,
                Expense,
            )
        }


async def test_demo_seed_is_idempotent(sessions, clock, client):
    token = "cl_demo_" + "d" * 30
    async with unit_of_work(sessions) as s:
        await seed_demo(s, admin_token=token, now=clock.now())
    first = await counts(sessions)
    assert first["Department"] == 6 and first["Task"] == 3 and first["User"] == 6
    # tasks, campaign stages, reviews (+ resubmission), reviewers, approvers, collaboration, feedback, complaints,
    # (2 h, 1 h for high or urgent ones, resolution in 3 working days), rectification items,
    # big promotions' ROI estimates, KPI variances, risk reviews
    assert first["SlaPolicy"] == 15
    # the default task policy runs on each task (3); the leads KPI's variance (−16 %) waits for a cause (1);
    # the director's timer on each demo expense's approval (2: one met, one running); each risk's next
    # review (2) and the rectification item (1)
    assert first["SlaTimer"] == 9
    assert first["Goal"] == 5  # a company annual goal and its four quarters
    assert first["BudgetLine"] == 4 and first["Expense"] == 2
    async with unit_of_work(sessions) as s:
        await seed_demo(s, admin_token=token, now=clock.now())
    assert await counts(sessions) == first
    tasks = await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}, params={"overdue": "true"})
    assert len(tasks.json()["items"]) == 1
    headers = {"Authorization": f"Bearer {token}"}
    year = (await client.get("/api/v1/goals", headers=headers, params={"top_level": "true"})).json()["items"][0]
    assert (year["department_id"], year["children_target_sum"], year["children_difference"]) == (
        None,
        "20000.0000",
        "0.0000",
    )
    quarters = (await client.get("/api/v1/goals", headers=headers, params={"parent_id": year["id"]})).json()["items"]
    assert [q["status"] for q in quarters] == ["draft", "draft", "draft", "approved"]
    campaigns = (await client.get("/api/v1/campaigns", headers=headers)).json()["items"]
    assert campaigns[0]["goal_id"] == quarters[3]["id"]
    campaign_id = tasks.json()["items"][0]["campaign_id"]
    budget = await client.get(f"/api/v1/campaigns/{campaign_id}/budget", headers=headers)
    totals = budget.json()["totals"]
    assert (totals["planned"], totals["paid"], totals["requested"]) == ("500000.00", "120000.00", "30000.00")


async def test_the_demo_has_a_weekly_report_a_newcomer_can_open(sessions, clock, client):
    from shared.demo import demo_report_id
    from shared.reports.models import Report

    token = "cl_demo_" + "r" * 30
    async with unit_of_work(sessions) as s:
        await seed_demo(s, admin_token=token, now=clock.now())
    async with unit_of_work(sessions) as s:
        await seed_demo(s, admin_token=token, now=clock.now())  # twice: still one report
        report_id = await demo_report_id(s)
        assert await s.scalar(select(func.count()).select_from(Report)) == 1
    headers = {"Authorization": f"Bearer {token}"}
    snap = (await client.get(f"/api/v1/reports/{report_id}", headers=headers)).json()["snapshot"]
    assert snap["kind"] == "weekly" and snap["scope"]["scope"] == "company"
    assert {k["metric_key"] for k in snap["kpis"]["items"]} == {"leads", "conversion_rate", "revenue"}
    assert snap["budget"]["planned"] > 0 and snap["budget"]["items"][0]["campaign"].startswith("双十一大促")
    levels = {x["level"]: x["open"] for x in snap["risks"]["levels"]}
    assert (levels["high"], levels["medium"], snap["risks"]["open"]) == (1, 1, 2)
    assert snap["rectifications"]["opened"] == 1
    assert set(snap["process"]["current"]) == {"tasks", "overdue_rate", "on_time_rate", "sla_compliance"}
    page = await client.get(f"/api/v1/reports/{report_id}.html", headers=headers)
    assert page.status_code == 200 and page.text.count("<svg") == 3
