"""Benchmark (not a test): the API's own CPU per request, in-process — the figure that stays put on
a machine other work shares.

bench/api.py measures the API as a server under an open-loop rate; on a shared machine its
latencies and even its CPU per request follow the neighbours' load. This one sends bench/api.py's
mix (the same routes, weights and seeded database: run bench/api.py first, or pass `--scale`)
one request at a time through the application in this process (httpx's ASGI transport, uvloop, the
app as `closeloop api` builds it) and reads this process's CPU time around each route's requests:
no server, no network, no other process in the figure. It prints CPU ms per request per route, the
weighted mix, and each against `/healthz` measured the same way in the same run (the framework's
floor), the best of `--rounds` rounds to leave out the moments another process took the core; and
the SQL statements each request sent (a count: the same on any machine).

    .venv/bin/python bench/api_cpu.py                    # the database bench/api.py seeded
    .venv/bin/python bench/api_cpu.py --requests 50 --rounds 3
    .venv/bin/python bench/api_cpu.py --only tasks/ --profile /tmp/api.prof   # one route, profiled
"""

from __future__ import annotations

import argparse
import cProfile
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import uvloop
from rich.console import Console
from rich.table import Table
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.api import DATABASE, load_average, load_ids, machine, routes_for  # noqa: E402
from bench.load import HEALTHZ, Route  # noqa: E402
from bench.seed import add_scale_arguments, print_report, scale_from, seed  # noqa: E402
from bench.stack import admin_token, scratch_database  # noqa: E402
from services.api.app import create_app  # noqa: E402
from shared.settings import load_settings  # noqa: E402


async def main() -> None:
    ap = argparse.ArgumentParser(description="The API's CPU per request, in-process, on bench/api.py's mix.")
    add_scale_arguments(ap)
    ap.add_argument("--requests", type=int, default=50, help="requests per route per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; the best of them is shown")
    ap.add_argument(
        "--only", action="append", default=[], metavar="ROUTE", help="only the routes whose name has ROUTE (repeatable)"
    )
    ap.add_argument("--sql", action="store_true", help="print each SQL statement sent (with --requests 1)")
    ap.add_argument("--profile", metavar="FILE", help="write a cProfile of the measured requests to FILE (pstats)")
    args = ap.parse_args()
    console = Console(width=160)
    console.print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}; load average {load_average()}")
    async with scratch_database(DATABASE, reuse=True) as stack:
        conn = await asyncpg.connect(stack.dsn)
        try:
            if await conn.fetchval("SELECT count(*) FROM tasks") == 0:
                console.print(f"seeding at {scale_from(args)} …")
                print_report(await seed(stack.database_url, scale_from(args), seed=args.seed))
            tasks = await conn.fetchval("SELECT count(*) FROM tasks")
        finally:
            await conn.close()
        ids = await load_ids(stack)
        token = await admin_token(stack)
        routes = [r for r in routes_for(ids) if not args.only or any(part in r.name for part in args.only)]
        if not routes:
            raise SystemExit(f"no route's name contains any of {args.only}")
        settings = load_settings(
            database_url=stack.database_url,
            redis_url=stack.redis_url,
            public_url="http://bench",
            api_rate_per_s=100_000,  # consulted on every request (one Redis call), never refusing
            api_rate_burst=1_000_000,
        )
        app = create_app(settings, freeze_heap=True)  # as `closeloop api` serves it
        best: dict[str, float] = {}
        statements: dict[str, float] = {}
        sent = [0]
        measuring = False  # after the warm-up

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            sent[0] += 1
            if args.sql and measuring:
                console.print(f"  [dim]{' '.join(statement.split())[:200]}[/dim]")

        async with app.router.lifespan_context(app):
            event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
                rnd = random.Random(3)

                async def one(route: Route) -> None:
                    path = route.path.format(**route.fill(rnd)) if route.fill else route.path
                    r = await client.request(route.method, path, json=route.body(rnd) if route.body else None)
                    if r.status_code >= 400 and r.status_code != 404:  # 404: an id drawn from a gap
                        raise SystemExit(f"{route.name}: {r.status_code} {r.text[:300]}")

                healthz = Route(HEALTHZ, "GET", "/healthz", 0)
                for route in [healthz, *routes]:  # caches built, statements prepared
                    for _ in range(5):
                        await one(route)
                measuring = True
                profiler = cProfile.Profile() if args.profile else None
                for _ in range(args.rounds):
                    for route in [healthz, *routes]:
                        if args.sql:
                            console.print(route.name)
                        sent[0] = 0
                        started = time.process_time()
                        if profiler is not None:
                            profiler.enable()
                        for _ in range(args.requests):
                            await one(route)
                        if profiler is not None:
                            profiler.disable()
                        ms = 1000 * (time.process_time() - started) / args.requests
                        best[route.name] = min(best.get(route.name, ms), ms)
                        statements[route.name] = sent[0] / args.requests
    if profiler is not None:
        profiler.dump_stats(args.profile)
    floor = best[HEALTHZ]
    table = Table(title=f"API CPU per request, in-process — {tasks:,} tasks; best of {args.rounds} rounds")
    for column in ("route", "CPU ms", "÷ healthz", "SQL statements"):
        table.add_column(column, justify="left" if column == "route" else "right")
    for route in routes:
        name = route.name
        table.add_row(name, f"{best[name]:.2f}", f"×{best[name] / floor:.1f}", f"{statements[name]:.1f}")
    weights = sum(r.weight for r in routes)
    mix = sum(best[r.name] * r.weight for r in routes) / weights
    mix_sql = sum(statements[r.name] * r.weight for r in routes) / weights
    mix_row = ("the mix (bench/api.py's weights)", f"{mix:.2f}", f"×{mix / floor:.1f}", f"{mix_sql:.2f}")
    table.add_row(*mix_row, style="bold")
    table.add_row("healthz", f"{floor:.2f}", "×1.0", f"{statements[HEALTHZ]:.1f}")
    console.print(table)
    console.print(f"load average after: {load_average()}")


if __name__ == "__main__":
    uvloop.run(main())
