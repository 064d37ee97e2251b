"""bench/load.py: the open loop keeps its schedule when the server is slow, and counts from it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench.load import HEALTHZ, Route, percentile, run_open_loop
from shared.embedded import free_port


@pytest.fixture
async def slow_server() -> AsyncIterator[str]:
    """Answers one request at a time, 40 ms each: 25 requests/s at most; /healthz answers at once."""
    lock = asyncio.Lock()

    async def slow(request: web.Request) -> web.Response:
        async with lock:
            await asyncio.sleep(0.04)
        return web.Response(text="ok")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    app.add_routes([web.get("/slow", slow), web.get("/healthz", healthz), web.get("/missing", missing)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 90) == 9.0
    assert percentile(values, 99) == 10.0


async def test_latency_counts_from_the_scheduled_instant_when_the_server_falls_behind(slow_server: str) -> None:
    # 50 requests/s for 1 s against a server that serves 25/s: the last ones wait ~1 s in its queue.
    result = await run_open_loop(
        slow_server, [Route("slow", "GET", "/slow", 1)], rate=50, duration_s=1, baseline_share=0
    )

    slow = result.stats["slow"]
    assert result.sent == 50 and slow.count == 50 and slow.errors == 0
    # A closed loop would report ~40 ms for every request; the open loop sees the backlog grow.
    assert percentile(slow.latencies_ms, 50) > 300
    assert max(slow.latencies_ms) > 900
    assert result.achieved_rate < 35  # the server's pace, not the asked 50/s


async def test_errors_and_the_healthz_baseline_are_reported_per_route(slow_server: str) -> None:
    result = await run_open_loop(
        slow_server, [Route("missing", "GET", "/missing", 1)], rate=40, duration_s=0.5, baseline_share=0.5, seed=7
    )

    assert set(result.stats) == {"missing", HEALTHZ}
    missing, base = result.stats["missing"], result.stats[HEALTHZ]
    assert missing.count + base.count == 20
    assert missing.errors == missing.count > 0 and missing.statuses[404] == missing.count
    assert base.errors == 0 and len(base.latencies_ms) == base.count > 0
