"""Departments and users: CRUD, filters, pagination, validation that names the field, audit."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AuditLog, User
from tests.factories import auth, make_department, make_user


async def count(sessions, model) -> int:
    async with unit_of_work(sessions) as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_department_crud_with_head_and_audit(client, sessions):
    admin = await auth(sessions)
    head = await make_user(sessions, name="Head")
    r = await client.post("/api/v1/departments", headers=admin, json={"name": "市场部", "head_user_id": head.id})
    assert r.status_code == 201, r.text
    dept = r.json()
    assert dept["name"] == "市场部" and dept["head_user_id"] == head.id
    r = await client.patch(f"/api/v1/departments/{dept['id']}", headers=admin, json={"name": "Marketing"})
    assert r.json()["name"] == "Marketing"
    audit = (
        await client.get("/api/v1/audit", headers=admin, params={"entity_type": "department", "entity_id": dept["id"]})
    ).json()["items"]
    assert [a["action"] for a in audit] == ["create", "update"]
    me = (await client.get("/api/v1/me", headers=admin)).json()
    assert audit[1]["actor_user_id"] == me["id"] and audit[1]["actor"] == f"user:{me['id']}"
    assert audit[1]["before"] == {"name": "市场部"} and audit[1]["after"] == {"name": "Marketing"}
    assert (await client.delete(f"/api/v1/departments/{dept['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/v1/departments/{dept['id']}", headers=admin)).status_code == 404


async def test_duplicate_department_name_is_409_naming_the_field(client, sessions):
    admin = await auth(sessions)
    await make_department(sessions, name="Sales")
    r = await client.post("/api/v1/departments", headers=admin, json={"name": "sales"})
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "body.name"


async def test_user_email_is_unique_regardless_of_case(client, sessions):
    admin = await auth(sessions)
    await make_user(sessions, email="li@example.com")
    r = await client.post("/api/v1/users", headers=admin, json={"name": "Li", "email": "LI@example.com"})
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "body.email"


async def test_unknown_field_is_rejected_and_nothing_is_written(client, sessions):
    admin = await auth(sessions)
    before = await count(sessions, User)
    r = await client.post("/api/v1/users", headers=admin, json={"name": "A", "email": "a@example.com", "salary": 1})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [
        {"field": "body.salary", "message": "unknown field (not accepted here)", "type": "extra_forbidden"}
    ]
    assert await count(sessions, User) == before


async def test_dangling_references_are_422_naming_each_field_and_write_nothing(client, sessions):
    admin = await auth(sessions)
    before_users, before_audit = await count(sessions, User), await count(sessions, AuditLog)
    r = await client.post(
        "/api/v1/users",
        headers=admin,
        json={"name": "A", "email": "a@example.com", "department_id": 999, "manager_id": 998},
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"body.department_id", "body.manager_id"}
    assert await count(sessions, User) == before_users
    assert await count(sessions, AuditLog) == before_audit


async def test_bad_email_and_role_name_the_field(client, sessions):
    admin = await auth(sessions)
    r = await client.post("/api/v1/users", headers=admin, json={"name": "A", "email": "not-mail", "role": "boss"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"body.email", "body.role"}


async def test_manager_chain_cannot_loop(client, sessions):
    admin = await auth(sessions)
    a = await make_user(sessions)
    b = await make_user(sessions, manager_id=a.id)
    r = await client.patch(f"/api/v1/users/{a.id}", headers=admin, json={"manager_id": b.id})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.manager_id"


async def test_users_filter_and_cursor_pagination(client, sessions):
    admin = await auth(sessions)
    dept = await make_department(sessions)
    made = [await make_user(sessions, department_id=dept.id, name=f"Zhang {i}") for i in range(5)]
    await make_user(sessions, name="Other")
    seen: list[int] = []
    cursor = None
    while True:
        params = {"department_id": dept.id, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/users", headers=admin, params=params)).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [u.id for u in made]
    q = (await client.get("/api/v1/users", headers=admin, params={"q": "zhang 3"})).json()["items"]
    assert [u["name"] for u in q] == ["Zhang 3"]


async def test_garbage_cursor_and_limit_are_422(client, sessions):
    admin = await auth(sessions)
    r = await client.get("/api/v1/users", headers=admin, params={"cursor": "garbage"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.cursor"
    r = await client.get("/api/v1/users", headers=admin, params={"limit": 1000})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.limit"
