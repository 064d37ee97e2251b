"""Liveness and readiness (no auth: load balancers and orchestrators call these)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

router = APIRouter(tags=["health"])


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
    """PostgreSQL and Redis are reachable."""
    checks: dict[str, str] = {}
    for name, check in (("database", _check_db), ("redis", _check_redis)):
        try:
            checks[name] = await asyncio.wait_for(check(request), timeout=2.0)
        except Exception as exc:  # any failure means "not ready", with the reason
            checks[name] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)
