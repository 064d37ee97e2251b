"""The `closeloop` command line, as ops scripts use it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
from sqlalchemy import select

from shared.crypto import decrypt_secret, encrypt_secret, new_key
from shared.db import unit_of_work
from shared.embedded import free_port
from shared.models import Channel, Role, User
from shared.settings import load_settings
from tests.factories import make_channel


def closeloop(stack, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CLOSELOOP_DATABASE_URL": stack.database_url,
        "CLOSELOOP_REDIS_URL": stack.redis_url,
        **(env or {}),
    }
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


async def test_run_can_start_without_the_demo_data(stack):
    proc = closeloop(stack, "run", "--help", env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "--no-seed" in proc.stdout and "demo data" in proc.stdout


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


def test_secrets_new_key_prints_a_usable_key():
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "secrets", "new-key"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    key = proc.stdout.strip()
    assert load_settings(env="prod", secret_key=key).secret_keys == [key]


async def test_secrets_rotate_re_encrypts_every_channel_secret_under_the_new_key(stack, sessions):
    old, new = new_key(), new_key()
    signed = await make_channel(sessions, name="signed")
    unsigned = await make_channel(sessions, name="unsigned")
    async with unit_of_work(sessions) as s:
        (await s.get_one(Channel, signed.id)).secret_encrypted = encrypt_secret("whsec_x", keys=[old])
    proc = closeloop(stack, "secrets", "rotate", env={"CLOSELOOP_SECRET_KEY": new})
    assert proc.returncode == 2 and "CLOSELOOP_SECRET_KEY_PREVIOUS" in proc.stderr  # the old key is needed
    rotating = {"CLOSELOOP_SECRET_KEY": new, "CLOSELOOP_SECRET_KEY_PREVIOUS": old}
    proc = closeloop(stack, "secrets", "rotate", env=rotating)
    assert proc.returncode == 0, proc.stderr
    assert "re-encrypted 1 channel secret" in proc.stderr
    async with unit_of_work(sessions) as s:
        assert decrypt_secret((await s.get_one(Channel, signed.id)).secret_encrypted, keys=[new]) == "whsec_x"
        assert (await s.get_one(Channel, unsigned.id)).secret_encrypted is None


async def test_privacy_purge_prints_what_it_anonymised_and_a_second_run_finds_nothing(stack, sessions):
    from datetime import UTC, datetime

    from shared.models import Feedback, FeedbackKind, FeedbackStatus

    async with unit_of_work(sessions) as s:
        old = Feedback(
            kind=FeedbackKind.complaint,
            status=FeedbackStatus.closed,
            channel="phone",
            customer_name="李四",
            customer_contact="13912345678",
            content="请回电 13912345678",
            source="api",
            received_at=datetime(2020, 1, 2, tzinfo=UTC),
        )
        s.add(old)
        await s.flush()
        old_id = old.id

    dry = closeloop(stack, "privacy", "purge", "--dry-run", "--days", "365")
    assert dry.returncode == 0, dry.stderr
    assert "would anonymise 1" in dry.stdout and "customer_name, customer_contact, content" in dry.stdout
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Feedback, old_id)).customer_name == "李四"

    done = closeloop(stack, "privacy", "purge")
    assert done.returncode == 0, done.stderr
    assert "anonymised 1" in done.stdout and f"│ {old_id} " in done.stdout and "2020-01-02" in done.stdout
    async with unit_of_work(sessions) as s:
        row = await s.get_one(Feedback, old_id)
        assert (row.customer_name, row.customer_contact, row.content) == (None, None, "请回电 139****5678")
    again = closeloop(stack, "privacy", "purge")
    assert again.returncode == 0 and "anonymised 0" in again.stdout


def access_lines_of_a_served_request(stack, **env: str) -> list[str]:
    """`closeloop api` (one process) is asked `GET /api/v1/me` once it is up; the lines of its log that
    are uvicorn's access line for that request."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "api"],
        env={
            **os.environ,
            "CLOSELOOP_DATABASE_URL": stack.database_url,
            "CLOSELOOP_REDIS_URL": stack.redis_url,
            "CLOSELOOP_API_PORT": str(port),
            "CLOSELOOP_API_WORKERS": "1",
            "CLOSELOOP_SEED_DEFAULTS": "false",  # the session's database stays empty for the other tests
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, "the API did not start"
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=30).status_code == 401  # no token
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    return [line for line in output.splitlines() if "GET /api/v1/me" in line]


def test_the_api_writes_no_access_line_per_request_in_production_unless_asked(stack):
    prod = {"CLOSELOOP_ENV": "prod", "CLOSELOOP_SECRET_KEY": new_key()}
    assert access_lines_of_a_served_request(stack, **prod) == []
    (line,) = access_lines_of_a_served_request(stack, **prod, CLOSELOOP_API_ACCESS_LOG="true")
    assert "uvicorn.access" in line and '"GET /api/v1/me HTTP/1.1" 401' in line
    assert len(access_lines_of_a_served_request(stack)) == 1  # dev: on
