"""Departments and users: CRUD, filters, pagination, validation that names the field, audit."""

from __future__ import annotations

import pytest
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


# ---- mention ids: each chat tool's id format, checked when saved -----------------------------------
VALID_IDS = {
    "feishu_open_id": "ou_7d8a6e6df7621556ce0d21922b676706",
    "dingtalk_user_id": "manager-01_x",
    "wecom_user_id": "zhang.san@corp-1",
}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("13800138000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("8619912345678", "19912345678"),
        ("+86 138-0013-8000", "13800138000"),
        ("+14155552671", "+14155552671"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
async def test_mobile_is_normalised_to_11_digits_or_e164(client, sessions, given, stored):
    admin = await auth(sessions)
    r = await client.post("/api/v1/users", headers=admin, json={"name": "A", "email": "a@example.com", "mobile": given})
    assert r.status_code == 201, r.text
    assert r.json()["mobile"] == stored
    r = await client.patch(f"/api/v1/users/{r.json()['id']}", headers=admin, json={"mobile": given})
    assert r.status_code == 200 and r.json()["mobile"] == stored


async def test_well_formed_chat_ids_are_saved_as_given_and_null_clears_them(client, sessions):
    admin = await auth(sessions)
    r = await client.post("/api/v1/users", headers=admin, json={"name": "A", "email": "a@example.com", **VALID_IDS})
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in VALID_IDS} == VALID_IDS
    cleared = dict.fromkeys(VALID_IDS) | {"mobile": None}
    r = await client.patch(f"/api/v1/users/{r.json()['id']}", headers=admin, json=cleared)
    assert r.status_code == 200 and {k: r.json()[k] for k in cleared} == cleared


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mobile", "12800138000"),  # mainland mobiles start 13–19
        ("mobile", "1380013800"),  # ten digits
        ("mobile", "+86 10 6552 9988"),  # a Beijing landline cannot be @mentioned
        ("mobile", "+1234567"),  # E.164 needs 8–15 digits
        ("mobile", "+0123456789"),  # and no leading zero
        ("mobile", "call 13800138000"),
        ("feishu_open_id", "ou_123"),  # too short
        ("feishu_open_id", "on_7d8a6e6df7621556ce0d21922b676706"),  # a union_id, not an open_id
        ("feishu_open_id", "ou_7D8A6E6DF7621556CE0D21922B676706"),
        ("feishu_open_id", "ou_" + "a" * 62),  # longer than the 64 characters stored
        ("dingtalk_user_id", "zhang san"),
        ("dingtalk_user_id", "张三"),
        ("dingtalk_user_id", "a" * 65),
        ("wecom_user_id", "zhang/san"),
        ("wecom_user_id", "a" * 65),
        ("wecom_user_id", ""),
    ],
)
async def test_malformed_mention_id_is_422_naming_the_field_and_nothing_is_written(client, sessions, field, value):
    admin = await auth(sessions)
    user = await make_user(sessions, **VALID_IDS, mobile="13800138000")
    before = await count(sessions, User)
    for r in (
        await client.post("/api/v1/users", headers=admin, json={"name": "A", "email": "a@example.com", field: value}),
        await client.patch(f"/api/v1/users/{user.id}", headers=admin, json={field: value}),
    ):
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        (error,) = r.json()["errors"]
        assert error["field"] == f"body.{field}" and error["type"] == "format"
    assert await count(sessions, User) == before
    unchanged = (await client.get(f"/api/v1/users/{user.id}", headers=admin)).json()
    assert {k: unchanged[k] for k in VALID_IDS} == VALID_IDS and unchanged["mobile"] == "13800138000"


async def test_every_malformed_mention_id_is_named_at_once(client, sessions):
    admin = await auth(sessions)
    body = {"mobile": "123", "feishu_open_id": "ou_x", "dingtalk_user_id": "a b", "wecom_user_id": "a/b"}
    r = await client.post("/api/v1/users", headers=admin, json={"name": "A", "email": "a@example.com", **body})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {f"body.{k}" for k in body}
    assert "ou_ and 20–61 lowercase letters or digits" in r.json()["detail"]


async def test_a_bad_email_does_not_hide_a_bad_mobile_or_open_id(client, sessions):
    admin = await auth(sessions)
    user = await make_user(sessions)
    before = await count(sessions, User)
    bad = {"email": "not-an-email", "mobile": "123", "feishu_open_id": "ou_x"}
    for r in (
        await client.post("/api/v1/users", headers=admin, json={"name": "A", **bad}),
        await client.patch(f"/api/v1/users/{user.id}", headers=admin, json=bad),
    ):
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["body.email", "body.mobile", "body.feishu_open_id"]
        assert "13 to 19" in r.json()["detail"] and "ou_ and 20–61" in r.json()["detail"]
    assert await count(sessions, User) == before


async def test_a_stored_legacy_id_does_not_block_changing_other_fields(client, sessions):
    admin = await auth(sessions)
    user = await make_user(sessions, feishu_open_id="legacy")  # written before ids were checked
    r = await client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"name": "Renamed"})
    assert r.status_code == 200 and r.json()["feishu_open_id"] == "legacy"


async def test_an_admin_can_neither_demote_nor_deactivate_themselves(client, sessions):
    from tests.factories import make_token

    admin, token = await make_token(sessions)
    headers = {"Authorization": f"Bearer {token}"}
    for body, field in (({"role": "member"}, "body.role"), ({"is_active": False}, "body.is_active")):
        r = await client.patch(f"/api/v1/users/{admin.id}", headers=headers, json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    r = await client.get(f"/api/v1/users/{admin.id}", headers=headers)
    assert r.json()["role"] == "admin" and r.json()["is_active"] is True
