"""The steps every entity write shares: references checked together, one answer naming each bad one."""

from __future__ import annotations

from sqlalchemy import event

from shared.models import Role
from tests.factories import auth, make_user


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

    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", seen)
    try:
        body = {"title": "海报", "assignee_id": assignee.id, "campaign_id": campaign["id"]}
        r = await client.post("/api/v1/tasks", headers=headers, json=body)
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", seen)
    assert r.status_code == 201 and (r.json()["assignee_id"], r.json()["campaign_id"]) == (assignee.id, campaign["id"])
    assert len([s for s in statements if "FROM users" in s and "FROM campaigns" in s]) == 1  # both, one statement
