"""arq worker for deliveries: one `drain` job empties one channel's queue (rate limits, digests,
retries), plus an outbox sweep that rings for anything pending that Redis lost.

Thin adapter: claiming, signing, classifying, limits and digests live in shared/notify/.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq.connections import RedisSettings
from arq.worker import func

from services.loop import run_every
from shared.clock import DatabaseClock, follow_database
from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.notify import delivery, dispatch
from shared.notify.http import Sender
from shared.notify.outbox import channels_with_due
from shared.notify.queue import DRAIN_JOB, NOTIFY_QUEUE, ring, ring_at
from shared.notify.ratelimit import RateLimiter
from shared.observability import heartbeat, metrics
from shared.observability.metrics import DELIVERIES, RATE_LIMIT_WAITS
from shared.pages.links import page_links
from shared.settings import Settings, get_settings

log = logging.getLogger("closeloop.notifier")


def dispatcher(ctx: dict[str, Any]) -> dispatch.Dispatcher:
    settings: Settings = ctx["settings"]
    return dispatch.Dispatcher(
        sessions=ctx["sessions"],
        http=ctx["http"],
        limiter=RateLimiter(ctx["redis"]),
        clock=ctx["clock"],
        policy=ctx["policy"],
        tz=settings.tz,
        public_url=settings.public_url,
        pages=ctx.get("pages"),
        window_scale=settings.rate_window_scale,
    )


async def drain(ctx: dict[str, Any], channel_id: int) -> dict[str, Any]:
    """Send what one channel has waiting; book the next look if something must wait."""
    report = await dispatch.drain(dispatcher(ctx), channel_id)
    for outcome, n in report.outcomes.items():
        DELIVERIES.labels(outcome).inc(n)
    if report.rate_limit_waits:
        RATE_LIMIT_WAITS.inc(report.rate_limit_waits)
    if report.more:
        await ring(ctx["redis"], [channel_id])
    if report.retry_at is not None:
        await ring_at(ctx["redis"], channel_id, report.retry_at)
    return {"outcomes": dict(report.outcomes), "messages": report.messages, "digests": report.digests}


async def sweep_outbox(ctx: dict[str, Any]) -> bool:
    async with unit_of_work(ctx["sessions"]) as session:
        channel_ids = await channels_with_due(session, now=ctx["clock"].now())
    await ring(ctx["redis"], channel_ids)
    await heartbeat.beat(ctx["redis"], "notifier", now=ctx["clock"].now())
    return False


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["clock"] = ctx.get("clock") or DatabaseClock()
    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_port)
    ctx["policy"] = delivery.policy_from(settings)
    ctx["pages"] = page_links(settings)  # an app URL naming an unknown item type stops the start here
    ctx["engine"] = make_engine(settings.require_database_url(), pool_size=10)
    ctx["sessions"] = make_sessionmaker(ctx["engine"])
    ctx["http"] = Sender(max_connections=100)
    # Retries and what is due are judged on the database's clock (ADR 0009); leases are in SQL.
    ctx["clock_follower"] = await follow_database(ctx["clock"], ctx["engine"])
    ctx["outbox_sweeper"] = asyncio.create_task(
        run_every(settings.outbox_sweep_interval_s, lambda: sweep_outbox(ctx), name="outbox sweep")
    )
    log.info("notifier up")


async def shutdown(ctx: dict[str, Any]) -> None:
    for task in (ctx.get("outbox_sweeper"), ctx.get("clock_follower")):
        if task is None:
            continue
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if http := ctx.get("http"):
        await http.aclose()
    if engine := ctx.get("engine"):
        await engine.dispose()


def worker_settings(settings: Settings) -> dict[str, Any]:
    return {
        "functions": [func(drain, name=DRAIN_JOB, keep_result=0, max_tries=1)],
        "queue_name": NOTIFY_QUEUE,
        "redis_settings": RedisSettings.from_dsn(settings.require_redis_url()),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "max_jobs": 20,
        "job_timeout": 600,  # a drain stops itself after a minute; this is only the backstop
        "poll_delay": 0.05,
        "handle_signals": True,
    }
