"""Heartbeats: each worker and notifier process stamps Redis every loop, so `/readyz` and
`/metrics` can tell whether anybody is sweeping — across hosts, not only on this one.

One sorted set per process kind (`closeloop:heartbeats:worker`), member `host:pid`, score the
Unix time of its last beat; stamps older than a day are dropped on each beat."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from redis.asyncio import Redis

KEY = "closeloop:heartbeats:{process}"
KEEP_S = 86_400
PROCESSES = ("worker", "notifier")


def _member() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat(redis: Redis, process: str, *, now: datetime) -> None:
    key = KEY.format(process=process)
    ts = now.timestamp()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {_member(): ts})
        pipe.zremrangebyscore(key, "-inf", ts - KEEP_S)
        await pipe.execute()


async def newest(redis: Redis, process: str) -> float | None:
    """The Unix time of the most recent beat of any process of this kind, or None."""
    top = await redis.zrevrange(KEY.format(process=process), 0, 0, withscores=True)
    return float(top[0][1]) if top else None


async def ages(redis: Redis, *, now: datetime) -> dict[str, float | None]:
    """Seconds since each kind's newest beat (None: never seen)."""
    out: dict[str, float | None] = {}
    for process in PROCESSES:
        ts = await newest(redis, process)
        out[process] = None if ts is None else max(0.0, now.timestamp() - ts)
    return out
