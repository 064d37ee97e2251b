"""arq worker for deliveries: one `deliver` job per notification attempt, plus an outbox sweep
that re-enqueues anything pending that Redis lost (Redis is never the source of truth).

Thin adapter: claiming, signing, classifying and retry policy live in shared/notify/.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
from arq.connections import RedisSettings
from arq.worker import func

from services.loop import run_every
from shared.clock import SystemClock
from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.notify import delivery
from shared.notify.outbox import due_for_delivery
from shared.notify.queue import DELIVER_JOB, DELIVER_MANY_JOB, NOTIFY_QUEUE, enqueue_delivery
from shared.settings import Settings, get_settings

log = logging.getLogger("closeloop.notifier")


def policy_from(settings: Settings) -> delivery.DeliveryPolicy:
    return delivery.DeliveryPolicy(
        timeout_s=settings.delivery_timeout_s,
        max_attempts=settings.delivery_max_attempts,
        max_age_s=settings.delivery_max_age_s,
        retry_base_s=settings.retry_base_s,
        retry_cap_s=settings.retry_cap_s,
        allow_private=settings.allow_private_webhooks,
    )


async def deliver(ctx: dict[str, Any], notification_id: int) -> str:
    """Claim → send (outside any transaction) → record → maybe schedule the retry."""
    clock, settings = ctx["clock"], ctx["settings"]
    async with unit_of_work(ctx["sessions"]) as session:
        claimed = await delivery.claim(session, notification_id, now=clock.now())
    if claimed is None:
        return "not due or taken"
    result = await delivery.send(ctx["http"], claimed, now=clock.now(), tz=settings.tz, policy=ctx["policy"])
    async with unit_of_work(ctx["sessions"]) as session:
        retry_at = await delivery.record(session, claimed, result, now=clock.now(), policy=ctx["policy"])
    if retry_at is not None:
        await enqueue_delivery(ctx["redis"], notification_id, attempts_so_far=claimed.attempt_no, defer_until=retry_at)
    return result.classified.outcome.value


async def deliver_many(ctx: dict[str, Any], notification_ids: list[int]) -> dict[str, int]:
    """A chunk of fresh notifications, delivered concurrently (bounded per process)."""

    async def one(notification_id: int) -> str:
        async with ctx["send_slots"]:
            return await deliver(ctx, notification_id)

    outcomes: dict[str, int] = {}
    for outcome in await asyncio.gather(*(one(i) for i in notification_ids)):
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


async def sweep_outbox(ctx: dict[str, Any]) -> bool:
    async with unit_of_work(ctx["sessions"]) as session:
        due = await due_for_delivery(session, now=ctx["clock"].now(), limit=500)
    for notification_id, attempts in due:
        await enqueue_delivery(ctx["redis"], notification_id, attempts_so_far=attempts)
    return False


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["clock"] = ctx.get("clock") or SystemClock()
    ctx["policy"] = policy_from(settings)
    ctx["send_slots"] = asyncio.Semaphore(100)
    ctx["engine"] = make_engine(settings.require_database_url(), pool_size=10)
    ctx["sessions"] = make_sessionmaker(ctx["engine"])
    # No redirects: a redirect could lead a webhook past the SSRF guard.
    ctx["http"] = httpx.AsyncClient(
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100),
        headers={"User-Agent": "Closeloop-Notifier/0.1"},
    )
    ctx["outbox_sweeper"] = asyncio.create_task(
        run_every(settings.outbox_sweep_interval_s, lambda: sweep_outbox(ctx), name="outbox sweep")
    )
    log.info("notifier up")


async def shutdown(ctx: dict[str, Any]) -> None:
    if sweeper := ctx.get("outbox_sweeper"):
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    if http := ctx.get("http"):
        await http.aclose()
    if engine := ctx.get("engine"):
        await engine.dispose()


def worker_settings(settings: Settings) -> dict[str, Any]:
    return {
        "functions": [
            func(deliver, name=DELIVER_JOB, keep_result=0, max_tries=1),
            func(deliver_many, name=DELIVER_MANY_JOB, keep_result=0, max_tries=1),
        ],
        "queue_name": NOTIFY_QUEUE,
        "redis_settings": RedisSettings.from_dsn(settings.require_redis_url()),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "max_jobs": 50,
        "poll_delay": 0.1,
        "handle_signals": True,
    }
