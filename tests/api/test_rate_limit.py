"""The per-token API rate limit: a burst, then 429 with Retry-After; other tokens unaffected; the
bucket refills with the clock; unknown tokens counted by address; Redis away means no limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from services.api.ratelimit import ApiRateLimiter
from shared.embedded import free_port
from shared.models import Role
from shared.observability.metrics import API_RATE_LIMIT_UNAVAILABLE
from shared.settings import load_settings
from tests.factories import make_token


@pytest.fixture
async def limited(settings, clock, engine) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The API at 1 request/s with bursts of 3."""
    from services.api.app import create_app

    app = create_app(load_settings(**{**settings.model_dump(), "api_rate_per_s": 1, "api_rate_burst": 3}), clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield app, client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_over_its_burst_gets_429_with_retry_after_and_others_do_not(limited, sessions, clock):
    _, client = limited
    _, first = await make_token(sessions, role=Role.member)
    _, second = await make_token(sessions, role=Role.member)
    remaining = []
    for _ in range(3):
        r = await client.get("/api/v1/me", headers=bearer(first))
        assert r.status_code == 200
        remaining.append(r.headers["ratelimit-remaining"])
    assert remaining == ["2", "1", "0"] and r.headers["ratelimit-limit"] == "3"
    assert r.headers["ratelimit-reset"] == "3"  # three requests at 1/s: whole again in 3 s

    r = await client.get("/api/v1/me", headers=bearer(first))
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "1" and r.headers["ratelimit-remaining"] == "0"
    body = r.json()
    assert (body["type"], body["status"], body["retry_after_s"]) == (
        "https://closeloop.dev/problems/rate-limited",
        429,
        1,
    )
    # A write over the limit is refused before it happens.
    r = await client.post("/api/v1/tasks", headers=bearer(first), json={"title": "x"})
    assert r.status_code == 429
    assert (await client.get("/api/v1/tasks", headers=bearer(second))).json()["items"] == []

    r = await client.get("/api/v1/me", headers=bearer(second))  # another token has its own bucket
    assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "1"  # its 2nd request

    clock.advance(timedelta(seconds=1))  # one request's worth refills
    r = await client.get("/api/v1/me", headers=bearer(first))
    assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "0"
    assert (await client.get("/api/v1/me", headers=bearer(first))).status_code == 429
    clock.advance(timedelta(seconds=3))  # the whole burst again
    assert [(await client.get("/api/v1/me", headers=bearer(first))).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]


async def test_requests_without_a_valid_token_are_counted_by_address(limited, sessions):
    _, client = limited
    statuses = [(await client.get("/api/v1/me", headers=bearer("cl_guess" + "x" * 40))).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert (await client.get("/api/v1/me")).status_code == 429  # no token at all: the same address
    _, token = await make_token(sessions, role=Role.member)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200  # a real token is its own
    assert (await client.get("/healthz")).status_code == 200  # probes are not limited


async def test_without_redis_the_limit_is_not_applied_and_it_is_counted(limited, sessions, clock, caplog):
    app, client = limited
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}")
    app.state.rate_limiter = ApiRateLimiter(dead, per_s=1, burst=1)
    _, token = await make_token(sessions, role=Role.member)
    before = API_RATE_LIMIT_UNAVAILABLE._value.get()
    for _ in range(3):
        r = await client.get("/api/v1/me", headers=bearer(token))
        assert r.status_code == 200 and "ratelimit-remaining" not in r.headers
    assert API_RATE_LIMIT_UNAVAILABLE._value.get() - before == 3
    warnings = [r.getMessage() for r in caplog.records if "rate limit not applied" in r.getMessage()]
    assert warnings == ["API rate limit not applied: Redis unreachable (ConnectionError); requests go through"]
    await dead.aclose()


def test_every_authenticated_operation_documents_its_429(app):
    document = app.openapi()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and "429" not in operation["responses"]
    ]
    assert missing == []
    tasks = document["paths"]["/api/v1/tasks"]["get"]["responses"]["429"]
    assert set(tasks["headers"]) == {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}
    assert "429" not in document["paths"]["/healthz"]["get"]["responses"]


async def test_without_an_injected_clock_the_limit_runs_on_redis_time(settings, engine):
    redis = Redis.from_url(settings.require_redis_url())
    limiter = ApiRateLimiter(redis, per_s=0.5, burst=2)  # production: one clock, Redis's
    verdicts = [await limiter.take("token:1") for _ in range(3)]
    assert [(v.allowed, v.remaining) for v in verdicts if v] == [(True, 1), (True, 0), (False, 0)]
    assert 1.0 < verdicts[2].retry_after_s <= 2.0  # one request's worth: 2 s, less what has passed
    await redis.aclose()


async def test_a_clock_stepped_back_starts_the_bucket_over_instead_of_refusing(settings, engine, clock):
    redis = Redis.from_url(settings.require_redis_url())
    limiter = ApiRateLimiter(redis, per_s=1, burst=2, clock=clock)
    assert [(await limiter.take("token:1")).allowed for _ in range(3)] == [True, True, False]  # type: ignore[union-attr]
    clock.advance(timedelta(days=-1))
    assert [(await limiter.take("token:1")).allowed for _ in range(3)] == [True, True, False]  # type: ignore[union-attr]
    await redis.aclose()
