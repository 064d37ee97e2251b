"""A saturated API answers 503 with Retry-After, not 500, when no database connection comes free."""

from __future__ import annotations

from typing import Any

import httpx

from shared.settings import Settings


async def test_no_free_connection_is_a_503_with_retry_after(settings: Settings, clock: Any, engine: Any) -> None:
    from services.api.app import create_app

    tight = settings.model_copy(update={"api_db_pool_size": 1, "api_db_pool_timeout_s": 0.2})
    app = create_app(tight, clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        held = [await app.state.engine.connect() for _ in range(2)]  # the pool's one and its one overflow
        try:
            r = await client.get("/api/v1/tasks", headers={"Authorization": "Bearer nobody-would-get-this-far"})
        finally:
            for conn in held:
                await conn.close()
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "saturated" in r.json()["detail"]
        # Once connections are free again the same request is served (here: refused as unauthenticated).
        again = await client.get("/api/v1/tasks", headers={"Authorization": "Bearer nobody-would-get-this-far"})
        assert again.status_code == 401
