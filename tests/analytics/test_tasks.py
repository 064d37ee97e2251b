"""Task overdue rate and on-time completion rate, cancelled tasks excluded, by department, assignee
and period; the period is read in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime

import pytest

from shared.models import Role, TaskStatus
from tests.analytics.helpers import by, table
from tests.factories import auth, make_department, make_task, make_user

T = datetime.fromisoformat


@pytest.fixture
async def tasks(sessions, clock):
    clock.set(T("2026-10-20T12:00:00+08:00"))
    market = await make_department(sessions, name="市场部")
    sales = await make_department(sessions, name="销售部")
    zhang = await make_user(sessions, name="张三", department_id=market.id)
    li = await make_user(sessions, name="李四", department_id=sales.id)
    due_9, due_15 = T("2026-10-09T18:00:00+08:00"), T("2026-10-15T18:00:00+08:00")
    done = TaskStatus.done
    for assignee, status, due, completed in (
        (zhang, done, due_9, "2026-10-09T17:00:00+08:00"),  # on time
        (zhang, done, due_9, "2026-10-10T10:00:00+08:00"),  # done late: overdue
        (zhang, TaskStatus.in_progress, due_15, None),  # open past due: overdue
        (zhang, TaskStatus.cancelled, due_15, None),  # not counted
        (zhang, TaskStatus.todo, T("2026-10-28T18:00:00+08:00"), None),  # open, not due yet
        (li, done, T("2026-10-12T18:00:00+08:00"), "2026-10-12T18:00:00+08:00"),  # at the due instant: on time
        (li, done, T("2026-10-01T00:30:00+08:00"), "2026-09-30T20:00:00+08:00"),  # Sep 30 16:30 UTC: October here
        (li, TaskStatus.todo, T("2026-09-30T23:30:00+08:00"), None),  # September in Shanghai: not counted
        (li, TaskStatus.todo, T("2026-11-02T18:00:00+08:00"), None),  # November
        (None, TaskStatus.todo, due_15, None),  # nobody's: a row without department
    ):
        await make_task(
            sessions,
            assignee_id=assignee.id if assignee else None,
            status=status,
            due_at=due,
            completed_at=T(completed) if completed else None,
        )
    return {"market": market, "sales": sales, "zhang": zhang, "li": li, "headers": await auth(sessions, Role.director)}


async def test_overdue_and_on_time_rates_by_department_exclude_cancelled_tasks(client, tasks):
    body = await table(client, tasks["headers"], "task-timeliness", "period=2026-10&group_by=department")
    rows = by(body["rows"], "department")
    assert rows["市场部"] == {
        "department_id": tasks["market"].id,
        "department": "市场部",
        "tasks": 4,
        "overdue": 2,
        "on_time": 1,
        "open_not_due": 1,
        "overdue_rate": 0.5,
        "on_time_rate": 0.25,
    }
    sales = rows["销售部"]
    assert (sales["tasks"], sales["overdue"], sales["on_time"], sales["overdue_rate"], sales["on_time_rate"]) == (
        2,
        0,
        2,
        0.0,
        1.0,
    )
    assert (rows[None]["tasks"], rows[None]["overdue"]) == (1, 1)
    assert "cancelled excluded" in body["definitions"]["tasks"]


async def test_by_assignee_and_by_department_filter(client, tasks):
    query = f"period=2026-10&group_by=assignee&department_id={tasks['sales'].id}"
    rows = (await table(client, tasks["headers"], "task-timeliness", query))["rows"]
    assert rows == [
        {
            "assignee_id": tasks["li"].id,
            "assignee": "李四",
            "department": "销售部",
            "tasks": 2,
            "overdue": 0,
            "on_time": 2,
            "open_not_due": 0,
            "overdue_rate": 0.0,
            "on_time_rate": 1.0,
        }
    ]


async def test_by_period_slices_a_month_into_iso_weeks_and_a_quarter_into_months(client, tasks):
    month = await table(client, tasks["headers"], "task-timeliness", "period=2026-10&group_by=period")
    assert [(r["period_start"], r["tasks"], r["overdue"], r["on_time"]) for r in month["rows"]] == [
        ("2026-09-28", 1, 0, 1),
        ("2026-10-05", 2, 1, 1),
        ("2026-10-12", 3, 2, 1),
        ("2026-10-26", 1, 0, 0),
    ]
    quarter = await table(client, tasks["headers"], "task-timeliness", "period=2026-Q4&group_by=period")
    assert [(r["period_start"], r["tasks"]) for r in quarter["rows"]] == [("2026-10-01", 7), ("2026-11-01", 1)]


async def test_the_definitions_are_in_the_openapi_description(client):
    doc = (await client.get("/openapi.json")).json()
    description = doc["paths"]["/api/v1/analytics/task-timeliness"]["get"]["description"]
    assert "due within the period" in description and "cancelled tasks excluded" in description
    assert "done after its due instant, or still open" in description
    assert "done at or before its due instant" in description
    review = doc["paths"]["/api/v1/analytics/review-delay"]["get"]["description"]
    assert "wall-clock hours" in review
