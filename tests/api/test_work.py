"""Campaigns and tasks: CRUD, board filters, deadlines, validation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import Role, Task
from tests.factories import auth, make_user


async def test_campaign_crud_and_filters(client, sessions):
    member = await auth(sessions, Role.member)
    owner = await make_user(sessions)
    r = await client.post(
        "/api/v1/campaigns",
        headers=member,
        json={
            "name": "双十一",
            "owner_id": owner.id,
            "budget": "500000.00",
            "start_date": "2026-11-01",
            "end_date": "2026-11-30",
            "status": "active",
        },
    )
    assert r.status_code == 201, r.text
    campaign = r.json()
    assert campaign["budget"] == "500000.00" and campaign["status"] == "active"
    await client.post("/api/v1/campaigns", headers=member, json={"name": "Spring"})
    listed = (await client.get("/api/v1/campaigns", headers=member, params={"status": "active"})).json()
    assert [c["name"] for c in listed["items"]] == ["双十一"]
    r = await client.patch(f"/api/v1/campaigns/{campaign['id']}", headers=member, json={"status": "on_hold"})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "body.status")
    assert "changeCampaignState" in r.json()["errors"][0]["message"]
    r = await client.post(f"/api/v1/campaigns/{campaign['id']}/hold", headers=member)
    assert r.json()["status"] == "on_hold"


async def test_campaign_defaults_owner_to_caller(client, sessions):
    member = await auth(sessions, Role.member)
    me = (await client.get("/api/v1/me", headers=member)).json()
    r = await client.post("/api/v1/campaigns", headers=member, json={"name": "Mine"})
    assert r.json()["owner_id"] == me["id"]


async def test_campaign_end_before_start_and_negative_budget_are_422(client, sessions):
    member = await auth(sessions, Role.member)
    r = await client.post(
        "/api/v1/campaigns", headers=member, json={"name": "x", "start_date": "2026-11-30", "end_date": "2026-11-01"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.end_date"
    r = await client.post("/api/v1/campaigns", headers=member, json={"name": "x", "budget": "-1"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.budget"


async def test_task_lifecycle_sets_reporter_and_completion(client, sessions, clock):
    member = await auth(sessions, Role.member)
    me = (await client.get("/api/v1/me", headers=member)).json()
    assignee = await make_user(sessions)
    due = clock.now() + timedelta(days=1)
    r = await client.post(
        "/api/v1/tasks",
        headers=member,
        json={"title": "写《活动策划方案》", "assignee_id": assignee.id, "priority": "high", "due_at": due.isoformat()},
    )
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["reporter_id"] == me["id"] and task["status"] == "todo" and task["is_open"]
    r = await client.patch(f"/api/v1/tasks/{task['id']}", headers=member, json={"status": "done"})
    assert r.json()["completed_at"] is not None and not r.json()["is_open"]
    r = await client.patch(f"/api/v1/tasks/{task['id']}", headers=member, json={"status": "in_progress"})
    assert r.json()["completed_at"] is None


async def test_due_at_without_timezone_is_422(client, sessions):
    member = await auth(sessions, Role.member)
    r = await client.post("/api/v1/tasks", headers=member, json={"title": "x", "due_at": "2026-11-23T17:00:00"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.due_at"


async def test_bad_task_input_writes_nothing(client, sessions):
    member = await auth(sessions, Role.member)
    for body, field in (
        ({"title": ""}, "body.title"),
        ({"title": "x", "priority": "asap"}, "body.priority"),
        ({"title": "x", "assignee_id": 12345}, "body.assignee_id"),
        ({"title": "x", "campaign_id": "abc"}, "body.campaign_id"),
    ):
        r = await client.post("/api/v1/tasks", headers=member, json=body)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["field"] == field
    r = await client.post("/api/v1/tasks", headers={**member, "content-type": "application/json"}, content=b"{not json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"  # malformed: not even JSON
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Task)) == 0


async def test_patch_null_on_required_field_is_422(client, sessions):
    member = await auth(sessions, Role.member)
    task = (await client.post("/api/v1/tasks", headers=member, json={"title": "x"})).json()
    r = await client.patch(f"/api/v1/tasks/{task['id']}", headers=member, json={"title": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.title"


async def test_overdue_filter_for_boards(client, sessions, clock):
    member = await auth(sessions, Role.member)
    past = (clock.now() - timedelta(hours=1)).isoformat()
    future = (clock.now() + timedelta(hours=1)).isoformat()
    late = (await client.post("/api/v1/tasks", headers=member, json={"title": "late", "due_at": past})).json()
    await client.post("/api/v1/tasks", headers=member, json={"title": "fine", "due_at": future})
    await client.post("/api/v1/tasks", headers=member, json={"title": "done", "due_at": past, "status": "done"})
    overdue = (await client.get("/api/v1/tasks", headers=member, params={"overdue": "true"})).json()["items"]
    assert [t["id"] for t in overdue] == [late["id"]]
    not_overdue = (await client.get("/api/v1/tasks", headers=member, params={"overdue": "false"})).json()["items"]
    assert {t["title"] for t in not_overdue} == {"fine", "done"}


async def test_unknown_route_and_method_are_problem_json(client, sessions):
    member = await auth(sessions, Role.member)
    r = await client.get("/api/v1/nope", headers=member)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.put("/api/v1/tasks", headers=member)
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
