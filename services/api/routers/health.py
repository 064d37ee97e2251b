"""Liveness and readiness (no auth: load balancers and orchestrators call these)."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import text

from services.api.routing import Router
from shared.db import unit_of_work
from shared.observability import gauges, heartbeat
from shared.observability.metrics import CONTENT_TYPE, process_exposition

router = Router(tags=["health"])


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/healthz", response_model=Health, operation_id="healthz")
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


async def _check_db(request: Request) -> str:
    async with request.app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return "ok"


async def _check_redis(request: Request) -> str:
    await request.app.state.redis.ping()
    return "ok"


@router.get(
    "/readyz",
    response_model=Health,
    operation_id="readyz",
    responses={503: {"model": Health, "description": "a dependency is unreachable"}},
)
async def readyz(request: Request) -> JSONResponse:
    """PostgreSQL and Redis are reachable (else 503 `unavailable`), and a worker is sweeping: its
    heartbeat is fresh (`sweep`: `ok`, `stale: 42s`, or `no worker seen`). A stale sweep leaves
    the API serving — status `degraded`, 200 — because reads and writes still work; deadlines
    will fire late until a worker beats again."""
    checks: dict[str, str] = {}
    for name, check in (("database", _check_db), ("redis", _check_redis)):
        try:
            checks[name] = await asyncio.wait_for(check(request), timeout=2.0)
        except Exception as exc:  # any failure means "not ready", with the reason
            checks[name] = f"error: {type(exc).__name__}"
    if not all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)
    checks["sweep"] = await _check_sweep(request)
    status = "ok" if checks["sweep"] == "ok" else "degraded"
    return JSONResponse({"status": status, "checks": checks}, status_code=200)


def sweep_stale_after_s(sweep_interval_s: float) -> float:
    """A worker beats every sweep interval; five missed beats (at least 10 s) is stale."""
    return max(10.0, 5 * sweep_interval_s)


async def _check_sweep(request: Request) -> str:
    now = request.app.state.clock.now()
    age = (await heartbeat.ages(request.app.state.redis, now=now))["worker"]
    if age is None:
        return "no worker seen"
    if age > sweep_stale_after_s(request.app.state.settings.sweep_interval_s):
        return f"stale: {age:.0f}s"
    return "ok"


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format 0.0.4"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: every process's instruments (request latency by route, levels fired,
    delivery outcomes, rate-limit waits, event-loop lag) and the system's gauges read now (sweep
    lag, outbox depth and dead letters per channel, channel health, worker/notifier heartbeat
    age). The series are listed in the README ("Operations")."""
    async with unit_of_work(request.app.state.sessions) as session:
        state = await gauges.read_state(session, request.app.state.redis, now=request.app.state.clock.now())
    body = process_exposition() + gauges.exposition(state)
    return Response(body, media_type=CONTENT_TYPE)
