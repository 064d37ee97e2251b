"""The `closeloop` command line, as ops scripts use it."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import Role, User


def closeloop(stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLOSELOOP_DATABASE_URL": stack.database_url, "CLOSELOOP_REDIS_URL": stack.redis_url}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_token_create_makes_the_user_and_prints_a_working_token(stack, client, sessions):
    proc = closeloop(stack, "token", "create", "--user", "ops@example.com", "--role", "admin")
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token.startswith("cl_")
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == "ops@example.com" and me.json()["role"] == "admin"
    # For an existing user --role narrows the token, never the user.
    proc = closeloop(stack, "token", "create", "--user", "OPS@example.com", "--role", "viewer")
    viewer = {"Authorization": f"Bearer {proc.stdout.strip()}"}
    assert (await client.post("/api/v1/tasks", headers=viewer, json={"title": "x"})).status_code == 403
    async with unit_of_work(sessions) as s:
        user = (await s.scalars(select(User).where(User.email == "ops@example.com"))).one()
        assert user.role == Role.admin


async def test_token_create_rejects_an_unknown_role(stack, sessions):
    proc = closeloop(stack, "token", "create", "--user", "x@example.com", "--role", "root")
    assert proc.returncode == 2 and "--role must be one of" in proc.stderr


async def test_bootstrap_token_gives_an_admin(settings, clock, sessions):
    import httpx

    from services.api.app import create_app
    from shared.settings import load_settings

    token = "cl_bootstrap_" + "b" * 30
    boot = load_settings(**{**settings.model_dump(), "bootstrap_token": token})
    for _ in range(2):  # idempotent across restarts
        app = create_app(boot, clock)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            me = await c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["role"] == "admin"
