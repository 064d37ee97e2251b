"""An open-loop HTTP load generator for the benches (not a test).

Requests are scheduled at fixed instants (`start + i / rate`) whatever the server does, and each
latency is measured from its *scheduled* instant, not from when it was sent: when the server slows
down, the queue of late requests shows up in the percentiles instead of silently lowering the rate
(coordinated omission). `/healthz` is driven in the same run as the baseline: the ratio of a
route's p99 to it says how much of the latency is the route and how much is the machine.

    from bench.load import Route, run_open_loop, print_results
    result = await run_open_loop(base, [Route("board", "GET", "/api/v1/tasks?limit=50", 5)],
                                 rate=100, duration_s=20, headers=auth, pid=api.pid)
    print_results(result, target_ms=50)
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

HEALTHZ = "healthz"


@dataclass(frozen=True)
class Route:
    """One kind of request in the mix. `path` may hold `{placeholders}` that `fill` supplies per
    request (an id, a department); `body` gives a JSON body for writes."""

    name: str
    method: str
    path: str
    weight: float
    fill: Callable[[random.Random], dict[str, Any]] | None = None
    body: Callable[[random.Random], Any] | None = None


@dataclass
class RouteStats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: Counter[int | str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.latencies_ms) + self.errors

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


@dataclass
class LoadResult:
    asked_rate: float
    duration_s: float
    sent: int
    completed: int  # answered with any HTTP status
    elapsed_s: float  # from the first scheduled instant to the last answer
    stats: dict[str, RouteStats]
    rss_mb: float | None

    @property
    def achieved_rate(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s else 0.0

    def baseline(self) -> RouteStats | None:
        return self.stats.get(HEALTHZ)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0–100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def process_rss_mb(pid: int) -> float | None:
    """Resident memory of a process and its children (uvicorn workers): psutil when installed,
    else /proc (the process alone)."""
    try:
        import psutil
    except ImportError:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.Error:
        return None


def with_baseline(routes: Sequence[Route], share: float) -> list[Route]:
    """The mix plus `/healthz` at `share` of the requests (unless the mix already has it)."""
    if any(r.name == HEALTHZ for r in routes) or share <= 0:
        return list(routes)
    total = sum(r.weight for r in routes)
    return [*routes, Route(HEALTHZ, "GET", "/healthz", total * share / (1 - share))]


async def run_open_loop(
    base_url: str,
    routes: Sequence[Route],
    *,
    rate: float,
    duration_s: float,
    headers: dict[str, str] | None = None,
    pid: int | None = None,
    seed: int = 1,
    baseline_share: float = 0.05,
    max_connections: int = 256,
    timeout_s: float = 30.0,
) -> LoadResult:
    """Send `rate` requests per second for `duration_s`, each route picked by weight (seeded), on
    a fixed schedule; a request still unanswered `timeout_s` after its instant is an error."""
    mix = with_baseline(routes, baseline_share)
    rng = random.Random(seed)
    cum_weights = list(itertools.accumulate(r.weight for r in mix))
    stats = {r.name: RouteStats() for r in mix}
    total = int(rate * duration_s)
    loop = asyncio.get_running_loop()
    rss: list[float] = []
    connector = aiohttp.TCPConnector(limit=max_connections)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    last_done = 0.0

    async def send(session: aiohttp.ClientSession, route: Route, scheduled: float, rnd: random.Random) -> None:
        nonlocal last_done
        path = route.path.format(**route.fill(rnd)) if route.fill else route.path
        body = route.body(rnd) if route.body else None
        s = stats[route.name]
        try:
            async with session.request(route.method, base_url + path, json=body, headers=headers) as resp:
                await resp.read()
                done = loop.time()
                s.statuses[resp.status] += 1
                if resp.status >= 400:
                    s.errors += 1
                else:
                    s.latencies_ms.append((done - scheduled) * 1000)
        except (TimeoutError, aiohttp.ClientError) as exc:
            done = loop.time()
            s.errors += 1
            s.statuses[type(exc).__name__] += 1
        last_done = max(last_done, done)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = loop.time() + 0.05
        pending: set[asyncio.Task[None]] = set()
        next_rss = start
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            route = rng.choices(mix, cum_weights=cum_weights)[0]
            task = asyncio.create_task(send(session, route, scheduled, random.Random(rng.random())))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if pid is not None and loop.time() >= next_rss:  # sample the server's memory once a second
                if (mb := process_rss_mb(pid)) is not None:
                    rss.append(mb)
                next_rss += 1.0
        if pending:
            await asyncio.wait(pending, timeout=timeout_s + 1)
    completed = sum(n for s in stats.values() for k, n in s.statuses.items() if isinstance(k, int))
    return LoadResult(
        asked_rate=rate,
        duration_s=duration_s,
        sent=total,
        completed=completed,
        elapsed_s=max(0.0, last_done - start),
        stats=stats,
        rss_mb=max(rss) if rss else None,
    )


def print_results(
    result: LoadResult,
    *,
    title: str,
    target_ms: float | None = None,
    targets: Mapping[str, float] | None = None,
    console: Console | None = None,
) -> None:
    """The table: per route count, errors, p50/p99/max (ms, from the scheduled instant), the p99's
    ratio to /healthz's, whether the target is met (`targets` by route name, else `target_ms`);
    then achieved rate and the server's RSS."""
    console = console or Console()
    targets = targets or {}
    base = result.baseline()
    base_p99 = base.pct(99) if base else math.nan
    table = Table(title=title)
    for col in ("route", "count", "errors", "p50 ms", "p99 ms", "max ms", "p99 ÷ healthz", "ok"):
        table.add_column(col, justify="left" if col in ("route", "ok") else "right")
    for name, s in result.stats.items():
        p50, p99 = s.pct(50), s.pct(99)
        top = max(s.latencies_ms) if s.latencies_ms else math.nan
        errors = f"{s.errors}" + (f" ({_statuses(s)})" if s.errors else "")
        target = targets.get(name, target_ms)
        if target is None or name == HEALTHZ or math.isnan(p99):
            ok = "" if s.errors == 0 else "[red]errors[/red]"
        else:
            ok = "[green]yes[/green]" if p99 <= target and s.errors == 0 else "[red]no[/red]"
        ratio = f"×{p99 / base_p99:.1f}" if name != HEALTHZ and base_p99 and not math.isnan(p99) else ""
        table.add_row(name, f"{s.count}", errors, _ms(p50), _ms(p99), _ms(top), ratio, ok)
    console.print(table)
    rss = f"{result.rss_mb:.0f} MB" if result.rss_mb is not None else "n/a"
    console.print(
        f"asked {result.asked_rate:g}/s for {result.duration_s:g} s: {result.sent} sent, {result.completed} answered, "
        f"achieved {result.achieved_rate:.1f}/s; API RSS (peak sampled) {rss}"
        + (f"; target p99 ≤ {target_ms:g} ms" if target_ms else "")
    )


def _ms(v: float) -> str:
    return "" if math.isnan(v) else f"{v:.1f}"


def _statuses(s: RouteStats) -> str:
    return ", ".join(f"{k}×{n}" for k, n in s.statuses.items() if not (isinstance(k, int) and k < 400))


__all__ = [
    "HEALTHZ",
    "LoadResult",
    "Route",
    "RouteStats",
    "percentile",
    "print_results",
    "process_rss_mb",
    "run_open_loop",
]
