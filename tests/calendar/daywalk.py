"""The day-by-day walk `BusinessCalendar` used before its index (issue 14): kept as the test oracle.

Each method is the former implementation as it stood, reading the calendar only through the
per-day primitives the index is built from (`spans`, `local_date`, `is_working_day`), so a
property test can ask both for the same answer (tests/calendar/test_index.py) and the benchmark
(bench/calendar_index.py) can time both. It walks at most three years of days, as it always did.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from shared.calendar.core import (
    SEARCH_LIMIT_DAYS,
    BusinessCalendar,
    NoWorkingTime,
    Target,
    TargetKind,
    _parse_hhmm,
    _require_aware,
    _wall,
)


class DayWalk:
    """Deadline arithmetic on `cal`, one local day at a time."""

    def __init__(self, cal: BusinessCalendar) -> None:
        self.cal = cal
        self.tz = cal.tz

    def _days_from(self, day: date, step: int = 1) -> Iterator[date]:
        for i in range(SEARCH_LIMIT_DAYS):
            yield day + timedelta(days=i * step)
        raise NoWorkingTime("calendar", "no working time within three years")

    def roll_forward(self, t: datetime) -> datetime:
        _require_aware(t)
        for day in self._days_from(self.cal.local_date(t) - timedelta(days=1)):
            for start, end in self.cal.spans(day):
                if t < end:
                    return max(t, start).astimezone(self.tz)
        raise AssertionError("unreachable")

    def add_working(self, start: datetime, amount: timedelta) -> datetime:
        _require_aware(start)
        remaining = amount.total_seconds()
        if remaining < 0:
            return self.subtract_working(start, -amount)
        t = self.roll_forward(start)
        for day in self._days_from(self.cal.local_date(t)):
            for s, e in self.cal.spans(day):
                if e <= t:
                    continue
                s = max(s, t)
                available = (e - s).total_seconds()
                if remaining <= available:
                    return (s + timedelta(seconds=remaining)).astimezone(self.tz)
                remaining -= available
        raise AssertionError("unreachable")

    def subtract_working(self, end: datetime, amount: timedelta) -> datetime:
        _require_aware(end)
        remaining = amount.total_seconds()
        if remaining <= 0:
            return end.astimezone(self.tz)
        for day in self._days_from(self.cal.local_date(end), step=-1):
            for s, e in reversed(self.cal.spans(day)):
                if s >= end:
                    continue
                e = min(e, end)
                available = (e - s).total_seconds()
                if remaining <= available:
                    return (e - timedelta(seconds=remaining)).astimezone(self.tz)
                remaining -= available
        raise AssertionError("unreachable")

    def working_between(self, a: datetime, b: datetime) -> timedelta:
        if b <= a:
            return timedelta(0)
        total = 0.0
        day, last = self.cal.local_date(a) - timedelta(days=1), self.cal.local_date(b) + timedelta(days=1)
        while day <= last:
            for s, e in self.cal.spans(day):
                lo, hi = max(s, a), min(e, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return timedelta(seconds=total)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        _require_aware(start)
        r = self.roll_forward(start).astimezone(self.tz)
        target = r.date()
        counted = 0
        for day in self._days_from(r.date() + timedelta(days=1)):
            if counted == days:
                break
            if self.cal.is_working_day(day):
                counted += 1
                target = day
        return self.cal._at_time_on(target, r.timetz().replace(tzinfo=None))

    def daily_at(self, start: datetime, at: str) -> datetime:
        minutes = _parse_hhmm(at, "value")
        for day in self._days_from(self.cal.local_date(start)):
            if self.cal.is_working_day(day):
                t = _wall(datetime.combine(day, time(0), self.tz), minutes)
                if t >= start:
                    return t
        raise AssertionError("unreachable")

    def deadline(self, start: datetime, target: Target) -> datetime:
        if target.kind == TargetKind.calendar:
            return start + target.duration
        if target.kind == TargetKind.working_hours:
            return self.add_working(start, target.duration)
        if target.kind == TargetKind.working_days:
            return self.add_working_days(start, target.days)
        return self.daily_at(start, target.at)
