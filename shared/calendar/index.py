"""Cumulative working time per local day: deadline arithmetic as a binary search, not a day walk.

Over the days of whole years `first_year … last_year` (day 0 = 1 January of `first_year`),
`work[k]` is the working time, in microseconds, of the days before day k, and `days[k]` the
number of working days before it. The working time before an instant of day k is `work[k]` plus
that day's part, so the working time between two instants is one subtraction, and the instant at
which an amount of working time has passed is a `bisect` over `work` and a look at one day's
intervals: O(log n) in the span, where walking the calendar was O(days).

A calendar builds its index lazily, whole years at a time, as operations reach them. Each
extension builds a new immutable snapshot and swaps it in whole, so a reader never sees a
half-extended index. The index belongs to one `BusinessCalendar` object, which never changes: an
edited calendar is a new object (see `shared.sla.directory.calendar_from_row`).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

# The years an index may cover: the instants the service accepts (2000-01-01 to 2100-01-01 UTC, see
# shared.schemas) plus a year either side for timezones behind UTC, warnings before an early deadline
# and escalation levels after a late one.
FIRST_YEAR = 1999
LAST_YEAR = 2101

YearWork = Callable[[int], list[int]]  # a year's working microseconds, one entry per day


@dataclass(frozen=True)
class Cumulative:
    """One snapshot of the index (see the module's docstring)."""

    first_year: int
    last_year: int
    origin: int  # ordinal of day 0
    work: array[int]  # len = days covered + 1
    days: array[int]

    def position(self, day: date) -> int:
        return day.toordinal() - self.origin

    def day(self, position: int) -> date:
        return date.fromordinal(self.origin + position)

    @property
    def size(self) -> int:
        """How many days it covers."""
        return len(self.work) - 1


def _cumulative(per_day: Iterable[int], start: int) -> array[int]:
    return array("q", accumulate(per_day, initial=start))


class WorkIndex:
    """The lazily built, growing index of one calendar."""

    def __init__(self, year_work: YearWork) -> None:
        self._year_work = year_work
        self._snapshot: Cumulative | None = None

    def covering(self, first_year: int, last_year: int) -> Cumulative:
        """A snapshot covering at least these years (the caller keeps them within FIRST_YEAR–LAST_YEAR)."""
        snap = self._snapshot
        if snap is not None and snap.first_year <= first_year and last_year <= snap.last_year:
            return snap
        if snap is None:
            snap = self._build(first_year, last_year)
        if last_year > snap.last_year:
            snap = self._append(snap, last_year)
        if first_year < snap.first_year:
            snap = self._prepend(snap, first_year)
        self._snapshot = snap
        return snap

    def _days_of(self, first_year: int, last_year: int) -> list[int]:
        out: list[int] = []
        for year in range(first_year, last_year + 1):
            out.extend(self._year_work(year))
        return out

    def _build(self, first_year: int, last_year: int) -> Cumulative:
        per_day = self._days_of(first_year, last_year)
        return Cumulative(
            first_year,
            last_year,
            date(first_year, 1, 1).toordinal(),
            _cumulative(per_day, 0),
            _cumulative((1 if w else 0 for w in per_day), 0),
        )

    def _append(self, snap: Cumulative, last_year: int) -> Cumulative:
        per_day = self._days_of(snap.last_year + 1, last_year)
        work = snap.work + _cumulative(per_day, snap.work[-1])[1:]
        days = snap.days + _cumulative((1 if w else 0 for w in per_day), snap.days[-1])[1:]
        return Cumulative(snap.first_year, last_year, snap.origin, work, days)

    def _prepend(self, snap: Cumulative, first_year: int) -> Cumulative:
        per_day = self._days_of(first_year, snap.first_year - 1)
        work = _cumulative(per_day, 0)
        days = _cumulative((1 if w else 0 for w in per_day), 0)
        work_before, days_before = work[-1], days[-1]
        work.extend(w + work_before for w in snap.work[1:])
        days.extend(d + days_before for d in snap.days[1:])
        return Cumulative(first_year, snap.last_year, date(first_year, 1, 1).toordinal(), work, days)
