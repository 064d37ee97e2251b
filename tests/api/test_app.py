"""The application factory: the server's workers take their start-up heap out of the collector's reach."""

from __future__ import annotations

import gc

import fastapi.routing
import httpx
from fastapi import FastAPI

from services.api.app import create_app


async def test_a_server_worker_freezes_what_start_up_built_and_a_test_app_does_not(settings, clock, engine):
    assert gc.get_freeze_count() == 0
    plain = create_app(settings, clock)
    async with plain.router.lifespan_context(plain):
        assert gc.get_freeze_count() == 0  # an app per test: nothing kept for good
    served = create_app(settings, clock, freeze_heap=True)
    try:
        async with served.router.lifespan_context(served):
            # Every module, route and schema: the full collections of a serving worker skip them.
            assert gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()


async def test_a_server_worker_builds_the_routers_tables_before_its_first_request(settings, clock, engine, monkeypatch):
    # FastAPI builds a router's table of routes (dependencies, limits) on the first request reaching
    # it: ~1.5 ms of CPU per route, with the event loop blocked, unless start-up built them.
    built: list[str] = []
    original = fastapi.routing._EffectiveRouteContext.from_api_route

    def counting(cls: type, **kwargs: object) -> object:
        built.append(kwargs["original_route"].path)  # type: ignore[attr-defined]
        return original(**kwargs)

    monkeypatch.setattr(fastapi.routing._EffectiveRouteContext, "from_api_route", classmethod(counting))

    async def first_requests(app: FastAPI) -> list[str]:
        async with app.router.lifespan_context(app):
            before = len(built)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                assert (await client.get("/healthz")).status_code == 200
                assert (await client.get("/api/v1/tasks")).status_code == 401
                assert (await client.get("/api/v1/campaigns")).status_code == 401
            return built[before:]

    assert "/api/v1/tasks" in await first_requests(create_app(settings, clock))  # built on the request
    served = create_app(settings, clock, freeze_heap=True)
    try:
        assert await first_requests(served) == []  # built before it
        assert {"/api/v1/tasks", "/api/v1/campaigns", "/healthz"} <= set(built)
    finally:
        gc.unfreeze()
