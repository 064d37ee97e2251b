"""API tokens: who minted them (acting as someone else shows), the token id on every audit row,
`last_used_at` written at most once a minute, the default expiry, short prefixes, long secrets."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from shared.db import unit_of_work
from shared.errors import InvalidInput
from shared.models import ApiToken, AuditLog, Role
from shared.org.tokens import TokenCache, create_token, hash_token, shown_prefix
from shared.settings import SettingsError, load_settings
from tests.factories import SYSTEM, make_token, make_user


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def issue(client, headers, user_id: int, **extra) -> dict:
    r = await client.post("/api/v1/tokens", headers=headers, json={"user_id": user_id, "name": "t", **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_token_issued_for_someone_else_is_marked_and_every_change_made_with_it_names_it(client, sessions):
    admin, admin_token = await make_token(sessions, role=Role.admin)
    member = await make_user(sessions, role=Role.member)
    own = await issue(client, bearer(admin_token), admin.id)
    assert (own["minted_by_id"], own["on_behalf"]) == (admin.id, False)
    for_member = await issue(client, bearer(admin_token), member.id)
    assert (for_member["minted_by_id"], for_member["on_behalf"]) == (admin.id, True)
    listed = (await client.get("/api/v1/tokens", headers=bearer(admin_token), params={"user_id": member.id})).json()
    assert [(t["id"], t["on_behalf"]) for t in listed["items"]] == [(for_member["id"], True)]

    r = await client.post("/api/v1/tasks", headers=bearer(for_member["token"]), json={"title": "写方案"})
    assert r.status_code == 201, r.text
    audit = await client.get(
        "/api/v1/audit", headers=bearer(admin_token), params={"entity_type": "task", "entity_id": r.json()["id"]}
    )
    (row,) = audit.json()["items"]
    assert (row["actor"], row["actor_user_id"], row["token_id"]) == (f"user:{member.id}", member.id, for_member["id"])
    # The token the admin used to issue it is on the token's own audit row.
    async with unit_of_work(sessions) as s:
        minted = (
            await s.scalars(
                select(AuditLog).where(AuditLog.entity_type == "api_token", AuditLog.entity_id == own["id"])
            )
        ).one()
        admin_token_id = await s.scalar(
            select(ApiToken.id).where(ApiToken.user_id == admin.id, ApiToken.name == "test")
        )
    assert minted.token_id == admin_token_id


async def test_changes_without_a_token_record_none(sessions):
    user = await make_user(sessions)  # the factory writes as a background process
    async with unit_of_work(sessions) as s:
        row = (
            await s.scalars(select(AuditLog).where(AuditLog.entity_type == "user", AuditLog.entity_id == user.id))
        ).one()
    assert (row.actor, row.token_id) == ("system:tests", None)


async def test_acting_as_someone_cannot_mint_them_a_clean_token(client, sessions):
    first, first_token = await make_token(sessions, role=Role.admin)
    second = await make_user(sessions, role=Role.admin)
    as_second = await issue(client, bearer(first_token), second.id)
    assert as_second["on_behalf"] is True
    laundered = await issue(client, bearer(as_second["token"]), second.id)
    assert (laundered["minted_by_id"], laundered["on_behalf"]) == (first.id, True)
    # …while a token the impersonator mints for themselves through it is simply theirs.
    back = await issue(client, bearer(as_second["token"]), first.id)
    assert (back["minted_by_id"], back["on_behalf"]) == (first.id, False)


async def test_cli_and_bootstrap_tokens_have_no_minter_and_are_not_marked(sessions):
    await make_token(sessions, role=Role.member)  # create_token as the CLI calls it
    async with unit_of_work(sessions) as s:
        row = (await s.scalars(select(ApiToken))).one()
    assert (row.minted_by_id, row.on_behalf) == (None, False)


async def last_used(sessions, token_id: int) -> datetime | None:
    async with unit_of_work(sessions) as s:
        return await s.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


async def test_last_used_at_is_written_at_most_once_a_minute(client, sessions, clock):
    admin, admin_token = await make_token(sessions, role=Role.admin)
    token = await issue(client, bearer(admin_token), admin.id)
    assert token["last_used_at"] is None
    t0 = clock.now()
    assert (await client.get("/api/v1/me", headers=bearer(token["token"]))).status_code == 200
    assert await last_used(sessions, token["id"]) == t0
    async with unit_of_work(sessions) as s:
        edited = await s.scalar(select(ApiToken.updated_at).where(ApiToken.id == token["id"]))
    clock.advance(timedelta(seconds=59))
    assert (await client.get("/api/v1/me", headers=bearer(token["token"]))).status_code == 200
    assert await last_used(sessions, token["id"]) == t0  # within the minute: nothing written
    clock.advance(timedelta(seconds=2))
    assert (await client.get("/api/v1/me", headers=bearer(token["token"]))).status_code == 200
    assert await last_used(sessions, token["id"]) == t0 + timedelta(seconds=61)
    async with unit_of_work(sessions) as s:  # a use is not an edit
        assert await s.scalar(select(ApiToken.updated_at).where(ApiToken.id == token["id"])) == edited
    listed = (await client.get("/api/v1/tokens", headers=bearer(admin_token), params={"user_id": admin.id})).json()
    shown = {t["id"]: t["last_used_at"] for t in listed["items"]}
    assert datetime.fromisoformat(shown[token["id"]]) == t0 + timedelta(seconds=61)


async def test_tokens_issued_without_an_expiry_get_the_default_one(settings, clock, engine, sessions):
    from services.api.app import create_app

    app = create_app(load_settings(**{**settings.model_dump(), "token_default_ttl_days": 7}), clock)
    admin, admin_token = await make_token(sessions, role=Role.admin)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        defaulted = await issue(client, bearer(admin_token), admin.id)
        assert datetime.fromisoformat(defaulted["expires_at"]) == clock.now() + timedelta(days=7)
        chosen = clock.now() + timedelta(days=30)
        explicit = await issue(client, bearer(admin_token), admin.id, expires_at=chosen.isoformat())
        assert datetime.fromisoformat(explicit["expires_at"]) == chosen
        clock.advance(timedelta(days=7, seconds=1))
        r = await client.get("/api/v1/me", headers=bearer(defaulted["token"]))
        assert r.status_code == 401 and r.json()["detail"] == "token expired"
        assert (await client.get("/api/v1/me", headers=bearer(explicit["token"]))).status_code == 200


async def test_without_a_default_expiry_tokens_never_expire(client, sessions):
    admin, admin_token = await make_token(sessions, role=Role.admin)
    assert (await issue(client, bearer(admin_token), admin.id))["expires_at"] is None


async def test_the_shown_prefix_is_at_most_8_characters_of_a_secret_of_at_least_32(client, sessions):
    admin, admin_token = await make_token(sessions, role=Role.admin)
    token = await issue(client, bearer(admin_token), admin.id)
    assert len(token["token"]) >= 32 and token["prefix"] == token["token"][:8]
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(ApiToken.prefix).where(ApiToken.id == token["id"])) == token["token"][:8]


async def test_a_given_secret_shorter_than_32_characters_is_refused(sessions):
    user = await make_user(sessions, role=Role.admin)
    with pytest.raises(InvalidInput) as refused:
        async with unit_of_work(sessions) as s:
            await create_token(s, actor=SYSTEM, user_id=user.id, name="ops", secret="x" * 31)
    assert [(e.field, e.message) for e in refused.value.errors] == [("secret", "must be at least 32 characters")]
    async with unit_of_work(sessions) as s:
        assert list(await s.scalars(select(ApiToken))) == []
        _, plaintext = await create_token(s, actor=SYSTEM, user_id=user.id, name="ops", secret="y" * 32)
    assert plaintext == "y" * 32


def test_a_bootstrap_token_shorter_than_32_characters_stops_start_up():
    with pytest.raises(SettingsError, match=r"CLOSELOOP_BOOTSTRAP_TOKEN: .*at least 32 characters"):
        load_settings(bootstrap_token="b" * 31)
    assert load_settings(bootstrap_token="b" * 32).bootstrap_token is not None


# ---- the per-process cache of resolved tokens (CLOSELOOP_API_TOKEN_CACHE_S) ----------------------
class Seconds:
    """The token cache's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cached(app, ttl_s: float = 5.0) -> Seconds:
    seconds = Seconds()
    app.state.token_cache = TokenCache(ttl_s, monotonic=seconds)
    return seconds


async def test_a_token_revoked_by_another_process_stops_working_once_the_cache_ttl_has_passed(app, client, sessions):
    seconds = cached(app)
    _, token = await make_token(sessions, role=Role.member)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200  # resolved and kept
    async with unit_of_work(sessions) as s:  # what `closeloop token revoke` does, in its own process
        await s.execute(update(ApiToken).where(ApiToken.token_hash == hash_token(token)).values(revoked_at=func.now()))
    seconds.now += 4.9
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200  # within the TTL
    seconds.now += 0.1
    r = await client.get("/api/v1/me", headers=bearer(token))
    assert (r.status_code, r.json()["detail"]) == (401, "token revoked")


async def test_revoking_or_changing_a_user_through_the_api_applies_at_once_in_spite_of_the_cache(app, client, sessions):
    cached(app)
    _, admin_token = await make_token(sessions, role=Role.admin)
    member, token = await make_token(sessions, role=Role.member)
    _, other = await make_token(sessions, user=member)
    assert (await client.get("/api/v1/me", headers=bearer(token))).json()["role"] == "member"  # both kept now
    assert (await client.get("/api/v1/me", headers=bearer(other))).json()["role"] == "member"
    r = await client.patch(f"/api/v1/users/{member.id}", headers=bearer(admin_token), json={"role": "manager"})
    assert r.status_code == 200, r.text
    assert (await client.get("/api/v1/me", headers=bearer(token))).json()["role"] == "manager"  # no TTL to wait
    listed = (await client.get("/api/v1/tokens", headers=bearer(admin_token), params={"user_id": member.id})).json()
    (token_id,) = [t["id"] for t in listed["items"] if t["prefix"] == shown_prefix(token)]
    assert (await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(admin_token))).status_code == 204
    r = await client.get("/api/v1/me", headers=bearer(token))
    assert (r.status_code, r.json()["detail"]) == (401, "token revoked")
    assert (await client.get("/api/v1/me", headers=bearer(other))).status_code == 200  # the user's other token
    r = await client.patch(f"/api/v1/users/{member.id}", headers=bearer(admin_token), json={"is_active": False})
    assert r.status_code == 200, r.text
    r = await client.get("/api/v1/me", headers=bearer(other))
    assert (r.status_code, r.json()["detail"]) == (401, "user is deactivated")


async def test_an_expiry_is_checked_on_every_request_even_for_a_kept_token(app, client, sessions, clock):
    cached(app)
    admin, admin_token = await make_token(sessions, role=Role.admin)
    short = await issue(
        client, bearer(admin_token), admin.id, expires_at=(clock.now() + timedelta(hours=1)).isoformat()
    )
    assert (await client.get("/api/v1/me", headers=bearer(short["token"]))).status_code == 200
    clock.advance(timedelta(hours=1))
    r = await client.get("/api/v1/me", headers=bearer(short["token"]))
    assert (r.status_code, r.json()["detail"]) == (401, "token expired")


def test_unknown_tokens_are_never_kept_and_a_full_cache_starts_over():
    seconds = Seconds()
    cache = TokenCache(5.0, max_entries=2, monotonic=seconds)
    for n in range(3):
        cache.put(f"h{n}", object())  # type: ignore[arg-type]
    assert [cache.get(f"h{n}") is not None for n in range(3)] == [False, False, True]
    seconds.now += 5
    assert cache.get("h2") is None
    off = TokenCache(0.0)
    off.put("h", object())  # type: ignore[arg-type]
    assert off.get("h") is None
