"""An item's trail: comments, audited changes and fired escalations, in one place."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import Comment, Role
from shared.sla.engine import sweep_due_timers
from tests.factories import auth, make_channel, make_department, make_policy, make_user

T = datetime.fromisoformat


async def test_a_tasks_trail_shows_who_did_what_and_which_alerts_fired(sessions, client, clock):
    dept = await make_department(sessions, name="市场部")
    manager = await make_user(sessions, name="李经理", department_id=dept.id)
    owner = await make_user(sessions, name="张策划", department_id=dept.id, manager_id=manager.id)
    await make_channel(sessions, department_ids=[dept.id])
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee", "assignee_manager"]}])
    headers = await auth(sessions, role=Role.member)
    clock.set(T("2026-11-23T09:00:00+08:00"))
    r = await client.post(
        "/api/v1/tasks",
        headers=headers,
        json={"title": "提交《活动策划方案》", "assignee_id": owner.id, "due_at": "2026-11-23T10:00:00+08:00"},
    )
    task = r.json()
    r = await client.post(
        f"/api/v1/trail/task/{task['id']}/comments", headers=headers, json={"body": "预算表还差财务的数字"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["body"] == "预算表还差财务的数字"
    await client.patch(f"/api/v1/tasks/{task['id']}", headers=headers, json={"status": "in_progress"})
    clock.set(T("2026-11-23T10:00:01+08:00"))
    async with unit_of_work(sessions) as s:
        assert (await sweep_due_timers(s, now=clock.now(), batch_size=10)).fired == 1

    r = await client.get(f"/api/v1/trail/task/{task['id']}", headers=headers)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    kinds = [(e["kind"], e["action"]) for e in entries]
    assert ("change", "create") in kinds and ("change", "update") in kinds
    (comment,) = [e for e in entries if e["kind"] == "comment"]
    assert comment["details"]["body"] == "预算表还差财务的数字" and comment["actor_user_id"] is not None
    (breach,) = [e for e in entries if e["kind"] == "escalation"]
    assert breach["action"] == "sla.breach"
    assert {p["name"] for p in breach["details"]["recipients"]} == {"张策划", "李经理"}
    update = next(e for e in entries if e["action"] == "update")
    assert update["details"]["after"]["status"] == "in_progress"


async def test_comments_need_a_writer_an_existing_item_and_a_body(sessions, client):
    viewer = await auth(sessions, role=Role.viewer)
    member = await auth(sessions, role=Role.member)
    r = await client.post("/api/v1/trail/task/999/comments", headers=member, json={"body": "x"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post("/api/v1/trail/rocket/1/comments", headers=member, json={"body": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path.subject_type"
    dept = await make_department(sessions)
    r = await client.post(f"/api/v1/trail/campaign/{dept.id}/comments", headers=member, json={"body": "x"})
    assert r.status_code == 404  # no campaign with that id
    r = await client.post("/api/v1/campaigns", headers=member, json={"name": "双十一大促"})
    campaign_id = r.json()["id"]
    r = await client.post(f"/api/v1/trail/campaign/{campaign_id}/comments", headers=viewer, json={"body": "x"})
    assert r.status_code == 403
    r = await client.post(f"/api/v1/trail/campaign/{campaign_id}/comments", headers=member, json={"body": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.body"
    r = await client.post(
        f"/api/v1/trail/campaign/{campaign_id}/comments", headers=member, json={"body": "ok", "pin": True}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.pin"
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Comment)) == 0
    r = await client.get(f"/api/v1/trail/campaign/{campaign_id}", headers=viewer)
    assert r.status_code == 200 and [e["action"] for e in r.json()["entries"]] == ["create"]
