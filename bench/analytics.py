"""Benchmark (not a test): every process-analytics endpoint at scale. Prints a table.

Seeds 50 departments, 2 000 people, 20 000 completed campaigns with 6 stage histories each,
1 000 000 tasks, 200 000 SLA timers, 60 000 review answers, 5 000 collaboration requests with
50 000 occurrences and 50 000 feedback items, spread over 2025–2026; then calls every endpoint
through the real API (JSON and CSV) for one month and reports p50 / p99 against the 300 ms budget,
with the query plans (EXPLAIN ANALYZE) of the two slowest.

    .venv/bin/python bench/analytics.py [--tasks 1000000] [--campaigns 20000] [--timers 200000] [--runs 30]

Uses CLOSELOOP_DATABASE_URL / CLOSELOOP_REDIS_URL when set, else embedded servers under
.closeloop/bench (a scratch database `closeloop_bench_analytics` is recreated either way).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.cli import migrate_to_head  # noqa: E402
from shared.analytics import service  # noqa: E402
from shared.analytics.period import AnalyticsFilter, parse_period  # noqa: E402
from shared.analytics.schemas import TaskGrouping  # noqa: E402
from shared.clock import FrozenClock  # noqa: E402
from shared.db import make_engine, make_sessionmaker  # noqa: E402
from shared.embedded import start_embedded  # noqa: E402
from shared.org.tokens import create_token  # noqa: E402
from shared.settings import load_settings  # noqa: E402
from tests.conftest import recreate_database  # noqa: E402
from tests.factories import SYSTEM  # noqa: E402

BUDGET_MS = 300
PERIOD = "2026-10"
NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
SPAN = "interval '730 days'"  # everything falls between 2025-01-01 and 2026-12-31
START = "timestamptz '2025-01-01 00:00+08'"
ENDPOINTS = (
    "stages",
    "bottlenecks",
    "campaign-cycle",
    "task-timeliness?group_by=department",
    "task-timeliness?group_by=assignee",
    "task-timeliness?group_by=period",
    "review-delay",
    "communications",
    "sla-compliance",
    "feedback-response",
)


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def spread(n: str) -> str:
    """An instant spread evenly over the two years by a row number."""
    return f"{START} + {SPAN} * (({n}::bigint * 7919) % 1000003) / 1000003.0"


async def seed(conn: asyncpg.Connection, *, tasks: int, campaigns: int, timers: int) -> None:
    await conn.execute("INSERT INTO departments (name) SELECT '部门 ' || g FROM generate_series(1, 50) g")
    await conn.execute("""INSERT INTO users (name, email, department_id, role, locale, is_active)
        SELECT '员工 ' || g, 'u' || g || '@bench', 1 + g % 50, 'member', 'zh-CN', true
        FROM generate_series(1, 2000) g""")
    await conn.execute("""INSERT INTO workflow_templates
        (key, version, name, stages, is_current, open_tasks_at_completion)
        VALUES ('bench', 1, '基准模板', '[]', true, 'wait')""")
    await conn.execute(f"""INSERT INTO campaigns (name, department_id, status, template_id, is_major, is_big_promotion,
                                                completed_at, cycle_wd)
        SELECT '活动 ' || g, 1 + g % 50, 'completed', 1, false, false, {spread("g")}, 5 + (g % 300) / 10.0
        FROM generate_series(1, {campaigns}) g""")
    await conn.execute("""INSERT INTO campaign_stages (campaign_id, key, position, name, spec, status, checklist,
                                                     entered_at, exited_at, cycle_wd, limit_wd)
        SELECT c.id, 'stage_' || k, k, '阶段 ' || k, '{}', 'done', '{}',
               c.completed_at - interval '1 day' * (7 - k), c.completed_at - interval '1 day' * (6 - k),
               (c.id * k % 60) / 10.0, 1 + k % 5
        FROM campaigns c CROSS JOIN generate_series(0, 5) k""")
    await conn.execute(f"""INSERT INTO tasks
        (title, campaign_id, assignee_id, status, priority, tags, due_at, completed_at)
        SELECT 'task ' || g, 1 + g % {campaigns}, 1 + g % 2000,
               (ARRAY['todo', 'in_progress', 'done', 'done', 'done', 'cancelled'])[1 + g % 6], 'normal', '{{}}',
               {spread("g")},
               CASE WHEN g % 6 IN (2, 3, 4) THEN {spread("g")} + interval '1 hour' * (g % 48 - 24) END
        FROM generate_series(1, {tasks}) g""")
    await conn.execute(f"""INSERT INTO sla_timers (subject_type, subject_id, department_id, target_kind, target_value,
                                                 target_s, levels, state, started_at, due_at, met_at, paused_total_s,
                                                 fired)
        SELECT (ARRAY['task', 'campaign_stage', 'feedback', 'review_response'])[1 + g % 4], g, 1 + g % 50,
               'calendar', 'PT24H', 86400, '[]', (ARRAY['running', 'met', 'met', 'cancelled'])[1 + g % 4],
               {spread("g")} - interval '1 day', {spread("g")},
               CASE WHEN g % 4 IN (1, 2) THEN {spread("g")} + interval '1 hour' * (g % 10 - 7) END, 0, '[]'
        FROM generate_series(1, {timers}) g""")
    await conn.execute(f"""INSERT INTO review_requests (title, campaign_id, department_id, status, round, reviewers,
                                                      response_target)
        SELECT '评审 ' || g, 1 + g % {campaigns}, 1 + g % 50, 'approved', 1, '[]', '{{}}'
        FROM generate_series(1, 20000) g""")
    await conn.execute(f"""INSERT INTO review_responses (review_id, round, department_id, status, requested_at,
                                                       answered_at)
        SELECT r.id, 1, 1 + (r.id + k) % 50, 'answered', {spread("r.id")},
               {spread("r.id")} + interval '1 hour' * ((r.id * k) % 72)
        FROM review_requests r CROSS JOIN generate_series(1, 3) k""")
    await conn.execute(f"""INSERT INTO collaboration_requests (matter, initiating_department_id,
                                                             collaborating_department_ids, campaign_id, deadline_kind,
                                                             deadline_value, status, created_at)
        SELECT '协作 ' || g, 1 + g % 50, ARRAY[1 + (g + 1) % 50, 1 + (g + 2) % 50]::bigint[], 1 + g % {campaigns},
               'daily_at', '18:00', 'open', {spread("g")}
        FROM generate_series(1, 5000) g""")
    await conn.execute("""INSERT INTO collaboration_occurrences (request_id, occurrence_date, status, opened_at, due_at)
        SELECT r.id, (r.created_at + interval '1 day' * k)::date, 'done', r.created_at + interval '1 day' * k,
               r.created_at + interval '1 day' * k + interval '8 hours'
        FROM collaboration_requests r CROSS JOIN generate_series(0, 9) k""")
    await conn.execute(f"""INSERT INTO feedback (kind, severity, status, channel, content, department_id, source,
                                               received_at, first_response_at)
        SELECT (ARRAY['feedback', 'complaint'])[1 + g % 2], 'normal', 'responded', 'wechat', '反馈 ' || g,
               1 + g % 50, 'api', {spread("g")}, {spread("g")} + interval '1 minute' * (g % 3000)
        FROM generate_series(1, 50000) g""")
    await conn.execute("VACUUM ANALYZE")


async def timed(call: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def p99(samples: list[float]) -> float:
    return samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]


async def plan_of(url: str, endpoint: str) -> str:
    """EXPLAIN ANALYZE of the statement the endpoint's service function sends."""
    engine = make_engine(url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    sessions = make_sessionmaker(engine)
    path, _, query = endpoint.partition("?")
    tz = "Asia/Shanghai"
    f = AnalyticsFilter.of(parse_period(PERIOD, None, None, today=NOW.date()), tz=ZoneInfo(tz), timezone=tz, now=NOW)
    calls: dict[str, Callable[[Any], Any]] = {
        "stages": lambda s: service.stage_cycle_times(s, f),
        "bottlenecks": lambda s: service.bottlenecks(s, f),
        "campaign-cycle": lambda s: service.campaign_cycle_times(s, f),
        "task-timeliness": lambda s: service.task_timeliness(s, f, group_by=TaskGrouping(query.split("=")[1])),
        "review-delay": lambda s: service.review_delay(s, f),
        "communications": lambda s: service.communications(s, f),
        "sla-compliance": lambda s: service.sla_compliance(s, f),
        "feedback-response": lambda s: service.feedback_response(s, f),
    }
    async with sessions() as s:
        await calls[path](s)
    await engine.dispose()
    statement, params = captured[-1]
    conn = await asyncpg.connect(dsn(url))
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *params)
    finally:
        await conn.close()
    return "\n".join(r[0] for r in rows)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--campaigns", type=int, default=20_000)
    ap.add_argument("--timers", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    console = Console()
    db_url, redis_url = os.environ.get("CLOSELOOP_DATABASE_URL"), os.environ.get("CLOSELOOP_REDIS_URL")
    pg = redis = None
    if not db_url or not redis_url:
        pg, redis = start_embedded(
            ROOT / ".closeloop" / "bench",
            database="postgres",
            pg_port=None,
            redis_port=None,
            persistent_redis=False,
            need_postgres=not db_url,
            need_redis=not redis_url,
        )
    try:
        base = db_url or pg.url  # type: ignore[union-attr]
        url = await asyncio.to_thread(
            recreate_database, base.replace("postgresql://", "postgresql+asyncpg://"), "closeloop_bench_analytics"
        )
        await asyncio.to_thread(migrate_to_head, url)
        conn = await asyncpg.connect(dsn(url))
        console.print(f"seeding {args.tasks:,} tasks, {args.campaigns:,} campaigns, {args.timers:,} timers …")
        started = time.perf_counter()
        await seed(conn, tasks=args.tasks, campaigns=args.campaigns, timers=args.timers)
        await conn.close()
        console.print(f"  seeded in {time.perf_counter() - started:.1f}s")

        settings = load_settings(env="test", database_url=url, redis_url=redis_url or redis.url, seed_defaults=False)  # type: ignore[union-attr]
        from services.api.app import create_app

        app = create_app(settings, FrozenClock(NOW))
        async with app.router.lifespan_context(app):
            async with app.state.sessions() as s:
                _, token = await create_token(s, actor=SYSTEM, user_id=1, name="bench", role=None)
                await s.commit()
            headers = {"Authorization": f"Bearer {token}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
                results = []
                for endpoint in ENDPOINTS:
                    sep = "&" if "?" in endpoint else "?"
                    for fmt in ("json", "csv"):
                        path = f"/api/v1/analytics/{endpoint}{sep}period={PERIOD}&format={fmt}"
                        first = await client.get(path)
                        assert first.status_code == 200, first.text
                        samples = await timed(lambda p=path: client.get(p), args.runs)  # type: ignore[misc]
                        rows = len(first.json()["rows"]) if fmt == "json" else first.text.count("\n") - 1
                        results.append((endpoint, fmt, rows, statistics.median(samples), p99(samples)))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        table = Table(
            title=f"process analytics, period {PERIOD}, {args.runs} calls each (through the API); "
            f"load average {load} on {os.cpu_count()} cores"
        )
        for col in ("endpoint", "format", "rows", "p50 ms", "p99 ms", f"≤ {BUDGET_MS} ms"):
            table.add_column(col)
        for endpoint, fmt, rows, p50, worst in results:
            table.add_row(endpoint, fmt, str(rows), f"{p50:.1f}", f"{worst:.1f}", "✓" if worst <= BUDGET_MS else "✗")
        console.print(table)
        worst: dict[str, float] = {}
        for endpoint, _, _, _, p99_ms in results:
            worst[endpoint] = max(worst.get(endpoint, 0.0), p99_ms)
        slowest = sorted(worst, key=lambda e: -worst[e])[:2]
        for endpoint in slowest:
            console.print(f"[bold]plan of {endpoint}[/bold]\n" + await plan_of(url, endpoint))
    finally:
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
