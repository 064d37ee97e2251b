"""Business calendars and deadline arithmetic — pure functions, no I/O, no clock.

A calendar is a timezone, weekly working intervals, statutory holidays from the `holidays`
package *including weekend make-up workdays* (调休), the hours of a make-up workday, per-date
overrides, and the official statutory schedule of the years a team loaded itself (`schedule`:
for a loaded year it replaces the package's data, which may only be an estimate — see
`shared.calendar.statutory`). Precedence for a date: override → statutory schedule (loaded, else
the package's: make-up workday → holiday) → weekly hours.
Intervals are half-open `[start, end)` in local wall time; instants in and out are aware datetimes.
"""

from __future__ import annotations

import enum
import itertools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from shared.calendar.index import FIRST_YEAR, LAST_YEAR, Cumulative, WorkIndex
from shared.calendar.statutory import DataQuality, WarningCode, package_quality

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DURATION = timedelta(days=366)  # no SLA target or escalation offset is longer than a year
MAX_WORKING_HOURS = timedelta(hours=3000)  # about a year and a half of office hours
SEARCH_LIMIT_DAYS = 3 * 366  # a calendar with no working time in three years is a misconfiguration
_US = timedelta(microseconds=1)  # the index counts working time in whole microseconds, exactly
_MINUTE_US = 60_000_000

Minutes = tuple[int, int]  # [start, end) in minutes after local midnight, end <= 1440


class CalendarError(ValueError):
    """Invalid calendar definition or target; `field` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NoWorkingTime(CalendarError):
    pass


class TargetKind(enum.StrEnum):
    calendar = "calendar"
    working_hours = "working_hours"
    working_days = "working_days"
    daily_at = "daily_at"


_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str, field: str = "value") -> timedelta:
    """ISO-8601 duration without years/months (`PT16H`, `P1D` = 24 h, `PT10S`)."""
    m = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if not m or text.strip().upper() in ("P", "PT"):
        raise CalendarError(field, f"{text!r} is not an ISO-8601 duration such as PT24H, PT30M or P2D")
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    try:
        duration = timedelta(
            weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
        )
    except OverflowError:
        duration = timedelta.max
    if duration > MAX_DURATION:
        raise CalendarError(field, "at most P366D (a year and a day)")
    return duration


def format_duration(td: timedelta) -> str:
    total = int(td.total_seconds())
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s or not (h or m) else "")


def _parse_hhmm(text: str, field: str) -> int:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(text))
    if not m:
        raise CalendarError(field, f"{text!r} is not a HH:MM time")
    h, mi = int(m.group(1)), int(m.group(2))
    if mi >= 60 or h > 24 or (h == 24 and mi):
        raise CalendarError(field, f"{text!r} is not a time of day (00:00–24:00)")
    return h * 60 + mi


def _parse_intervals(raw: Any, field: str) -> tuple[Minutes, ...]:
    if not isinstance(raw, list | tuple):
        raise CalendarError(field, 'must be a list of [start, end] pairs such as [["09:00", "18:00"]]')
    out: list[Minutes] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise CalendarError(f"{field}[{i}]", "must be a [start, end] pair")
        start, end = _parse_hhmm(pair[0], f"{field}[{i}]"), _parse_hhmm(pair[1], f"{field}[{i}]")
        if end <= start:
            raise CalendarError(f"{field}[{i}]", "end must be after start")
        out.append((start, end))
    out.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(out):
        if start < prev_end:
            raise CalendarError(field, "intervals overlap")
    return tuple(out)


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=256)
def _country_year(country: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(statutory holidays, weekend make-up workdays) of one country and year."""
    cal = holidays.country_holidays(country, years=year)
    off = frozenset(d for d in cal if d.year == year)
    makeup = frozenset(d for d in getattr(cal, "weekend_workdays", ()) if d.year == year)
    return off, makeup


@lru_cache(maxsize=256)
def _holiday_names(country: str, year: int) -> dict[date, str]:
    """Names of one country's statutory holidays in a year, in the country's own language."""
    cls = holidays.country_holidays(country).__class__
    cal = holidays.country_holidays(country, years=year, language=getattr(cls, "default_language", None))
    return {d: name for d, name in cal.items() if d.year == year}


DEFAULT_HOURS: tuple[Minutes, ...] = ((9 * 60, 18 * 60),)


@dataclass(frozen=True)
class ScheduledDay:
    """One day of an officially announced statutory schedule: a holiday or a make-up workday."""

    working: bool
    name: str


class DayReason(enum.StrEnum):
    weekend = "weekend"
    statutory_holiday = "statutory_holiday"
    makeup_workday = "makeup_workday"
    override = "override"
    workday = "workday"


@dataclass(frozen=True)
class DayInfo:
    """Why a date is (not) working, and whether its year's statutory data is official."""

    day: date
    intervals: tuple[Minutes, ...]
    reason: DayReason
    name: str | None
    data: DataQuality


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    timezone: str = "Asia/Shanghai"
    weekly_hours: Mapping[int, tuple[Minutes, ...]] = field(
        default_factory=lambda: {d: DEFAULT_HOURS for d in range(5)}
    )
    holiday_country: str | None = "CN"
    workday_hours: tuple[Minutes, ...] = DEFAULT_HOURS
    overrides: Mapping[date, tuple[Minutes, ...]] = field(default_factory=dict)  # () = day off
    schedule: Mapping[date, ScheduledDay] = field(default_factory=dict)  # loaded official years
    loaded_years: frozenset[int] = field(init=False, repr=False)  # the years `schedule` covers
    tz: ZoneInfo = field(init=False, repr=False)  # from `timezone`, set once in __post_init__

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "tz", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError("timezone", f"unknown IANA timezone {self.timezone!r}") from exc
        if self.holiday_country is not None:
            try:
                holidays.country_holidays(self.holiday_country)
            except NotImplementedError as exc:
                raise CalendarError("holiday_country", f"unknown country code {self.holiday_country!r}") from exc
        object.__setattr__(self, "_day_cache", {})
        object.__setattr__(self, "_index", WorkIndex(self._year_work))
        object.__setattr__(self, "loaded_years", frozenset(d.year for d in self.schedule))
        if not any(self.weekly_hours.get(d) for d in range(7)) and not any(self.overrides.values()):
            raise NoWorkingTime("weekly_hours", "the calendar has no working time at all")

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        """Build from the JSON shape of tests/data/sla_deadlines.json (field errors named)."""
        weekly_raw = data.get("weekly_hours")
        weekly: dict[int, tuple[Minutes, ...]] = {d: DEFAULT_HOURS for d in range(5)}
        if weekly_raw is not None:
            if not isinstance(weekly_raw, Mapping):
                raise CalendarError("weekly_hours", "must map mon…sun to interval lists")
            unknown = set(weekly_raw) - set(WEEKDAYS)
            if unknown:
                raise CalendarError("weekly_hours", f"unknown day(s) {sorted(unknown)}; use mon…sun")
            weekly = {WEEKDAYS.index(k): _parse_intervals(v, f"weekly_hours.{k}") for k, v in weekly_raw.items()}
        overrides: dict[date, tuple[Minutes, ...]] = {}
        for key, value in (data.get("overrides") or {}).items():
            try:
                day = date.fromisoformat(key)
            except (TypeError, ValueError):
                raise CalendarError(f"overrides.{key}", "keys must be YYYY-MM-DD dates") from None
            if value == "off":
                overrides[day] = ()
            else:
                overrides[day] = _parse_intervals(value, f"overrides.{key}")
        country = data.get("holiday_country", "CN")
        schedule = _parse_schedule(data.get("schedule") or {})
        return cls(
            timezone=data.get("timezone") or "Asia/Shanghai",
            weekly_hours=weekly,
            holiday_country=(country or None),
            workday_hours=_parse_intervals(data["workday_hours"], "workday_hours")
            if data.get("workday_hours") is not None
            else DEFAULT_HOURS,
            overrides=overrides,
            schedule=schedule,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "holiday_country": self.holiday_country,
            "weekly_hours": {
                WEEKDAYS[d]: [[_fmt(s), _fmt(e)] for s, e in iv] for d, iv in sorted(self.weekly_hours.items()) if iv
            },
            "workday_hours": [[_fmt(s), _fmt(e)] for s, e in self.workday_hours],
            "overrides": {
                d.isoformat(): ("off" if not iv else [[_fmt(s), _fmt(e)] for s, e in iv])
                for d, iv in sorted(self.overrides.items())
            },
            "schedule": {
                d.isoformat(): {"working": day.working, "name": day.name} for d, day in sorted(self.schedule.items())
            },
        }

    # ---- days ---------------------------------------------------------------------------------
    def intervals_on(self, day: date) -> tuple[Minutes, ...]:
        """Working intervals of a local date (override → statutory schedule → weekly)."""
        return self.describe_day(day).intervals

    def describe_day(self, day: date) -> DayInfo:
        """A date's working intervals and why: override, statutory schedule (the loaded one for a
        loaded year, else the package's), or the weekly hours."""
        data = self.statutory_data(day.year)
        if day in self.overrides:
            return DayInfo(day, self.overrides[day], DayReason.override, None, data)
        if day.year in self.loaded_years:
            entry = self.schedule.get(day)
            if entry is not None and entry.working:
                return DayInfo(day, self.workday_hours, DayReason.makeup_workday, entry.name, data)
            if entry is not None:
                return DayInfo(day, (), DayReason.statutory_holiday, entry.name, data)
        elif self.holiday_country:
            off, makeup = _country_year(self.holiday_country, day.year)
            if day in makeup:
                return DayInfo(day, self.workday_hours, DayReason.makeup_workday, None, data)
            if day in off:
                name = _holiday_names(self.holiday_country, day.year).get(day)
                return DayInfo(day, (), DayReason.statutory_holiday, name, data)
        weekly = self.weekly_hours.get(day.weekday(), ())
        return DayInfo(day, weekly, DayReason.workday if weekly else DayReason.weekend, None, data)

    def statutory_data(self, year: int) -> DataQuality:
        """`official` when the year's schedule was loaded, the package has it as announced, or the
        calendar has no statutory holidays; else `estimated`."""
        if self.holiday_country is None or year in self.loaded_years:
            return DataQuality.official
        return package_quality(self.holiday_country, year)

    def estimate_warnings(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """One warning per local year from `start` to `end` whose statutory data is estimated."""
        first, last = sorted((self.local_date(start).year, self.local_date(end).year))
        return [
            {
                "code": WarningCode.estimated_holidays,
                "year": year,
                "message": f"the {self.holiday_country} statutory holidays and make-up workdays of {year} "
                "are estimated, not the announced schedule: load the official schedule into this calendar",
            }
            for year in range(first, last + 1)
            if self.statutory_data(year) == DataQuality.estimated
        ]

    def is_working_day(self, day: date) -> bool:
        return bool(self.spans(day))

    def spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working intervals as aware datetimes (cached)."""
        cache: dict[date, tuple[tuple[datetime, datetime], ...]] = self._day_cache  # type: ignore[attr-defined]
        hit = cache.get(day)
        if hit is None:
            hit = self._day_spans(day)
            if len(cache) > 20_000:
                cache.clear()
            cache[day] = hit
        return hit

    def _day_spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        # In UTC: arithmetic between two datetimes sharing one ZoneInfo is wall-clock arithmetic,
        # which is an hour off across a DST change. UTC instants subtract and add exactly.
        # A wall-clock interval that touches a skipped hour can map backwards in real time: it is
        # clipped so the day's spans stay ordered, disjoint and non-empty.
        midnight = datetime.combine(day, time(0), self.tz)
        out: list[tuple[datetime, datetime]] = []
        for s, e in self.intervals_on(day):
            start, end = _wall(midnight, s).astimezone(UTC), _wall(midnight, e).astimezone(UTC)
            if out and start < out[-1][1]:
                start = out[-1][1]
            if end > start:
                out.append((start, end))
        return tuple(out)

    def local_date(self, t: datetime) -> date:
        return t.astimezone(self.tz).date()

    # ---- the index ----------------------------------------------------------------------------
    def _year_work(self, year: int) -> list[int]:
        """Working microseconds of each day of a year (the index's input)."""
        out: list[int] = []
        day, end = date(year, 1, 1), date(year + 1, 1, 1)
        offset = datetime.combine(day, time(0), self.tz).utcoffset()
        while day < end:
            following = day + timedelta(days=1)
            next_offset = datetime.combine(following, time(0), self.tz).utcoffset()
            intervals = self.intervals_on(day)
            if not intervals:
                out.append(0)
            elif offset == next_offset:  # no clock change that day: wall minutes are real minutes
                out.append(sum(e - s for s, e in intervals) * _MINUTE_US)
            else:
                out.append(sum((e - s) // _US for s, e in self._day_spans(day)))
            day, offset = following, next_offset
        return out

    def _cover(self, first: date, last: date) -> Cumulative:
        if first.year < FIRST_YEAR or last.year > LAST_YEAR:
            raise NoWorkingTime("calendar", f"deadline arithmetic covers the years {FIRST_YEAR}–{LAST_YEAR}")
        index: WorkIndex = self._index  # type: ignore[attr-defined]
        return index.covering(first.year, last.year)

    def _worked_until(self, snap: Cumulative, t: datetime, day: date) -> int:
        """Working microseconds from the snapshot's first day up to the instant `t` (on local `day`)."""
        done = snap.work[snap.position(day)]
        for s, e in self.spans(day):
            if t <= s:
                break
            done += (min(t, e) - s) // _US
        return done

    def _search_forward(self, day: date, of_days: bool, goal: int) -> tuple[Cumulative, int]:
        """The first position p after `day`'s with `days[p]` (or `work[p]`) >= goal, and the snapshot
        it was found in: extended a year at a time, NoWorkingTime after three years without any."""
        last = day
        while True:
            snap = self._cover(day, last)
            column = snap.days if of_days else snap.work
            here = snap.position(day)
            found = bisect_left(column, goal, here + 1)
            if found <= snap.size:
                return snap, found
            if snap.size - here > SEARCH_LIMIT_DAYS and snap.days[-1] == snap.days[-1 - SEARCH_LIMIT_DAYS]:
                raise NoWorkingTime("calendar", "no working time within three years")
            last = date(snap.last_year + 1, 1, 1)

    def _next_working_day(self, day: date) -> date:
        """The first working day after `day` (NoWorkingTime when there is none within three years)."""
        snap = self._cover(day, day)
        snap, found = self._search_forward(day, True, snap.days[snap.position(day) + 1] + 1)
        following = snap.day(found - 1)
        if (following - day).days >= SEARCH_LIMIT_DAYS:
            raise NoWorkingTime("calendar", "no working time within three years")
        return following

    # ---- instants -----------------------------------------------------------------------------
    def roll_forward(self, t: datetime) -> datetime:
        """`t` if it is working time, else the start of the next working interval."""
        _require_aware(t)
        day = self.local_date(t)
        for start, end in (*self.spans(day - timedelta(days=1)), *self.spans(day)):
            if t < end:
                return max(t, start).astimezone(self.tz)
        return self.spans(self._next_working_day(day))[0][0].astimezone(self.tz)

    def is_working_time(self, t: datetime) -> bool:
        return any(s <= t < e for s, e in self.spans(self.local_date(t)))

    def add_working(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which `amount` of working time from roll_forward(start) has passed."""
        _require_aware(start)
        if amount < timedelta(0):
            return self.subtract_working(start, -amount)
        t = self.roll_forward(start)
        if not amount:
            return t
        day = self.local_date(t)
        snap = self._cover(day, day)
        goal = self._worked_until(snap, t, day) + amount // _US
        snap, found = self._search_forward(day, False, goal)
        # The answer lies on the day before `found`: the first day whose end reaches the goal.
        left = goal - snap.work[found - 1]
        for s, e in self.spans(snap.day(found - 1)):
            length = (e - s) // _US
            if left <= length:
                return (s + timedelta(microseconds=left)).astimezone(self.tz)
            left -= length
        raise AssertionError("the index and the day's spans disagree")

    def subtract_working(self, end: datetime, amount: timedelta) -> datetime:
        """The latest instant from which `amount` of working time ends at `end`."""
        _require_aware(end)
        if amount <= timedelta(0):
            return end.astimezone(self.tz)
        day = self.local_date(end)
        first = day
        while True:
            snap = self._cover(first, day)
            goal = self._worked_until(snap, end, day) - amount // _US
            if goal >= 0:
                break
            if snap.size > SEARCH_LIMIT_DAYS and snap.work[SEARCH_LIMIT_DAYS] == 0:
                raise NoWorkingTime("calendar", "no working time within three years")
            first = date(snap.first_year - 1, 1, 1)
        # The answer lies on the first day whose end passes the goal.
        found = bisect_right(snap.work, goal) - 1
        left = goal - snap.work[found]
        for s, e in self.spans(snap.day(found)):
            length = (e - s) // _US
            if left < length:
                return (s + timedelta(microseconds=left)).astimezone(self.tz)
            left -= length
        raise AssertionError("the index and the day's spans disagree")

    def working_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time inside [a, b) (zero when b <= a)."""
        if b <= a:
            return timedelta(0)
        first, last = self.local_date(a), self.local_date(b)
        snap = self._cover(first, last)
        return timedelta(microseconds=self._worked_until(snap, b, last) - self._worked_until(snap, a, first))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """N working days after roll_forward(start)'s date, at its local time of day (clamped)."""
        _require_aware(start)
        r = self.roll_forward(start).astimezone(self.tz)
        target = r.date()
        if days > 0:
            snap = self._cover(target, target)
            snap, found = self._search_forward(target, True, snap.days[snap.position(target) + 1] + days)
            target = snap.day(found - 1)
        return self._at_time_on(target, r.timetz().replace(tzinfo=None))

    def _at_time_on(self, day: date, tod: time) -> datetime:
        spans = self.spans(day)
        t = datetime.combine(day, tod, self.tz)
        if t <= spans[0][0]:
            return spans[0][0].astimezone(self.tz)
        if t >= spans[-1][1]:
            return spans[-1][1].astimezone(self.tz)
        for s, e in spans:
            if t < e:
                return max(t, s).astimezone(self.tz)  # inside a gap (e.g. lunch): the next interval's start
        return spans[-1][1].astimezone(self.tz)

    def daily_at(self, start: datetime, at: str) -> datetime:
        """The first working day's local `at` (HH:MM) at or after `start`."""
        minutes = _parse_hhmm(at, "value")
        day = self.local_date(start)
        if self.is_working_day(day):
            t = _wall(datetime.combine(day, time(0), self.tz), minutes)
            if t >= start:
                return t
        return _wall(datetime.combine(self._next_working_day(day), time(0), self.tz), minutes)

    def deadline(self, start: datetime, target: Target) -> datetime:
        """The deadline of `target` started at `start`."""
        if target.kind == TargetKind.calendar:
            return start + target.duration
        if target.kind == TargetKind.working_hours:
            return self.add_working(start, target.duration)
        if target.kind == TargetKind.working_days:
            return self.add_working_days(start, target.days)
        return self.daily_at(start, target.at)


def _parse_schedule(raw: Any) -> dict[date, ScheduledDay]:
    if not isinstance(raw, Mapping):
        raise CalendarError("schedule", 'must map YYYY-MM-DD to {"working": bool, "name": str}')
    out: dict[date, ScheduledDay] = {}
    for key, entry in raw.items():
        try:
            day = date.fromisoformat(key)
        except (TypeError, ValueError):
            raise CalendarError(f"schedule.{key}", "keys must be YYYY-MM-DD dates") from None
        if not isinstance(entry, Mapping) or not isinstance(entry.get("working"), bool):
            raise CalendarError(f"schedule.{key}", 'must be {"working": true|false, "name": "..."}')
        out[day] = ScheduledDay(working=entry["working"], name=str(entry.get("name") or ""))
    return out


def _wall(midnight: datetime, minutes: int) -> datetime:
    """Local midnight + minutes of wall time, resolved to a real instant (DST-safe)."""
    day_offset, rem = divmod(minutes, 1440)
    naive = datetime.combine(midnight.date() + timedelta(days=day_offset), time(rem // 60, rem % 60))
    return naive.replace(tzinfo=midnight.tzinfo)


def _require_aware(t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise CalendarError("start", "must be a timezone-aware instant")


@dataclass(frozen=True)
class Target:
    """An SLA target: `calendar`/`working_hours` take a duration, `working_days` a count,
    `daily_at` a local HH:MM."""

    kind: TargetKind
    value: str
    duration: timedelta = timedelta(0)
    days: int = 0
    at: str = ""

    @classmethod
    def parse(cls, kind: str, value: str | int, *, field: str = "value") -> Target:
        try:
            k = TargetKind(kind)
        except ValueError:
            raise CalendarError("kind", f"must be one of: {', '.join(t.value for t in TargetKind)}") from None
        text = str(value).strip()
        if k in (TargetKind.calendar, TargetKind.working_hours):
            duration = parse_duration(text, field)
            if duration <= timedelta(0):
                raise CalendarError(field, "must be a positive duration")
            if k == TargetKind.working_hours and duration > MAX_WORKING_HOURS:
                raise CalendarError(field, "at most PT3000H of working time")
            return cls(k, text, duration=duration)
        if k == TargetKind.working_days:
            if not text.isdigit() or int(text) < 1 or int(text) > 365:
                raise CalendarError(field, "working_days takes a whole number of days from 1 to 365")
            return cls(k, text, days=int(text))
        _parse_hhmm(text, field)
        return cls(k, text, at=text)
