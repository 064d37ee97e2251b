"""The period and scope every analytics query takes.

A period is a span of local dates in the company's time zone (the default calendar's,
Asia/Shanghai), given either as `period` —

- `2026` a year, `2026-Q4` a quarter, `2026-10` a month, `2026-W40` an ISO week (Monday–Sunday),
  `2026-10-08` a day —

or as `from` and `to`, both local dates, both included. With neither, the current month. The
queries read the half-open instant range [first day 00:00, day after the last 00:00) in that zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from shared.errors import InvalidInput

PERIOD_DOC = (
    "the period, in the company's time zone (the default calendar's, Asia/Shanghai): `2026` (a year), "
    "`2026-Q4` (a quarter), `2026-10` (a month), `2026-W40` (an ISO week, Monday to Sunday) or "
    "`2026-10-08` (a day). Instead of `period`, give `from` and `to` (local dates, both included). "
    "Neither: the current month."
)
PERIOD_FIELD, FROM_FIELD, TO_FIELD = "query.period", "query.from", "query.to"
MAX_SPAN = timedelta(days=3 * 366)  # beyond this a "period" is a typo, and a slow query


class Bucket(StrEnum):
    """How `group_by=period` slices a period: by day up to a week, by ISO week up to a month
    (31 days), by month beyond."""

    day = "day"
    week = "week"
    month = "month"


@dataclass(frozen=True)
class Period:
    """Local dates [first, last] and how the period was named (for file names and headers)."""

    first: date
    last: date
    label: str

    def previous(self) -> Period:
        """The period before, for "change against the previous period": the previous year, quarter,
        month, week or day, or a from/to span of as many days ending the day before."""
        before = self.first - timedelta(days=1)
        label = self.label
        if re.fullmatch(r"\d{4}", label):
            return _named(str(self.first.year - 1))
        if re.fullmatch(r"\d{4}-Q[1-4]", label):
            return _named(f"{before.year}-Q{(before.month - 1) // 3 + 1}")
        if re.fullmatch(r"\d{4}-W\d{2}", label):
            year, week, _ = before.isocalendar()
            return _named(f"{year}-W{week:02d}")
        if re.fullmatch(r"\d{4}-\d{2}", label):
            return _named(before.strftime("%Y-%m"))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", label):
            return _named(before.isoformat())
        first = before - (self.last - self.first)
        return Period(first, before, f"{first.isoformat()}_{before.isoformat()}")

    @property
    def bucket(self) -> Bucket:
        days = (self.last - self.first).days + 1
        if days <= 7:
            return Bucket.day
        return Bucket.week if days <= 31 else Bucket.month


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput.for_field(field, message)


def _named(text: str) -> Period:
    text = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})", text):
            year = int(m[1])
            return Period(date(year, 1, 1), date(year, 12, 31), text)
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", text, flags=re.IGNORECASE):
            year, quarter = int(m[1]), int(m[2])
            first = date(year, 3 * quarter - 2, 1)
            after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
            return Period(first, after - timedelta(days=1), f"{year}-Q{quarter}")
        if m := re.fullmatch(r"(\d{4})-W(\d{2})", text, flags=re.IGNORECASE):
            first = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period(first, first + timedelta(days=6), f"{m[1]}-W{m[2]}")
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            year, month = int(m[1]), int(m[2])
            first = date(year, month, 1)
            after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            return Period(first, after - timedelta(days=1), text)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return Period(day, day, text)
    except ValueError:
        raise _bad(PERIOD_FIELD, f"{text!r} is not a real year, quarter, month, week or day") from None
    raise _bad(PERIOD_FIELD, "must look like 2026, 2026-Q4, 2026-10, 2026-W40 or 2026-10-08")


def parse_period(period: str | None, first: date | None, last: date | None, *, today: date) -> Period:
    """The period the query parameters name (422 naming `query.period`, `query.from` or `query.to`)."""
    if period is not None and (first is not None or last is not None):
        raise _bad(PERIOD_FIELD, "give either period or from/to, not both")
    if period is not None:
        return _named(period)
    if first is None and last is None:
        month_first = today.replace(day=1)
        return _named(month_first.strftime("%Y-%m"))
    if first is None:
        raise _bad(FROM_FIELD, "to needs from")
    if last is None:
        raise _bad(TO_FIELD, "from needs to")
    if last < first:
        raise _bad(TO_FIELD, "must not be before from")
    if last - first > MAX_SPAN:
        raise _bad(TO_FIELD, "at most three years after from")
    return Period(first, last, f"{first.isoformat()}_{last.isoformat()}")


@dataclass(frozen=True)
class AnalyticsFilter:
    """What every analytics query is scoped by: instants [start, end), departments (empty: all),
    a template key (None: all), and the instant "now" that separates overdue from still open."""

    start: datetime
    end: datetime
    now: datetime
    timezone: str
    label: str
    first_day: date
    last_day: date
    bucket: Bucket = Bucket.month
    department_ids: tuple[int, ...] = ()
    template: str | None = None

    @classmethod
    def of(
        cls,
        period: Period,
        *,
        tz: tzinfo,
        timezone: str,
        now: datetime,
        department_ids: tuple[int, ...] = (),
        template: str | None = None,
    ) -> AnalyticsFilter:
        """The filter of a period of local dates in the company's time zone."""
        start = datetime.combine(period.first, time(0), tz)
        end = datetime.combine(period.last + timedelta(days=1), time(0), tz)
        return cls(
            start=start,
            end=end,
            now=now,
            timezone=timezone,
            label=period.label,
            first_day=period.first,
            last_day=period.last,
            bucket=period.bucket,
            department_ids=tuple(sorted(set(department_ids))),
            template=template,
        )
