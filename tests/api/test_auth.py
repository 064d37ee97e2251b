"""Bearer tokens, roles, and the problem+json that 401/403 come back as."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import ApiToken, Role
from tests.factories import auth, make_token


async def test_missing_token_is_401_problem_json(client):
    r = await client.get("/api/v1/tasks")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 401 and body["title"] == "Unauthorized" and body["instance"] == "/api/v1/tasks"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_unknown_token_is_401(client):
    r = await client.get("/api/v1/tasks", headers={"Authorization": "Bearer cl_nope"})
    assert r.status_code == 401
    assert r.json()["detail"] == "unknown token"


async def test_health_endpoints_need_no_token(client):
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "sweep": "no worker seen"}


async def test_tokens_are_stored_hashed_and_shown_once(client, sessions):
    headers = await auth(sessions)
    me = (await client.get("/api/v1/me", headers=headers)).json()
    r = await client.post("/api/v1/tokens", headers=headers, json={"user_id": me["id"], "name": "ci"})
    assert r.status_code == 201
    token = r.json()["token"]
    async with unit_of_work(sessions) as s:
        stored = (await s.scalars(select(ApiToken).where(ApiToken.id == r.json()["id"]))).one()
    assert token not in stored.token_hash and len(stored.token_hash) == 64
    listed = (await client.get("/api/v1/tokens", headers=headers, params={"user_id": me["id"]})).json()
    assert all("token" not in t for t in listed["items"])
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_revoked_and_expired_tokens_stop_working(client, sessions, clock):
    headers = await auth(sessions)
    user, token = await make_token(sessions, role=Role.member)
    r = await client.post(
        "/api/v1/tokens",
        headers=headers,
        json={"user_id": user.id, "name": "short", "expires_at": (clock.now() + timedelta(hours=1)).isoformat()},
    )
    short = r.json()["token"]
    tokens = (await client.get("/api/v1/tokens", headers=headers, params={"user_id": user.id})).json()["items"]
    first = next(t for t in tokens if t["name"] == "test")
    assert (await client.delete(f"/api/v1/tokens/{first['id']}", headers=headers)).status_code == 204
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["detail"] == "token revoked"
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {short}"})).status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {short}"})
    assert r.status_code == 401 and r.json()["detail"] == "token expired"


async def test_viewer_reads_but_cannot_write(client, sessions):
    viewer = await auth(sessions, Role.viewer)
    assert (await client.get("/api/v1/tasks", headers=viewer)).status_code == 200
    r = await client.post("/api/v1/tasks", headers=viewer, json={"title": "x"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "member" in r.json()["detail"]


async def test_only_admins_manage_users_and_tokens_and_members_no_channels(client, sessions):
    manager = await auth(sessions, Role.manager)
    for path, body in (
        ("/api/v1/users", {"name": "x", "email": "x@example.com"}),
        ("/api/v1/tokens", {"user_id": 1, "name": "x"}),
        ("/api/v1/channels", {"name": "c", "kind": "webhook", "url": "http://127.0.0.1/h"}),  # every department's
    ):
        r = await client.post(path, headers=manager, json=body)
        assert r.status_code == 403, path
    assert (await client.get("/api/v1/channels", headers=await auth(sessions, Role.member))).status_code == 403


async def test_a_token_can_narrow_but_not_widen_its_users_role(client, sessions):
    admin, _ = await make_token(sessions, role=Role.admin)
    _, read_only = await make_token(sessions, user=admin, token_role=Role.viewer)
    headers = {"Authorization": f"Bearer {read_only}"}
    assert (await client.post("/api/v1/tasks", headers=headers, json={"title": "x"})).status_code == 403
    member, _ = await make_token(sessions, role=Role.member)
    _, widened = await make_token(sessions, user=member, token_role=Role.admin)
    r = await client.post("/api/v1/departments", headers={"Authorization": f"Bearer {widened}"}, json={"name": "nope"})
    assert r.status_code == 403


async def test_deactivated_user_cannot_call(client, sessions):
    admin = await auth(sessions)
    user, token = await make_token(sessions, role=Role.member)
    assert (await client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"is_active": False})).status_code == 200
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
