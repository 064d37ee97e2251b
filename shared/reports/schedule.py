"""When a report is sent: its periods and their send instants on a working calendar (pure).

- `daily_standup`: every working day (make-up workdays included, holidays skipped) at `send_at`.
- `weekly` (ISO week, Monday–Sunday), `monthly`, `quarterly`, `annual`: the period's **last working
  day** at `send_at` — the week of a make-up Sunday ends on that Sunday, a week whose Thursday and
  Friday are a holiday ends on its Wednesday.

After downtime only the latest due period is produced: a periodic report missed on Friday is
produced when the worker returns (it is still the latest), while a stand-up is only produced on its
own working day — yesterday's "due today" list is stale, so a missed stand-up is skipped once the
next local day has begun (`is_stale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shared.calendar.core import BusinessCalendar
from shared.reports.models import ReportKind

SEND_AT_FORMAT = "must be HH:MM (24-hour), e.g. 09:00"
# How far back the latest due period is searched: a period with no working day at all is skipped.
LOOKBACK_PERIODS = 8


@dataclass(frozen=True)
class Period:
    kind: ReportKind
    start: date
    end: date  # inclusive
    key: str

    def previous(self) -> Period:
        return period_of(self.kind, self.start - timedelta(days=1))


def parse_send_at(text: str) -> time:
    """`HH:MM` (24 h) → time; ValueError otherwise."""
    hh, sep, mm = text.partition(":")
    if sep and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60:
        return time(int(hh), int(mm))
    raise ValueError(SEND_AT_FORMAT)


def period_of(kind: ReportKind, day: date) -> Period:
    """The period of `kind` containing `day`."""
    if kind == ReportKind.daily_standup:
        return Period(kind, day, day, day.isoformat())
    if kind == ReportKind.weekly:
        start = day - timedelta(days=day.weekday())
        iso = start.isocalendar()
        return Period(kind, start, start + timedelta(days=6), f"{iso.year}-W{iso.week:02d}")
    if kind == ReportKind.monthly:
        start = day.replace(day=1)
        return Period(kind, start, _month_end(start.year, start.month), f"{day.year}-{day.month:02d}")
    if kind == ReportKind.quarterly:
        q = (day.month - 1) // 3
        start = date(day.year, 3 * q + 1, 1)
        return Period(kind, start, _month_end(day.year, 3 * q + 3), f"{day.year}-Q{q + 1}")
    return Period(kind, date(day.year, 1, 1), date(day.year, 12, 31), str(day.year))


def _month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def send_day(cal: BusinessCalendar, period: Period) -> date | None:
    """The day a period's report goes out: the stand-up's own day if it is a working day, else the
    period's last working day; None when the period has no working day."""
    day = period.end
    while day >= period.start:
        if cal.is_working_day(day):
            return day
        day -= timedelta(days=1)
    return None


def send_instant(cal: BusinessCalendar, period: Period, at: time) -> datetime | None:
    day = send_day(cal, period)
    return None if day is None else datetime.combine(day, at, cal.tz)


def latest_due(cal: BusinessCalendar, kind: ReportKind, at: time, now: datetime) -> tuple[Period, datetime] | None:
    """The latest period whose send instant is at or before `now` (with that instant)."""
    period = period_of(kind, cal.local_date(now))
    for _ in range(LOOKBACK_PERIODS if kind != ReportKind.daily_standup else 40):
        instant = send_instant(cal, period, at)
        if instant is not None and instant <= now:
            return period, instant
        period = period.previous()
    return None


def is_stale(cal: BusinessCalendar, period: Period, now: datetime) -> bool:
    """A stand-up is about its own day: once the next local day has begun it is not sent."""
    return period.kind == ReportKind.daily_standup and cal.local_date(now) > period.end


def previous_working_day(cal: BusinessCalendar, day: date) -> date:
    d = day - timedelta(days=1)
    while not cal.is_working_day(d):
        d -= timedelta(days=1)
    return d
