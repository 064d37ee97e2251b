"""Outages of PostgreSQL and Redis: the worker's loops and arq's poll back off and carry on; a
Redis that restarts under a running arq worker does not end it (arq's own loop would)."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import asyncpg
import pytest
import redis.exceptions
import sqlalchemy.exc
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker, func

from services.loop import run_every
from services.resilient import ResilientWorker
from shared.embedded import EmbeddedRedis, free_port
from shared.observability.metrics import DEPENDENCY_DOWN
from shared.outage import dependency_down


def test_an_outage_names_the_server_that_went_away():
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    wrapped = sqlalchemy.exc.DBAPIError("SELECT 1", None, asyncpg.exceptions.AdminShutdownError("terminating"))
    assert dependency_down(redis.exceptions.ConnectionError("Error 111 connecting")) == "redis"
    assert dependency_down(redis.exceptions.TimeoutError("Timeout reading")) == "redis"
    assert dependency_down(wrapped) == "postgres"
    assert dependency_down(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")) == (
        "postgres"
    )
    assert dependency_down(refused) == "postgres"
    assert dependency_down(ValueError("a bug")) is None
    assert dependency_down(sqlalchemy.exc.IntegrityError("INSERT", None, Exception("duplicate key"))) is None


async def test_a_loop_backs_off_while_redis_is_down_and_carries_on_when_it_is_back():
    calls: list[float] = []
    loop = asyncio.get_running_loop()
    before = DEPENDENCY_DOWN.labels("redis")._value.get()

    async def step() -> bool:
        calls.append(loop.time())
        if len(calls) <= 3:
            raise redis.exceptions.ConnectionError("Connection reset by peer")
        return False

    task = asyncio.create_task(run_every(30.0, step, name="sweep"))
    for _ in range(100):
        if len(calls) >= 4:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(calls) == 4  # three failures retried within seconds, not at the next 30 s tick
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] < gaps[2] and gaps[2] < 3  # backing off, and never sleeping the interval away
    assert DEPENDENCY_DOWN.labels("redis")._value.get() - before == 3


async def test_a_bug_is_not_an_outage_and_waits_for_the_next_tick():
    calls = 0

    async def step() -> bool:
        nonlocal calls
        calls += 1
        raise ValueError("a bug")

    task = asyncio.create_task(run_every(30.0, step, name="sweep"))
    await asyncio.sleep(0.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert calls == 1


async def ping(ctx: dict) -> str:
    return "pong"


async def run_through_a_redis_restart(worker_class: type[Worker], tmp: Path) -> tuple[asyncio.Task[None], str | None]:
    server = EmbeddedRedis(tmp, free_port(), persistent=False).start()
    settings = RedisSettings.from_dsn(server.url)
    worker = worker_class(
        functions=[func(ping, name="ping")], redis_settings=settings, handle_signals=False, poll_delay=0.05
    )
    running = asyncio.create_task(worker.async_run())
    pool = await create_pool(settings)
    try:
        await asyncio.sleep(0.3)
        server.stop()  # Redis goes away for about two seconds
        await asyncio.sleep(2.0)
        server.start()
        await asyncio.sleep(0.5)
        result = None
        if not running.done():
            job = await pool.enqueue_job("ping")
            assert job is not None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and result is None:
                result = await job.result(timeout=1, poll_delay=0.05) if await job.status() else None
                await asyncio.sleep(0.05)
        return running, result
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await pool.aclose()
        server.stop()


@pytest.mark.e2e
async def test_arqs_own_worker_ends_when_redis_restarts(tmp_path):
    running, _ = await run_through_a_redis_restart(Worker, tmp_path)
    assert running.done() and isinstance(running.exception(), redis.exceptions.ConnectionError)


@pytest.mark.e2e
async def test_the_resilient_worker_outlives_a_redis_restart_and_runs_the_next_job(tmp_path):
    _, result = await run_through_a_redis_restart(ResilientWorker, tmp_path)
    assert result == "pong"


async def test_a_step_given_as_a_lambda_is_awaited_too():
    # The worker passes `lambda: sweep_once(ctx)`: a plain function returning a coroutine.
    calls = 0

    async def sweep() -> bool:
        nonlocal calls
        calls += 1
        return False

    task = asyncio.create_task(run_every(30.0, lambda: sweep(), name="sweep"))
    await asyncio.sleep(0.2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert calls == 1
