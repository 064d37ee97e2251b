"""Benchmark (not a test): chaos, measured. Prints a table; exits 1 if an alert was lost.

api + 2 workers + 2 notifiers as separate processes (`python -m services.cli …`, as compose runs
them) on their own embedded PostgreSQL and Redis, the project's chat simulator (botsim) as a
flaky receiver (a Standard-Webhooks endpoint answering HTTP 500 to 20 % of requests), and N tasks
falling due within S seconds. While the breaches fire and go out:

  kill -9 of a worker during the burst of sweeps, kill -9 of a notifier while it has messages
  leased (in flight), FLUSHALL on Redis, a Redis restart (2 s down), a PostgreSQL restart (fast
  shutdown).

Afterwards: events injected, breaches delivered, lost, duplicate escalation rows, duplicate
deliveries at the receiver (same `webhook-id`) against the messages in flight at the kill, how
long `/readyz` took to say `ok` again after each fault, and whether the surviving processes are
still alive (nobody restarts them). The killed worker and notifier stay dead.

    .venv/bin/python bench/chaos.py [--tasks 2000] [--spread 10] [--failure-rate 0.2] [--json FILE]

The servers live in a temporary folder (or --data-dir) and are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from services.cli import migrate_to_head  # noqa: E402
from shared import subjects  # noqa: E402, F401 — every subject type registered
from shared.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from shared.embedded import EmbeddedPostgres, EmbeddedRedis, free_port  # noqa: E402
from shared.models import ChannelKind  # noqa: E402
from shared.tasks.schemas import TaskCreate  # noqa: E402
from shared.tasks.service import create_task  # noqa: E402
from tests.conftest import Botsim, start_botsim  # noqa: E402
from tests.factories import BREACH_ONLY, SYSTEM, make_channel, make_policy, make_user  # noqa: E402

TOKEN = "cl_chaos_" + "x" * 32
WHSEC = "whsec_" + base64.b64encode(b"chaos-secret-chaos-secret-chaos!").decode()
DATABASE = "closeloop_chaos"
# A dead notifier's messages go out again after the lease (default 60 s; shorter here so a run is
# short); the per-attempt timeout is the default and must stay under half the lease.
LEASE_S, SEND_TIMEOUT_S = 24.0, 10.0


@dataclass
class Report:
    tasks: int
    failure_rate: float
    breaches_fired: int = 0  # escalation rows of kind breach
    duplicate_escalation_rows: int = 0
    delivered: int = 0  # distinct breach webhook-ids the receiver accepted
    lost: int = 0
    receiver_duplicates: int = 0
    in_flight_at_kill: int = 0  # messages leased (sent or being sent, unrecorded) when the notifier died
    timed_out_sends: int = 0  # attempts whose answer never came in time: the receiver may have it already
    refused_by_receiver: int = 0  # injected HTTP 500s, each retried
    recovery_s: dict[str, float | None] = field(default_factory=dict)  # fault → /readyz `ok` again after
    all_delivered_after_s: float | None = None  # from the first due time
    survivors_alive: dict[str, bool] = field(default_factory=dict)
    readyz_while_down: dict[str, str] = field(default_factory=dict)
    outage_log_lines: dict[str, int] = field(default_factory=dict)  # "unreachable … retry" lines per process
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    when: str = ""

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing fired twice, nobody died of an outage."""
        return self.lost == 0 and self.duplicate_escalation_rows == 0 and all(self.survivors_alive.values())

    @property
    def duplicates_within_in_flight(self) -> bool:
        """The goal: a duplicate only for a message in flight at the kill."""
        return self.receiver_duplicates <= self.in_flight_at_kill


class Servers:
    """PostgreSQL and Redis of our own, on fixed ports, so the chaos can restart them."""

    def __init__(self, folder: Path) -> None:
        self.pg = EmbeddedPostgres(folder / "postgres", free_port(), "postgres", fast_unsafe=True)
        self.redis = EmbeddedRedis(folder / "redis", free_port(), persistent=False)

    def start(self) -> None:
        self.pg.start()
        self.redis.start()
        self.pg.recreate_database(DATABASE)

    @property
    def database_url(self) -> str:
        return make_url(self.pg.url).set(database=DATABASE).render_as_string(hide_password=False)

    def stop_postgres(self) -> None:
        """A fast shutdown (sessions ended, open transactions rolled back), failing loudly."""
        self.pg._run("pg_ctl", "-D", str(self.pg.data_dir), "-m", "fast", "-w", "stop", timeout=60)
        if self.pg.running_port() is not None:
            raise RuntimeError("PostgreSQL is still running after a fast shutdown")

    def stop(self) -> None:
        self.redis.stop()
        self.pg.stop()


class Processes:
    def __init__(
        self, servers: Servers, logs: Path, *, workers: int, notifiers: int, lease_s: float, send_timeout_s: float
    ) -> None:
        self.port = free_port()
        self.logs = logs
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_") and k != "PROMETHEUS_MULTIPROC_DIR"
        }
        self.env = {
            **env,
            "CLOSELOOP_DATABASE_URL": servers.database_url,
            "CLOSELOOP_REDIS_URL": servers.redis.url,
            "CLOSELOOP_API_PORT": str(self.port),
            "CLOSELOOP_API_WORKERS": "1",
            "CLOSELOOP_BOOTSTRAP_TOKEN": TOKEN,
            "CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS": "true",
            "CLOSELOOP_SEED_DEFAULTS": "false",
            "CLOSELOOP_OUTBOX_SWEEP_INTERVAL_S": "1",
            "CLOSELOOP_DELIVERY_LEASE_S": str(lease_s),
            "CLOSELOOP_DELIVERY_TIMEOUT_S": str(send_timeout_s),
            "CLOSELOOP_RETRY_BASE_S": "0.5",
            "CLOSELOOP_RETRY_CAP_S": "2",
            "CLOSELOOP_PUBLIC_URL": "http://closeloop.chaos",
        }
        self.names = ["api", *(f"worker-{i}" for i in range(workers)), *(f"notifier-{i}" for i in range(notifiers))]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        for name in self.names:
            with (self.logs / f"{name}.log").open("wb") as out:
                command = [sys.executable, "-m", "services.cli", name.split("-")[0]]
                self.procs[name] = subprocess.Popen(
                    command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
                )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_up(self, limit_s: float = 90) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0]} exited at start:\n{self.log(dead[0])[-3000:]}")
            up = all(
                ("worker up" if n.startswith("worker") else "notifier up") in self.log(n)
                for n in self.names
                if n != "api"
            )
            if up and ready(self.base) == "ok":
                return
            time.sleep(0.2)
        raise RuntimeError("the processes did not come up")

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def ready(base: str) -> str | None:
    """/readyz's status (`ok`, `degraded`, `unavailable`), or None when the API does not answer."""
    try:
        return str(httpx.get(f"{base}/readyz", timeout=3).json()["status"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def readyz(base: str) -> str:
    """What /readyz answers (during an outage: 503 and which dependency is down)."""
    try:
        r = httpx.get(f"{base}/readyz", timeout=5)
    except httpx.HTTPError as exc:
        return f"no answer ({type(exc).__name__})"
    down = sorted(k for k, v in r.json().get("checks", {}).items() if v.startswith("error"))
    return f"{r.status_code} {r.json().get('status')}, down: {', '.join(down) or 'none'}"


def wait_ready(base: str, limit_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if ready(base) == "ok":
            return round(time.monotonic() - started, 1)
        time.sleep(0.1)
    return None


async def seed(database_url: str, botsim: Botsim, *, tasks: int, spread_s: float, lead_s: float) -> datetime:
    """One webhook receiver, a breach-only policy for tasks, and the tasks, created through the
    domain service (each with its timer) and then moved, in one statement, to fall due within
    `spread_s` from `lead_s` after the last is created: creating 2 000 tasks takes longer than the
    window on a loaded machine, and a task created overdue would fire at its creation, not in the
    burst. Returns the first due time."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
        policy = await make_policy(sessions, levels=BREACH_ONLY)
        async with unit_of_work(sessions) as s:  # the migrations' default task policy would add a second timer
            await s.execute(text("DELETE FROM sla_policies WHERE id <> :id"), {"id": policy.id})
        owner = await make_user(sessions, name="张策划")
        later = datetime.now(UTC) + timedelta(days=1)
        for start in range(0, tasks, 100):
            async with unit_of_work(sessions) as s:
                for i in range(start, min(tasks, start + 100)):
                    data = TaskCreate(title=f"混沌任务 {i:04d}", assignee_id=owner.id, due_at=later)
                    await create_task(s, actor=SYSTEM, data=data, now=datetime.now(UTC))
        first_due = datetime.now(UTC) + timedelta(seconds=lead_s)
        async with unit_of_work(sessions) as s:
            await s.execute(
                text(
                    "UPDATE tasks SET due_at = CAST(:t0 AS timestamptz)"
                    " + make_interval(secs => CAST(:spread AS float8) * (id - 1) / greatest(1, CAST(:n AS int) - 1))"
                ),
                {"t0": first_due, "spread": spread_s, "n": tasks},
            )
            # The breach level's offset is 0: it fires at the deadline.
            await s.execute(
                text(
                    "UPDATE sla_timers AS t SET due_at = k.due_at, next_fire_at = k.due_at"
                    " FROM tasks AS k WHERE t.subject_type = 'task' AND t.subject_id = k.id"
                )
            )
        return first_due
    finally:
        await engine.dispose()


async def query(database_url: str, sql: str) -> list[Any]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


def in_flight(database_url: str) -> int:
    rows = asyncio.run(
        query(database_url, "SELECT count(*) FROM notifications WHERE status = 'pending' AND lease_until > now()")
    )
    return int(rows[0][0])


def run(
    *,
    tasks: int,
    spread_s: float,
    failure_rate: float,
    folder: Path,
    workers: int = 2,
    notifiers: int = 2,
    timeout_s: float = 240,
    lease_s: float = LEASE_S,
    send_timeout_s: float = SEND_TIMEOUT_S,
) -> Report:
    report = Report(tasks=tasks, failure_rate=failure_rate, when=datetime.now(UTC).isoformat(timespec="seconds"))
    servers = Servers(folder)
    servers.start()
    botsim_proc, botsim_base = start_botsim(folder)
    botsim = Botsim(botsim_base)
    procs = Processes(
        servers, folder, workers=workers, notifiers=notifiers, lease_s=lease_s, send_timeout_s=send_timeout_s
    )
    try:
        migrate_to_head(servers.database_url)
        botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
        botsim.faults("gw1", http_500=failure_rate, seed=13)
        procs.start()
        procs.wait_up()
        first_due = asyncio.run(seed(servers.database_url, botsim, tasks=tasks, spread_s=spread_s, lead_s=3.0))
        t0 = first_due.timestamp()

        def at(offset_s: float) -> None:
            time.sleep(max(0.0, t0 + offset_s - time.time()))

        # 1. kill -9 a worker while the burst is being swept
        at(spread_s * 0.2)
        procs.kill("worker-0")
        report.recovery_s["kill -9 worker"] = wait_ready(procs.base, 30)
        # 2. kill -9 a notifier while it holds leased messages (sent or being sent, unrecorded)
        at(spread_s * 0.4)
        for _ in range(100):
            if in_flight(servers.database_url):
                break
            time.sleep(0.02)
        procs.kill("notifier-0")
        report.in_flight_at_kill = in_flight(servers.database_url)
        report.recovery_s["kill -9 notifier"] = wait_ready(procs.base, 30)
        # 3. FLUSHALL: every queued drain job, heartbeat and rate-limit window gone
        at(spread_s * 0.6)
        asyncio.run(flushall(servers.redis.url))
        report.recovery_s["FLUSHALL"] = wait_ready(procs.base, 30)
        # 4. Redis down for two seconds
        at(spread_s * 0.8)
        servers.redis.stop()
        time.sleep(1.0)
        report.readyz_while_down["Redis"] = readyz(procs.base)
        time.sleep(1.0)
        servers.redis.start()
        report.recovery_s["Redis restart"] = wait_ready(procs.base, 60)
        # 5. PostgreSQL restarted (fast shutdown: sessions ended, in-flight transactions rolled back)
        at(spread_s + 1)
        servers.stop_postgres()
        report.readyz_while_down["PostgreSQL"] = readyz(procs.base)
        servers.pg.start()
        report.recovery_s["PostgreSQL restart"] = wait_ready(procs.base, 60)

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(breach_ids(botsim)) >= tasks:
                report.all_delivered_after_s = round(time.time() - t0, 1)
                break
            time.sleep(0.5)
        time.sleep(2.0)  # anything still in flight lands (or shows up as a duplicate)
        measure(report, servers.database_url, botsim)
        survivors = [n for n in procs.names if n not in ("worker-0", "notifier-0")]
        report.survivors_alive = {n: procs.procs[n].poll() is None for n in survivors}
        report.outage_log_lines = {n: procs.log(n).count("unreachable") for n in survivors if n != "api"}
        report.load_average = os.getloadavg()
        return report
    finally:
        procs.stop()
        botsim_proc.terminate()
        botsim_proc.wait(5)
        servers.stop()


async def flushall(url: str) -> None:
    from redis.asyncio import Redis

    r = Redis.from_url(url)
    await r.flushall()
    await r.aclose()


def breach_ids(botsim: Botsim) -> set[str]:
    return {m["webhook_id"] for m in botsim.messages("gw1") if m["body"].get("type") == "sla.breach"}


def measure(report: Report, database_url: str, botsim: Botsim) -> None:
    ((fired, per_task, per_level),) = asyncio.run(
        query(
            database_url,
            "SELECT count(*), count(DISTINCT subject_id), count(DISTINCT (timer_id, level, repeat))"
            " FROM escalations WHERE kind = 'breach'",
        )
    )
    report.breaches_fired = int(fired)
    report.duplicate_escalation_rows = int(fired) - min(int(per_task), int(per_level))
    report.delivered = len(breach_ids(botsim))
    report.lost = report.tasks - report.delivered
    stats = botsim.stats()["gw1"]
    report.receiver_duplicates = int(stats["duplicates"])
    report.refused_by_receiver = int(stats["faults"].get("http_500", 0))
    ((timed_out,),) = asyncio.run(
        query(database_url, "SELECT count(*) FROM delivery_attempts WHERE error LIKE 'Timeout%'")
    )
    report.timed_out_sends = int(timed_out)


def print_report(report: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"chaos: {report.tasks} tasks, receiver failing {report.failure_rate:.0%} ({report.when})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("events injected (tasks falling due)", report.tasks),
        ("breaches fired (escalation rows)", report.breaches_fired),
        ("duplicate escalation rows", report.duplicate_escalation_rows),
        ("delivered (distinct webhook-id)", report.delivered),
        ("lost", report.lost),
        ("duplicate deliveries at the receiver", report.receiver_duplicates),
        ("messages in flight at the notifier kill", report.in_flight_at_kill),
        ("sends timed out (the receiver may have had them)", report.timed_out_sends),
        ("HTTP 500s injected by the receiver (retried)", report.refused_by_receiver),
        ("all delivered after (s from the first due time)", report.all_delivered_after_s),
    ]
    rows += [(f"/readyz ok again after {fault} (s)", s) for fault, s in report.recovery_s.items()]
    rows += [(f"/readyz while {server} is down", answer) for server, answer in report.readyz_while_down.items()]
    rows += [(f"{name} alive at the end (never restarted)", alive) for name, alive in report.survivors_alive.items()]
    rows += [(f"{name}: outage retries logged", n) for name, n in report.outage_log_lines.items()]
    rows += [("load average (1, 5, 15 min)", " ".join(f"{x:.1f}" for x in report.load_average))]
    for name, value in rows:
        table.add_row(name, str(value))
    Console().print(table)
    met = "met" if report.duplicates_within_in_flight else "NOT met"
    print(f"receiver duplicates ≤ messages in flight at the kill: {met}")
    print("PASS: nothing lost, nothing fired twice, every survivor alive" if report.ok else "FAIL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which the tasks fall due")
    parser.add_argument("--failure-rate", type=float, default=0.2, help="share of requests the receiver answers 500")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for every delivery")
    parser.add_argument("--data-dir", type=Path, help="where the servers live (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="closeloop-chaos-") as tmp:
        folder = args.data_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        report = run(
            tasks=args.tasks,
            spread_s=args.spread,
            failure_rate=args.failure_rate,
            folder=folder,
            timeout_s=args.timeout,
        )
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
