"""arq worker: every SWEEP_INTERVAL_S it claims due SLA timers and fires their levels, opens
the day's occurrences of recurring collaboration requests, opens a rectification item for each
KPI variance whose cause is overdue, and produces scheduled reports (each once per period); hourly
it forgets old inbound chat events (the replay memory of chat callbacks).

Thin adapter: the rules live in shared/sla/, shared/collaboration/ and shared/kpis/.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from datetime import timedelta
from typing import Any

from arq.connections import RedisSettings
from arq.worker import func

from services.loop import run_crew, run_every, watch_event_loop
from shared.chat.apps import prune_events
from shared.clock import DatabaseClock, follow_database
from shared.collaboration.service import open_due_occurrences
from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.kpis.service import rectify_breached
from shared.notify.queue import WORKER_QUEUE, ring
from shared.observability import heartbeat, metrics
from shared.observability.metrics import LEVELS_FIRED, SWEEPS
from shared.reports.service import LinkSigner, produce_due_reports
from shared.settings import Settings, get_settings
from shared.sla.engine import sweep_due_timers

log = logging.getLogger("closeloop.worker")
# Reports are due at a time of day: checking every few seconds is plenty (each check is two queries).
REPORT_INTERVAL_S = 5.0
REPORT_BATCH = 20
CHAT_EVENT_PRUNE_S = 3600.0  # the replay memory of chat callbacks is trimmed hourly


async def sweep_once(ctx: dict[str, Any]) -> bool:
    """One batch: claim, fire, write escalations and outbox rows, commit, then ring the notifier.
    True when the batch was full (more may be waiting)."""
    settings: Settings = ctx["settings"]
    async with unit_of_work(ctx["sessions"]) as session:
        result = await sweep_due_timers(session, now=ctx["clock"].now(), batch_size=settings.sweep_batch_size)
    # After the commit: the notifier must find the rows.
    await ring(ctx["redis"], result.channel_ids)
    await heartbeat.beat(ctx["redis"], "worker", now=ctx["clock"].now())
    SWEEPS.inc()
    for kind, n in result.kinds.items():
        LEVELS_FIRED.labels(kind).inc(n)
    if result.fired:
        log.info(
            "sla sweep: %d timer(s), %d level(s) fired, %d notification(s)",
            result.claimed,
            result.fired,
            len(result.notification_ids),
        )
    return result.claimed >= settings.sweep_batch_size


async def open_occurrences_once(ctx: dict[str, Any]) -> bool:
    """Open recurring requests' occurrences whose working day has begun (each with its timer).
    True when the batch was full."""
    async with unit_of_work(ctx["sessions"]) as session:
        opened = await open_due_occurrences(session, now=ctx["clock"].now(), batch_size=100)
    if opened:
        log.info("collaboration: %d occurrence(s) opened", opened)
    return opened >= 100


async def rectify_variances_once(ctx: dict[str, Any]) -> bool:
    """Open rectification items for KPI variances nobody explained in time (each exactly once).
    True when the batch was full."""
    async with unit_of_work(ctx["sessions"]) as session:
        opened = await rectify_breached(session, now=ctx["clock"].now(), batch_size=100)
    if opened:
        log.info("kpis: %d rectification item(s) opened for unexplained variances", opened)
    return opened >= 100


def report_links(settings: Settings) -> LinkSigner:
    return LinkSigner(settings.secret_key.get_secret_value(), timedelta(days=settings.report_link_ttl_days))


async def produce_reports_once(ctx: dict[str, Any]) -> bool:
    """Produce every scheduled report now due (each exactly once per period) and its chat card;
    ring the channels after the commit. A batch left over waits for the next tick (seconds)."""
    async with unit_of_work(ctx["sessions"]) as session:
        channel_ids = await produce_due_reports(
            session, now=ctx["clock"].now(), links=report_links(ctx["settings"]), batch_size=REPORT_BATCH
        )
    await ring(ctx["redis"], sorted(set(channel_ids)))
    if channel_ids:
        log.info("reports: card(s) for %d channel(s) written", len(channel_ids))
    return False


async def prune_chat_events_once(ctx: dict[str, Any]) -> bool:
    """Forget inbound chat events older than CLOSELOOP_CHAT_EVENT_RETENTION_DAYS (replays come within hours)."""
    settings: Settings = ctx["settings"]
    async with unit_of_work(ctx["sessions"]) as session:
        pruned = await prune_events(
            session, now=ctx["clock"].now(), keep=timedelta(days=settings.chat_event_retention_days)
        )
    if pruned:
        log.info("chat: %d old inbound event(s) forgotten", pruned)
    return False


async def sweep(ctx: dict[str, Any]) -> int:
    """On-demand sweep job (ops: `enqueue sweep`)."""
    n = 0
    while await sweep_once(ctx):
        n += 1
    return n + 1


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["clock"] = ctx.get("clock") or DatabaseClock()
    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_port)
    ctx["engine"] = make_engine(settings.require_database_url(), pool_size=settings.sweep_concurrency + 3)
    ctx["sessions"] = make_sessionmaker(ctx["engine"])
    # Deadlines are judged on the database's clock, whatever this host's says (ADR 0009).
    follower = await follow_database(ctx["clock"], ctx["engine"])
    # Several sweep loops per process: while one waits on PostgreSQL the other computes; SKIP LOCKED
    # hands them disjoint timers, exactly as it does across worker processes. Their ticks spread
    # over the interval (a deadline is seen within interval / concurrency), and the one that finds a
    # full batch wakes the others.
    ctx["sweepers"] = run_crew(
        settings.sweep_concurrency, settings.sweep_interval_s, lambda: sweep_once(ctx), name="sla sweep"
    )
    ctx["sweepers"].append(
        asyncio.create_task(
            run_every(settings.sweep_interval_s, lambda: open_occurrences_once(ctx), name="collaboration occurrences")
        )
    )
    ctx["sweepers"].append(
        asyncio.create_task(
            run_every(settings.sweep_interval_s, lambda: rectify_variances_once(ctx), name="kpi variance rectification")
        )
    )
    ctx["sweepers"].append(
        asyncio.create_task(run_every(CHAT_EVENT_PRUNE_S, lambda: prune_chat_events_once(ctx), name="chat events"))
    )
    ctx["sweepers"].append(asyncio.create_task(watch_event_loop(), name="event loop lag"))
    if follower is not None:
        ctx["sweepers"].append(follower)
    ctx["sweepers"].append(
        asyncio.create_task(
            run_every(
                max(settings.sweep_interval_s, REPORT_INTERVAL_S), lambda: produce_reports_once(ctx), name="reports"
            )
        )
    )
    # Everything loaded so far (modules, models, the registry) lives as long as the process: keep it
    # out of the cyclic collector's full passes, which each sweep's burst of short-lived payloads
    # triggers and which would otherwise walk all of it every time (bench/sweep.py).
    gc.freeze()
    log.info("worker up: sweeping every %.2fs", settings.sweep_interval_s)


async def shutdown(ctx: dict[str, Any]) -> None:
    for sweeper in ctx.get("sweepers", []):
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    if engine := ctx.get("engine"):
        await engine.dispose()


def worker_settings(settings: Settings) -> dict[str, Any]:
    return {
        "functions": [func(sweep, name="sweep", keep_result=0)],
        "queue_name": WORKER_QUEUE,
        "redis_settings": RedisSettings.from_dsn(settings.require_redis_url()),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "handle_signals": True,
    }
