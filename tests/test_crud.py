"""The steps every entity write shares: references checked together, one answer naming each bad one."""

from __future__ import annotations

from shared.models import Role
from tests.factories import auth, make_department, make_user
from tests.sql import statements


async def test_every_reference_that_points_nowhere_is_named_and_all_are_checked_at_once(app, client, sessions):
    headers = await auth(sessions, Role.admin)
    r = await client.post(
        "/api/v1/tasks", headers=headers, json={"title": "海报", "campaign_id": 999_999, "assignee_id": 999_998}
    )
    assert r.status_code == 422, r.text
    assert [(e["field"], e["message"]) for e in r.json()["errors"]] == [
        ("body.campaign_id", "campaign 999999 does not exist"),
        ("body.assignee_id", "user 999998 does not exist"),
    ]
    campaign = (await client.post("/api/v1/campaigns", headers=headers, json={"name": "双十一"})).json()
    assignee = await make_user(sessions)
    r = await client.post(
        "/api/v1/tasks", headers=headers, json={"title": "海报", "assignee_id": 999_998, "campaign_id": campaign["id"]}
    )
    assert [e["field"] for e in r.json()["errors"]] == ["body.assignee_id"]

    with statements(app.state.engine.sync_engine) as sent:
        body = {"title": "海报", "assignee_id": assignee.id, "campaign_id": campaign["id"]}
        r = await client.post("/api/v1/tasks", headers=headers, json=body)
    assert r.status_code == 201 and (r.json()["assignee_id"], r.json()["campaign_id"]) == (assignee.id, campaign["id"])
    assert len([s for s in sent if "FROM users" in s and "FROM campaigns" in s]) == 1  # both, one statement


async def test_a_change_answers_the_row_as_stored_reading_it_back_only_when_the_database_reshapes_it(
    app, client, sessions, clock
):
    headers = await auth(sessions, Role.admin)
    sales, design = await make_department(sessions), await make_department(sessions)
    first, second = (
        await make_user(sessions, department_id=sales.id),
        await make_user(sessions, department_id=design.id),
    )
    created = await client.post("/api/v1/tasks", headers=headers, json={"title": "海报", "assignee_id": first.id})
    url = f"/api/v1/tasks/{created.json()['id']}"
    # New assignee, priority, tags: given back as given; the department the trigger sets came back with the UPDATE.
    with statements(app.state.engine.sync_engine) as sent:
        moved = await client.patch(
            url, headers=headers, json={"assignee_id": second.id, "priority": "high", "tags": ["双十一"]}
        )
    task_reads = [s for s in sent if s.startswith("SELECT tasks.title")]
    moved_read = await client.get(url, headers=headers)
    # A due date in +08:00 is stored, and answered, in UTC: read back.
    with statements(app.state.engine.sync_engine) as sent:
        due = await client.patch(url, headers=headers, json={"due_at": "2026-12-01T10:00:00+08:00"})
    due_reads = [s for s in sent if s.startswith("SELECT tasks.title")]
    assert moved.status_code == 200, moved.text
    changed = (moved.json()["assignee_id"], moved.json()["priority"], moved.json()["tags"])
    assert changed == (second.id, "high", ["双十一"]) and moved.json() == moved_read.json()
    assert len(task_reads) == 1 and task_reads[0].endswith("FOR UPDATE")  # the lock, no read back
    assert due.status_code == 200 and due.json()["due_at"] == "2026-12-01T02:00:00Z"
    assert len(due_reads) == 2  # the lock, and the row read back
    assert due.json() == (await client.get(url, headers=headers)).json()
    board = (await client.get("/api/v1/tasks", headers=headers, params={"department_id": design.id})).json()
    assert [t["id"] for t in board["items"]] == [created.json()["id"]]
