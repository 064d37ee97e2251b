"""The per-token API rate limit, shared by every API process through Redis.

GCRA (the generic cell rate algorithm — a token bucket kept as one number, the "theoretical
arrival time" of the next request): `CLOSELOOP_API_RATE_PER_S` requests a second sustained,
`CLOSELOOP_API_RATE_BURST` at once, one key per token (`token:<id>`), and per client address for
requests whose token is missing or unknown (`ip:<address>`: guessing tokens is throttled too).
One Lua call — one Redis round trip — per request decides and records atomically, so API processes
never both take the last slot. Over the limit: 429 problem+json with `Retry-After`; every counted
answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the
bucket is full again).

Time is Redis's own clock (`TIME` inside the script): one clock for every API process, so replicas
whose clocks disagree count alike. Tests inject a frozen clock instead and move it rather than
sleep. A bucket whose recorded time lies beyond anything a request could have reached (the clock
stepped back) starts over full instead of refusing until the clock catches up.

Not `shared/notify/ratelimit.py`: that one is a sliding log (a sorted set entry per send) on
Redis's clock, right for a bot's few sends a minute, wasteful at hundreds of requests a second and
blind to an injected clock.

**Redis unreachable: fail open.** The limit protects the API, not data; refusing every request
because Redis blinked would turn a Redis outage into an API outage. The request goes through
unlimited, `closeloop_api_rate_limit_unavailable_total` counts it and a warning is logged (at most
one a minute per process). A Redis that does not answer within `TIMEOUT_S` counts as unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.api.problems import PROBLEM_MEDIA_TYPE
from services.api.response_headers import add_response_headers
from shared.clock import Clock
from shared.errors import TooManyRequests
from shared.observability.metrics import API_RATE_LIMIT_UNAVAILABLE, API_RATE_LIMITED

log = logging.getLogger("closeloop.api")

TIMEOUT_S = 0.5
_WARN_EVERY_S = 60.0

# KEYS[1]: the bucket. ARGV: now (-1: Redis's clock), emission interval, burst (microseconds,
# microseconds, count). Returns {allowed, retry_after_us, remaining, reset_us}.
_GCRA = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now or tat > now + interval * burst then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, allow_at - now, 0, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0, math.floor((now + interval * burst - new_tat) / interval), new_tat - now}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after_s: float  # until one more request fits (0 when allowed)
    reset_s: float  # until the bucket is full again


class ApiRateLimiter:
    def __init__(
        self, redis: Redis, *, per_s: float, burst: int, clock: Clock | None = None, prefix: str = "closeloop:api-rl"
    ) -> None:
        """`clock`: None counts on Redis's clock (production); tests pass their frozen one."""
        self.clock = clock
        self.per_s = per_s
        self.burst = burst
        self.prefix = prefix
        self._interval_us = max(1, round(1_000_000 / per_s))
        self._script = redis.register_script(_GCRA)
        self._warned_at = -math.inf

    async def take(self, key: str) -> Verdict | None:
        """Count one request against `key`; None when Redis did not answer (let it through)."""
        now_us = -1 if self.clock is None else int(self.clock.now().timestamp() * 1_000_000)
        try:
            async with asyncio.timeout(TIMEOUT_S):
                allowed, retry_us, remaining, reset_us = await self._script(
                    keys=[f"{self.prefix}:{key}"], args=[now_us, self._interval_us, self.burst]
                )
        except (RedisError, OSError, TimeoutError) as exc:
            API_RATE_LIMIT_UNAVAILABLE.inc()
            if time.monotonic() - self._warned_at >= _WARN_EVERY_S:
                self._warned_at = time.monotonic()
                log.warning(
                    "API rate limit not applied: Redis unreachable (%s); requests go through", type(exc).__name__
                )
            return None
        return Verdict(bool(int(allowed)), int(remaining), int(retry_us) / 1_000_000, int(reset_us) / 1_000_000)

    async def check(self, request: Request, key: str) -> None:
        """Count the request; over the limit, raise 429 with `Retry-After`. The `RateLimit-*`
        headers go on whatever the request answers."""
        verdict = await self.take(key)
        if verdict is None:
            return
        headers = {
            "RateLimit-Limit": str(self.burst),
            "RateLimit-Remaining": str(verdict.remaining),
            "RateLimit-Reset": str(math.ceil(verdict.reset_s)),
        }
        if verdict.allowed:
            add_response_headers(request, headers)
            return
        API_RATE_LIMITED.inc()
        retry_after = max(1, math.ceil(verdict.retry_after_s))
        exc = TooManyRequests(
            f"over the API rate limit ({self.per_s:g} requests/s, bursts of {self.burst}); retry in {retry_after} s",
            retry_after_s=retry_after,
        )
        exc.headers = {**headers, "Retry-After": str(retry_after)}
        raise exc


def client_key(request: Request) -> str:
    """Who an unauthenticated request is: its client address (behind a proxy, run uvicorn with
    `--forwarded-allow-ips` so this is the caller's, not the proxy's)."""
    return f"ip:{request.client.host if request.client else 'unknown'}"


RATE_LIMITED_DESCRIPTION = (
    "Over the API rate limit (`CLOSELOOP_API_RATE_PER_S`, bursts of `CLOSELOOP_API_RATE_BURST`, per token): "
    "`Retry-After` says in how many seconds to retry"
)


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer"}}


RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _header("requests a token may send at once (the burst)"),
    "RateLimit-Remaining": _header("requests left in the burst now"),
    "RateLimit-Reset": _header("seconds until the burst is whole again"),
}


def document(app: FastAPI) -> None:
    """Every authenticated operation documents its 429, generated once with the rest of the document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        headers = {"Retry-After": _header("seconds to wait before retrying"), **RATE_LIMIT_HEADERS}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict) and operation.get("security"):
                    operation["responses"].setdefault(
                        "429",
                        {
                            "description": RATE_LIMITED_DESCRIPTION,
                            "headers": headers,
                            "content": {PROBLEM_MEDIA_TYPE: problem},
                        },
                    )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
