"""Benchmark (not a test): the process-analytics endpoints at the issue's scale. Prints a table.

Seeds (bench/seed.py; `--reuse` keeps a database seeded before) 1 000 000 tasks, 20 000 campaigns
with stage histories, 200 000 SLA timers and 50 departments at `--scale 1.0`, starts the API as a
real process, and drives every analytics endpoint — JSON and CSV, for the whole company and for one
department, period 2026-10 — at a modest fixed open-loop rate (bench/load.py), next to two board
routes that exist already. Target: p99 ≤ 300 ms each. Then prints EXPLAIN (ANALYZE, BUFFERS) of
the slowest statement behind the two slowest routes (captured by calling the route in-process
with a SQLAlchemy cursor hook), and times a monthly company report (shared.reports, if present).

    .venv/bin/python bench/analytics.py --scale 0.01            # a quick run
    .venv/bin/python bench/analytics.py [--scale 1.0] [--reuse] [--rate 20] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import HEALTHZ, LoadResult, Route, print_results, run_open_loop  # noqa: E402
from bench.seed import add_scale_arguments, print_report, scale_from, seed  # noqa: E402
from bench.stack import (  # noqa: E402
    BenchStack,
    admin_token,
    capture_statements,
    execution_ms,
    explain,
    scratch_database,
    start_api,
)
from shared.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402

DATABASE = "closeloop_bench_analytics"
TARGET_MS = 300.0
PERIOD = "2026-10"
ANALYTICS = "/api/v1/analytics"
# The endpoints (being built in parallel: until they are merged they answer 404 here).
ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("stages", "/stages"),
    ("bottlenecks", "/bottlenecks"),
    ("campaign-cycle", "/campaign-cycle"),
    ("timeliness/department", "/task-timeliness?group_by=department"),
    ("timeliness/assignee", "/task-timeliness?group_by=assignee"),
    ("timeliness/period", "/task-timeliness?group_by=period"),
    ("review-delay", "/review-delay"),
    ("communications", "/communications"),
    ("sla-compliance", "/sla-compliance"),
    ("feedback-response", "/feedback-response"),
)
# Routes that exist today: they prove the harness and give a comparison.
BOARDS: tuple[tuple[str, str], ...] = (
    ("tasks?limit=50", "/api/v1/tasks?limit=50"),
    ("sla/timers?limit=50", "/api/v1/sla/timers?limit=50"),
)


def _join(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


def analytics_routes(department_ids: list[int]) -> list[Route]:
    """Each endpoint × {JSON, CSV} × {company, one department (picked per request)}, equal weights."""
    routes: list[Route] = []

    def pick(rnd: Any) -> dict[str, Any]:
        return {"department_id": rnd.choice(department_ids)}

    for name, path in ENDPOINTS:
        for fmt in ("json", "csv"):
            base = _join(ANALYTICS + path, f"period={PERIOD}") + ("&format=csv" if fmt == "csv" else "")
            routes.append(Route(f"{name} {fmt}", "GET", base, 1.0))
            routes.append(Route(f"{name} {fmt} +dept", "GET", base + "&department_id={department_id}", 1.0, fill=pick))
    routes.extend(Route(name, "GET", path, 1.0) for name, path in BOARDS)
    return routes


async def print_plans(console: Console, stack: BenchStack, token: str, result: LoadResult, routes: list[Route]) -> None:
    answered = [
        (s.pct(99), name) for name, s in result.stats.items() if name != HEALTHZ and s.latencies_ms and not s.errors
    ]
    by_name = {r.name: r for r in routes}
    for p99, name in sorted(answered, reverse=True)[:2]:
        route = by_name[name]
        path = route.path.format(department_id="1") if route.fill else route.path
        statements = await capture_statements(stack, token, path)
        plans = [(await explain(stack, c), c) for c in statements]
        if not plans:
            console.print(f"[yellow]{name}: no statement captured[/yellow]")
            continue
        # The statement the server spent longest on (its own Execution Time, not the client's clock).
        plan, slowest = max(plans, key=lambda pc: execution_ms(pc[0]))
        console.print(
            f"\n[bold]{name}[/bold] (p99 {p99:.1f} ms): {len(statements)} statements; the slowest, "
            f"{execution_ms(plan):.1f} ms on the server:\n{slowest.statement}\n"
        )
        console.print(plan)


# ---- the monthly company report ------------------------------------------------------------------
async def time_monthly_report(console: Console, stack: BenchStack) -> None:
    """Build October 2026's company report with shared.reports' builder, if that module exists."""
    try:
        from shared.reports.builder import Scope, Window, build_periodic
        from shared.reports.models import ReportKind, ReportScope
        from shared.reports.schedule import period_of
    except ImportError as exc:
        console.print(f"[yellow]monthly company report: skipped — shared.reports is not here yet ({exc})[/yellow]")
        return
    from shared.sla.directory import load_calendars

    engine = make_engine(stack.database_url, pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            cal = (await load_calendars(session, []))[None]
            window = Window.of(cal, period_of(ReportKind.monthly, date(2026, 10, 15)))
            started = time.perf_counter()
            report = await build_periodic(session, Scope(ReportScope.company), window)
            seconds = time.perf_counter() - started
        ok = "[green]yes[/green]" if seconds <= 5 else "[red]no[/red]"
        console.print(
            f"monthly company report {PERIOD}: {seconds:.2f} s (target ≤ 5 s) {ok}; sections: {', '.join(report)}"
        )
    except Exception as exc:  # the builder is another branch's: report how it failed, keep the table
        console.print(f"[red]monthly company report: the builder failed: {type(exc).__name__}: {exc}[/red]")
    finally:
        await engine.dispose()


async def main() -> None:
    ap = argparse.ArgumentParser(description="Process analytics at scale: p50/p99 per endpoint, plans of the slowest.")
    add_scale_arguments(ap)
    ap.add_argument("--reuse", action="store_true", help="keep the bench database if it exists (seeded before)")
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second, all routes together")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    args = ap.parse_args()
    console = Console(width=150)  # the table stays readable when piped to a file
    async with scratch_database(DATABASE, reuse=args.reuse) as stack:
        conn = await asyncpg.connect(stack.dsn)
        try:
            if await conn.fetchval("SELECT count(*) FROM tasks") == 0:
                console.print(f"seeding at {scale_from(args)} …")
                print_report(await seed(stack.database_url, scale_from(args), seed=args.seed))
            else:
                console.print("reusing the seeded database as it is")
            counts = {
                t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                for t in ("departments", "campaigns", "campaign_stages", "tasks", "sla_timers")
            }
            department_ids = [r[0] for r in await conn.fetch("SELECT id FROM departments ORDER BY id")]
        finally:
            await conn.close()
        console.print("data: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
        token = await admin_token(stack)
        api = start_api(stack)
        try:
            routes = analytics_routes(department_ids)
            console.print(f"driving {len(routes)} routes at {args.rate:g}/s for {args.duration:g} s (open loop) …")
            result = await run_open_loop(
                api.base_url,
                routes,
                rate=args.rate,
                duration_s=args.duration,
                headers={"Authorization": f"Bearer {token}"},
                pid=api.pid,
            )
        finally:
            api.stop()
        print_results(
            result,
            title=f"analytics — {counts['tasks']:,} tasks, {counts['campaigns']:,} campaigns, "
            f"{counts['sla_timers']:,} timers, {counts['departments']} departments; period {PERIOD}",
            target_ms=TARGET_MS,
            console=console,
        )
        missing = [n for n, s in result.stats.items() if s.statuses.get(404) and not s.latencies_ms]
        if missing:
            console.print(f"[yellow]{len(missing)} routes answered 404 (not built on this branch yet)[/yellow]")
        await print_plans(console, stack, token, result, routes)
        await time_monthly_report(console, stack)
        if not math.isnan(result.achieved_rate) and result.achieved_rate < 0.9 * args.rate:
            console.print("[red]the server did not keep up with the asked rate[/red]")


if __name__ == "__main__":
    asyncio.run(main())
