"""Benchmark (not a test): calendar arithmetic, the former day walk against the index. Prints a table.

For the CN calendar with a lunch break (Asia/Shanghai, Mon–Fri 09:00–12:00 + 13:30–18:00, statutory
holidays and make-up workdays) and for New York (DST), times per call:
 (a) `working_between` over 1 day, 1 month, 1 year and 30 years, and `add_working` of 1 hour and of a
     year of office hours (PT1800H), warm (caches and index built), the day walk
     (tests/calendar/daywalk.py, the implementation before issue 14) against the index, and the
     speed-up;
 (b) the first call on a fresh calendar object (the walk fills its day cache, the index builds the
     years it reaches) against a warm call.
The `holidays` package's data is loaded before any timing (it is cached per process for both).

    .venv/bin/python bench/calendars.py [--repeat 200]

(Not `bench/calendar.py`: a script's folder comes first on `sys.path`, so that name shadowed the
standard library's `calendar` for every bench run as `python bench/<name>.py`.)
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file shares its name with the standard library's `calendar`, which `holidays` imports: put
# the repository root where Python put bench/, so `import calendar` finds the standard one.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from shared.calendar import BusinessCalendar  # noqa: E402
from tests.calendar.daywalk import DayWalk  # noqa: E402

LUNCH = [["09:00", "12:00"], ["13:30", "18:00"]]
CALENDARS: dict[str, dict[str, Any]] = {
    "CN, lunch break": {
        "timezone": "Asia/Shanghai",
        "holiday_country": "CN",
        "weekly_hours": {d: LUNCH for d in ("mon", "tue", "wed", "thu", "fri")},
        "workday_hours": LUNCH,
    },
    "New York (DST)": {"timezone": "America/New_York", "holiday_country": "US"},
}
START = datetime.fromisoformat("2026-03-02T10:15:00+08:00")
SPANS = {"1 day": timedelta(days=1), "1 month": timedelta(days=30), "1 year": timedelta(days=365)}
SPANS["30 years"] = timedelta(days=30 * 365 + 7)


def per_call(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call over `repeat` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def once(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:,.2f} ms"
    return f"{seconds * 1e6:,.1f} µs"


def operations(start: datetime) -> dict[str, Callable[[Any], object]]:
    ops: dict[str, Callable[[Any], object]] = {}
    for label, span in SPANS.items():
        ops[f"working_between {label}"] = lambda c, s=span: c.working_between(start, start + s)
    ops["add_working PT1H"] = lambda c: c.add_working(start, timedelta(hours=1))
    ops["add_working PT1800H (a year)"] = lambda c: c.add_working(start, timedelta(hours=1800))
    return ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    console = Console(width=120)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    for name, spec in CALENDARS.items():
        warm = BusinessCalendar.from_json(spec)
        walk = DayWalk(warm)
        start = START.astimezone(warm.tz)
        for year in range(start.year - 1, start.year + 32):  # the holidays package's data, for both
            warm.describe_day(start.date().replace(year=year))

        table = Table(title=f"{name} — warm calls, median of {args.repeat} (load average {load})")
        for column in ("operation", "day walk", "index", "speed-up"):
            table.add_column(column, justify="left" if column == "operation" else "right")
        for label, op in operations(start).items():
            repeat = args.repeat if "30 years" not in label else max(5, args.repeat // 20)
            old = per_call(lambda op=op, c=walk: op(c), repeat)
            new = per_call(lambda op=op, c=warm: op(c), args.repeat)
            table.add_row(label, fmt(old), fmt(new), f"{old / new:,.0f}×")
        console.print(table)

        first = Table(title=f"{name} — the first call on a fresh calendar object against a warm one")
        for column in ("operation", "day walk: first", "index: first (builds)", "index: warm", "first ÷ warm"):
            first.add_column(column, justify="left" if column == "operation" else "right")
        for label, op in operations(start).items():
            fresh = BusinessCalendar.from_json(spec)
            old_first = once(lambda op=op, c=fresh: op(DayWalk(c)))
            fresh = BusinessCalendar.from_json(spec)
            new_first = once(lambda op=op, c=fresh: op(c))
            new_warm = per_call(lambda op=op, c=fresh: op(c), args.repeat)
            first.add_row(label, fmt(old_first), fmt(new_first), fmt(new_warm), f"{new_first / new_warm:,.0f}×")
        console.print(first)


if __name__ == "__main__":
    main()
