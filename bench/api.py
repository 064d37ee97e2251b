"""Benchmark (not a test): the API's boards, item reads and writes at 300 requests per second mixed.

Seeds (bench/seed.py; `--reuse` keeps a database seeded before) 1 000 000 tasks — every task
created before the seeded "now" carries its SLA timer — 20 000 campaigns with stage histories,
reviews and approvals, and 50 departments; starts `closeloop api` as a real process with
`CLOSELOOP_API_WORKERS` = the machine's cores (`--workers`); drives a fixed open-loop rate
(bench/load.py) of board reads with the filters a team uses (tasks by department, assignee and
`overdue=true`, reviews, approvals, SLA timers — ids drawn from the seeded data), item reads and
writes; then prints p50/p99 per route against `/healthz` in the same run, the API's RSS per
process, the machine's load average, the p99 event-loop lag from `/metrics`, and EXPLAIN (ANALYZE,
BUFFERS) of every board filter's page query with whether an index serves it.

Targets: reads p99 ≤ 50 ms, writes p99 ≤ 100 ms, API RSS ≤ 200 MB per process.

    .venv/bin/python bench/api.py --scale 0.01 --duration 10      # a quick run
    .venv/bin/python bench/api.py [--reuse] [--rate 300] [--duration 60] [--workers N]
    .venv/bin/python bench/api.py --reuse --profile /tmp/api-prof   # py-spy on every API process
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import HEALTHZ, LoadResult, Route, print_results, run_open_loop  # noqa: E402
from bench.seed import add_scale_arguments, print_report, scale_from, seed  # noqa: E402
from bench.stack import (  # noqa: E402
    ApiProcess,
    BenchStack,
    admin_token,
    capture_statements,
    execution_ms,
    explain,
    scratch_database,
    start_api,
)
from shared.actor import Actor  # noqa: E402
from shared.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from shared.models import OPEN_TASK_STATUSES, Campaign, CampaignStatus, Role, Task, User  # noqa: E402
from shared.org.tokens import create_token  # noqa: E402

DATABASE = "closeloop_bench_api"
READ_TARGET_MS, WRITE_TARGET_MS, RSS_TARGET_MB = 50.0, 100.0, 200.0
V1 = "/api/v1"
OPEN = "status=todo,in_progress,blocked"
# The tables a board reads that grow with the organisation: a sequential scan of one is what "not
# served by an index" means (departments, users, calendars and policies are small and fixed).
BIG_TABLES = (
    "tasks",
    "sla_timers",
    "campaigns",
    "campaign_stages",
    "review_requests",
    "review_responses",
    "approvals",
    "approval_steps",
    "approval_assignments",
)


@dataclass(frozen=True)
class Ids:
    """What the generator draws from: ids that exist in the seeded data."""

    departments: list[int]
    members: list[int]
    approvers: list[int]  # people with a pending approval
    campaigns: list[int]  # campaigns still running: new tasks go there
    task_range: tuple[int, int]
    open_tasks: list[int]  # a sample of open tasks: what PATCH changes
    readable: list[int] | None = None  # what item reads draw from (None: any id in task_range)


async def load_ids(stack: BenchStack) -> Ids:
    conn = await asyncpg.connect(stack.dsn)
    try:

        async def ids(sql: str) -> list[int]:
            return [r[0] for r in await conn.fetch(sql)]

        departments = await ids("SELECT id FROM departments ORDER BY id")
        members = await ids("SELECT id FROM users WHERE department_id IS NOT NULL AND role = 'member' ORDER BY id")
        approvers = await ids(
            "SELECT DISTINCT approver_id FROM approval_assignments "
            "WHERE status = 'pending' AND approver_id IS NOT NULL ORDER BY approver_id"
        )
        campaigns = await ids("SELECT id FROM campaigns WHERE status IN ('planned', 'active') ORDER BY id")
        low, high = await conn.fetchrow("SELECT min(id), max(id) FROM tasks")
        open_tasks = await ids(
            "SELECT id FROM tasks TABLESAMPLE SYSTEM (2) REPEATABLE (7) "
            "WHERE status IN ('todo', 'in_progress', 'blocked') LIMIT 20000"
        ) or await ids(  # a small table's 2 % may be a few pages without an open task
            "SELECT id FROM tasks WHERE status IN ('todo', 'in_progress', 'blocked') ORDER BY id LIMIT 20000"
        )
    finally:
        await conn.close()
    return Ids(departments, members, approvers or members, campaigns, (low, high), open_tasks)


def routes_for(ids: Ids) -> list[Route]:
    """The mix: about half board reads, a third item reads, a fifth writes."""
    dept = lambda r: {"d": r.choice(ids.departments)}  # noqa: E731
    member = lambda r: {"u": r.choice(ids.members)}  # noqa: E731
    approver = lambda r: {"u": r.choice(ids.approvers)}  # noqa: E731
    any_task = lambda r: {"id": r.choice(ids.readable) if ids.readable else r.randint(*ids.task_range)}  # noqa: E731
    open_task = lambda r: {"id": r.choice(ids.open_tasks)}  # noqa: E731

    def new_task(r: Any) -> dict[str, Any]:
        due = datetime.now(UTC) + timedelta(days=r.uniform(1, 30))
        return {
            "title": f"bench 任务 {r.randrange(10**9)}",
            "assignee_id": r.choice(ids.members),
            "campaign_id": r.choice(ids.campaigns) if ids.campaigns else None,
            "priority": r.choice(("low", "normal", "high")),
            "due_at": due.replace(microsecond=0).isoformat(),
        }

    def change(r: Any) -> dict[str, Any]:
        return {"status": r.choice(("todo", "in_progress", "blocked")), "priority": r.choice(("normal", "high"))}

    return [
        Route("tasks ?department &open", "GET", f"{V1}/tasks?limit=50&department_id={{d}}&{OPEN}", 6, fill=dept),
        Route("tasks ?assignee &open", "GET", f"{V1}/tasks?limit=50&assignee_id={{u}}&{OPEN}", 6, fill=member),
        Route(
            "tasks ?department &overdue", "GET", f"{V1}/tasks?limit=50&department_id={{d}}&overdue=true", 5, fill=dept
        ),
        Route("tasks ?assignee &overdue", "GET", f"{V1}/tasks?limit=50&assignee_id={{u}}&overdue=true", 3, fill=member),
        Route(
            "reviews ?reviewer_department &in_review",
            "GET",
            f"{V1}/reviews?limit=50&reviewer_department_id={{d}}&status=in_review",
            3,
            fill=dept,
        ),
        Route(
            "reviews ?department &overdue",
            "GET",
            f"{V1}/reviews?limit=50&department_id={{d}}&overdue=true",
            2,
            fill=dept,
        ),
        Route(
            "approvals ?approver &pending",
            "GET",
            f"{V1}/approvals?limit=50&approver_id={{u}}&status=pending",
            3,
            fill=approver,
        ),
        Route(
            "approvals ?department &overdue",
            "GET",
            f"{V1}/approvals?limit=50&department_id={{d}}&overdue=true",
            2,
            fill=dept,
        ),
        Route(
            "sla/timers ?department &breached",
            "GET",
            f"{V1}/sla/timers?limit=50&department_id={{d}}&state=running&breached=true",
            3,
            fill=dept,
        ),
        Route(
            "sla/timers ?department &task",
            "GET",
            f"{V1}/sla/timers?limit=50&department_id={{d}}&subject_type=task&state=running",
            2,
            fill=dept,
        ),
        Route("tasks/{id}", "GET", f"{V1}/tasks/{{id}}", 30, fill=any_task),
        Route("POST tasks", "POST", f"{V1}/tasks", 8, body=new_task),
        Route("PATCH tasks/{id}", "PATCH", f"{V1}/tasks/{{id}}", 8, fill=open_task, body=change),
    ]


async def caller_token(stack: BenchStack, role: str, ids: Ids) -> tuple[str, Ids, str]:
    """`--as`: the admin sees everything (no visibility condition); a member or a manager is the
    first seeded one with a department, and the boards are theirs — their department's, its
    people's — with the visibility condition a caller below director has; item reads and writes
    go to their department's tasks and campaigns. Returns the token, the
    ids to draw from and what to print."""
    if role == "admin":
        return await admin_token(stack), ids, "caller: admin (sees everything: no visibility condition)"
    engine = make_engine(stack.database_url, pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            user = (
                await session.scalars(
                    select(User).where(User.role == Role(role), User.department_id.is_not(None)).order_by(User.id)
                )
            ).first()
            if user is None:
                raise SystemExit(f"the bench database has no {role} with a department")
            colleagues = list(
                await session.scalars(
                    select(User.id).where(User.department_id == user.department_id, User.role == Role.member)
                )
            )
            # Item reads and writes on the department's own tasks and campaigns: what the caller sees.
            own = select(Task.id).where(Task.department_id == user.department_id).order_by(Task.id).limit(20_000)
            readable = list(await session.scalars(own))
            open_tasks = list(await session.scalars(own.where(Task.status.in_(OPEN_TASK_STATUSES))))
            campaigns = list(
                await session.scalars(
                    select(Campaign.id).where(
                        Campaign.department_id == user.department_id,
                        Campaign.status.in_((CampaignStatus.planned, CampaignStatus.active)),
                    )
                )
            )
            _, plaintext = await create_token(session, actor=Actor.system("bench"), user_id=user.id, name="bench")
    finally:
        await engine.dispose()
    mine = dataclasses.replace(
        ids,
        departments=[user.department_id],
        members=colleagues or ids.members,
        campaigns=campaigns,
        open_tasks=open_tasks or ids.open_tasks,
        readable=readable or None,
    )
    said = (
        f"caller: {role} user {user.id} of department {user.department_id} (boards filtered to that department "
        f"and its {len(colleagues)} members, with a {role}'s visibility condition)"
    )
    return plaintext, mine, said


def targets_of(routes: list[Route]) -> dict[str, float]:
    return {r.name: READ_TARGET_MS if r.method == "GET" else WRITE_TARGET_MS for r in routes}


# ---- the API's processes -------------------------------------------------------------------------
def api_processes(api: ApiProcess) -> dict[int, str]:
    """pid → role: uvicorn's supervisor and its workers (one process when there is one worker)."""
    import psutil

    main = psutil.Process(api.pid)
    workers = [c for c in main.children() if "resource_tracker" not in " ".join(c.cmdline())]
    return (
        {api.pid: "supervisor", **{c.pid: f"worker {i + 1}" for i, c in enumerate(workers)}}
        if workers
        else {api.pid: "api (single process)"}
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (those still alive)."""
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


async def database_pids(stack: BenchStack) -> list[int]:
    """The PostgreSQL server's processes: the postmaster of a backend and all its children."""
    import psutil

    conn = await asyncpg.connect(stack.dsn)
    try:
        backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
        postmaster = psutil.Process(backend).parent()  # while the backend still runs
        return [postmaster.pid, *(c.pid for c in postmaster.children())] if postmaster else []
    except psutil.Error:
        return []  # a server on another machine or user: not measured
    finally:
        await conn.close()


@dataclass
class CpuUse:
    """Where the machine's CPU went during the run, in ms per answered request."""

    api_ms: float
    database_ms: float
    generator_ms: float
    others_ms: float  # everything else on the machine (other users' work)
    busy_share: float  # of all cores, over the run

    @classmethod
    def between(cls, before: dict[str, float], after: dict[str, float], requests: int) -> CpuUse:
        d = {k: after[k] - before[k] for k in after}
        n = max(1, requests)
        ours = d["api"] + d["database"] + d["generator"]
        return cls(
            api_ms=1000 * d["api"] / n,
            database_ms=1000 * d["database"] / n,
            generator_ms=1000 * d["generator"] / n,
            others_ms=1000 * max(0.0, d["busy"] - ours) / n,
            busy_share=d["busy"] / max(1e-9, d["wall"] * (os.cpu_count() or 1)),
        )


def cpu_snapshot(api_pids: list[int], db_pids: list[int]) -> dict[str, float]:
    import psutil

    machine = psutil.cpu_times()
    return {
        "api": cpu_seconds(api_pids),
        "database": cpu_seconds(db_pids),
        "generator": cpu_seconds([os.getpid()]),
        "busy": machine.user
        + machine.system
        + getattr(machine, "nice", 0.0)
        + getattr(machine, "irq", 0.0)
        + getattr(machine, "softirq", 0.0),
        "wall": time.monotonic(),
    }


async def sample_rss(pids: dict[int, str], stop: asyncio.Event, peak: dict[int, float]) -> None:
    """Each process's resident memory once a second until `stop`; keeps the peak."""
    import psutil

    while not stop.is_set():
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                peak[pid] = max(peak.get(pid, 0.0), psutil.Process(pid).memory_info().rss / 2**20)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def lag_buckets(exposition: str) -> dict[float, float]:
    """Cumulative counts of `closeloop_event_loop_lag_seconds` by bucket bound, over every API process."""
    buckets: dict[float, float] = defaultdict(float)
    for family in text_string_to_metric_families(exposition):
        if family.name != "closeloop_event_loop_lag_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                buckets[float(sample.labels["le"])] += sample.value
    return buckets


def lag_p99_ms(before: dict[float, float], after: dict[float, float]) -> tuple[float, int]:
    """The p99 event-loop lag between two scrapes, as the upper bound of the bucket it falls in
    (ms), and how many samples that is."""
    during = {le: after[le] - before.get(le, 0.0) for le in after}
    total = int(during.get(math.inf, 0))
    if total <= 0:
        return math.nan, 0
    for le in sorted(during):
        if during[le] >= 0.99 * total:
            return le * 1000, total
    return math.inf, total


async def scrape(api: ApiProcess) -> str:
    """`/metrics` once the API has caught up (an overloaded API may still be working off a queue)."""
    async with httpx.AsyncClient(timeout=120) as client:
        return (await client.get(f"{api.base_url}/metrics")).text


def start_profilers(pids: dict[int, str], out_dir: Path, seconds: float) -> list[tuple[Path, subprocess.Popen[bytes]]]:
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    running = []
    for pid, role in pids.items():
        if role == "supervisor":
            continue
        out = out_dir / f"api-{pid}.txt"
        cmd = [py_spy, "record", "--pid", str(pid), "--format", "raw", "-o", str(out)]
        cmd += ["--duration", str(math.ceil(seconds)), "--rate", "200", "--nonblocking"]
        running.append((out, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)))
    return running


def profile_summary(files: list[Path], top: int = 25) -> list[tuple[str, float]]:
    """Inclusive share of samples per function of the project's own code (shared/, services/),
    from py-spy's collapsed stacks (`frame;frame;… count`)."""
    samples = 0
    inclusive: Counter[str] = Counter()
    frame_re = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^:]+):\d+\)$")
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            samples += n
            seen: set[str] = set()
            for frame in stack.split(";"):
                m = frame_re.match(frame)
                if not m or not any(part in m["file"] for part in ("shared/", "services/")):
                    continue
                name = f"{m['func']} ({m['file'].rsplit('/', 2)[-2]}/{m['file'].rsplit('/', 1)[-1]})"
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += n
    return [(name, 100 * n / samples) for name, n in inclusive.most_common(top)] if samples else []


# ---- plans ---------------------------------------------------------------------------------------
def scans(plan: str) -> list[str]:
    """Sequential scans of growing tables in a plan: what no index serves."""
    return [t for t in BIG_TABLES if re.search(rf"Seq Scan on {t}\b", plan)]


FILTERED_ROWS_LIMIT = 2_000  # an index scan that throws this many rows away per call is not "served"


def filtered_rows(plan: str) -> int:
    """The most rows any one node of the plan read and threw away (its filter or recheck), all
    loops counted."""
    worst = 0
    lines = plan.splitlines()
    for i, line in enumerate(lines):
        found = re.search(r"Rows Removed by (?:Filter|Index Recheck): (\d+)", line)
        if not found:
            continue
        loops = 1
        for node in reversed(lines[:i]):  # the node this line belongs to: the nearest line above with `loops=`
            if (m := re.search(r"loops=(\d+)", node)) is not None:
                loops = int(m.group(1))
                break
        worst = max(worst, int(found.group(1)) * loops)
    return worst


def verdict(plan: str) -> str:
    """Whether an index serves the statement: no sequential scan of a growing table, and no node
    that reads and discards more than FILTERED_ROWS_LIMIT rows."""
    if seq := scans(plan):
        return f"NOT served by an index: sequential scan of {', '.join(seq)}"
    if (thrown := filtered_rows(plan)) > FILTERED_ROWS_LIMIT:
        return f"NOT served by an index: an index scan reads and discards {thrown:,} rows"
    return "served by an index"


async def print_plans(console: Console, stack: BenchStack, token: str, ids: Ids, routes: list[Route]) -> None:
    """Every board route once, in-process, with a representative department, person and ids: how
    many statements it runs, and the plan of each statement that reads a growing table."""
    import random

    rnd = random.Random(5)
    console.print("\n[bold]Board queries: EXPLAIN (ANALYZE, BUFFERS), on the seeded data[/bold]")
    for route in routes:
        if route.method != "GET" or "{id}" in route.path:
            continue
        path = route.path.format(**route.fill(rnd)) if route.fill else route.path
        statements = await capture_statements(stack, token, path)
        console.print(f"\n[bold]{route.name}[/bold]  {path}\n{len(statements)} statements")
        for captured in statements:
            if not any(re.search(rf"\b{t}\b", captured.statement) for t in BIG_TABLES):
                continue
            plan = await explain(stack, captured)
            said = verdict(plan)
            colour = "red" if said.startswith("NOT") else "green"
            console.print(f"\n- {execution_ms(plan):.2f} ms on the server; [{colour}]{said}[/{colour}]")
            console.print(captured.statement + "\n", markup=False, highlight=False)
            console.print(plan, markup=False, highlight=False)


# ---- the run -------------------------------------------------------------------------------------
def machine() -> str:
    model = ""
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        model = found.group(1).strip() if found else ""
    except OSError:
        pass
    return f"{os.cpu_count()} cores {model} ({platform.system()} {platform.release()})"


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


async def main() -> None:
    ap = argparse.ArgumentParser(description="Boards, item reads and writes at a fixed open-loop rate.")
    add_scale_arguments(ap)
    ap.add_argument("--reuse", action="store_true", help="keep the bench database if it exists (seeded before)")
    ap.add_argument("--rate", type=float, default=300.0, help="requests per second, all routes together")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds at a quarter of the rate first, not counted")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="CLOSELOOP_API_WORKERS")
    ap.add_argument("--profile", type=Path, default=None, help="record every API worker with py-spy into this folder")
    ap.add_argument("--no-plans", action="store_true", help="skip the EXPLAIN of the board queries")
    ap.add_argument(
        "--as",
        dest="caller",
        choices=("member", "manager", "admin"),
        default="admin",
        help="who calls: a member or manager runs the boards with the visibility condition (default: admin)",
    )
    args = ap.parse_args()
    if args.timers is None:  # every task created before "now" gets its timer, plus stages', reviews', approvals'
        args.timers = round(scale_from(args).tasks * 1.2)
    console = Console(width=160)  # the table stays readable when piped to a file
    console.print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}; load average {load_average()}")
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
                for t in ("departments", "campaigns", "tasks", "sla_timers", "review_requests", "approvals")
            }
        finally:
            await conn.close()
        console.print("data: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
        token, ids, caller = await caller_token(stack, args.caller, await load_ids(stack))
        console.print(caller)
        routes = routes_for(ids)
        metrics_dir = ROOT / ".closeloop" / "bench" / f"metrics-api-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        api = start_api(
            stack,
            extra_env={
                "CLOSELOOP_API_WORKERS": str(args.workers),
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                "CLOSELOOP_API_ACCESS_LOG": "false",  # as in production (CLOSELOOP_ENV=prod)
            },
        )
        headers = {"Authorization": f"Bearer {token}"}
        try:
            pids = api_processes(api)
            if args.warmup > 0:
                console.print(f"warming up: {args.warmup:g} s at {args.rate / 4:g}/s (each worker builds its caches)")
                await run_open_loop(
                    api.base_url, routes, rate=args.rate / 4, duration_s=args.warmup, headers=headers, seed=99
                )
            lag_before = lag_buckets(await scrape(api))
            profilers = start_profilers(pids, args.profile, args.duration) if args.profile else []
            load_before = load_average()
            db_pids = await database_pids(stack)
            cpu_before = cpu_snapshot(list(pids), db_pids)
            console.print(
                f"driving {len(routes)} routes at {args.rate:g}/s for {args.duration:g} s (open loop), "
                f"{args.workers} API worker(s) …"
            )
            stop, peak = asyncio.Event(), dict[int, float]()
            sampler = asyncio.create_task(sample_rss(pids, stop, peak))
            result: LoadResult = await run_open_loop(
                api.base_url, routes, rate=args.rate, duration_s=args.duration, headers=headers, pid=api.pid
            )
            cpu = CpuUse.between(cpu_before, cpu_snapshot(list(pids), db_pids), result.completed)
            stop.set()
            await sampler
            load_after = load_average()
            lag_after = lag_buckets(await scrape(api))
            for _, proc in profilers:
                proc.wait(60)
        finally:
            api.stop()
            shutil.rmtree(metrics_dir, ignore_errors=True)
        print_results(
            result,
            title=f"API — {counts['tasks']:,} tasks, {counts['sla_timers']:,} timers, {counts['campaigns']:,} "
            f"campaigns, {counts['departments']} departments; {args.workers} API worker(s)",
            targets=targets_of(routes),
            console=console,
        )
        console.print(f"targets: reads p99 ≤ {READ_TARGET_MS:g} ms, writes p99 ≤ {WRITE_TARGET_MS:g} ms")
        rss = ", ".join(
            f"{pids[pid]} {mb:.0f} MB" + ("" if mb <= RSS_TARGET_MB else " [red](over)[/red]")
            for pid, mb in sorted(peak.items())
        )
        console.print(f"API RSS per process (peak sampled; target ≤ {RSS_TARGET_MB:g} MB): {rss}")
        lag, lag_n = lag_p99_ms(lag_before, lag_after)
        console.print(
            f"event-loop lag p99 during the run (every API process, from /metrics; a bucket's bound): ≤ {lag:g} ms "
            f"over {lag_n} samples (target < 10 ms)"
        )
        console.print(f"load average (1/5/15 min): before the run {load_before}, after {load_after}")
        console.print(
            f"CPU per answered request: API {cpu.api_ms:.1f} ms, PostgreSQL {cpu.database_ms:.1f} ms, this load "
            f"generator {cpu.generator_ms:.1f} ms, everything else on the machine {cpu.others_ms:.1f} ms; the "
            f"machine's cores were {100 * cpu.busy_share:.0f} % busy"
        )
        if not math.isnan(result.achieved_rate) and result.achieved_rate < 0.9 * args.rate:
            console.print("[red]the server did not keep up with the asked rate[/red]")
        if profilers:
            files = [path for path, _ in profilers]
            console.print(f"\n[bold]profile[/bold] ({', '.join(str(f) for f in files)}): inclusive share of samples")
            for name, share in profile_summary(files):
                console.print(f"{share:5.1f} %  {name}", markup=False, highlight=False)
        if not args.no_plans:
            await print_plans(console, stack, token, ids, routes)
        healthz = result.stats.get(HEALTHZ)
        if healthz is not None and healthz.errors:
            console.print("[red]/healthz failed during the run: the figures are not meaningful[/red]")


if __name__ == "__main__":
    asyncio.run(main())
