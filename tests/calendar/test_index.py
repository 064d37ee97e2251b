"""The index (shared/calendar/index.py) answers as the day walk did (tests/calendar/daywalk.py), on
random calendars and instants across 2000–2100, and it is built lazily, per calendar, a year at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.calendar import BusinessCalendar, CalendarError, NoWorkingTime, Target
from shared.calendar.core import SEARCH_LIMIT_DAYS, WEEKDAYS
from shared.calendar.index import FIRST_YEAR, LAST_YEAR
from tests.calendar.daywalk import DayWalk

ZONES = ("Asia/Shanghai", "America/New_York", "Europe/Berlin")
# Quarter hours, so intervals often start or end inside the hour a DST change skips or repeats.
QUARTERS = st.integers(min_value=0, max_value=96).map(lambda q: q * 15)


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def intervals(draw: st.DrawFn, min_size: int = 0) -> list[list[str]]:
    """0–3 disjoint [start, end) intervals of a day: a lunch break is two of them."""
    count = draw(st.integers(min_value=min_size, max_value=3))
    bounds = sorted(draw(st.sets(QUARTERS, min_size=2 * count, max_size=2 * count)))
    return [[hhmm(bounds[i]), hhmm(bounds[i + 1])] for i in range(0, len(bounds), 2)]


def near(anchor: date, days: int) -> st.SearchStrategy[date]:
    return st.integers(min_value=-days, max_value=days).map(lambda n: anchor + timedelta(days=n))


@st.composite
def calendars(draw: st.DrawFn, anchor: date) -> dict[str, Any]:
    """A calendar definition: random weekly hours (some days empty), make-up-day hours, CN (or US)
    holidays or none, and overrides and a loaded schedule around `anchor`, where the instants are."""
    weekly = {day: draw(intervals()) for day in WEEKDAYS}
    if not any(weekly.values()):
        weekly["wed"] = draw(intervals(min_size=1))
    overrides = {
        d.isoformat(): draw(st.one_of(st.just("off"), intervals(min_size=1)))
        for d in draw(st.lists(near(anchor, 60), max_size=6))
    }
    schedule = {
        d.isoformat(): {"working": draw(st.booleans()), "name": "假日"}
        for d in draw(st.lists(near(anchor, 60), max_size=6))
    }
    return {
        "timezone": draw(st.sampled_from(ZONES)),
        "holiday_country": draw(st.sampled_from(["CN", "CN", None, "US"])),
        "weekly_hours": weekly,
        "workday_hours": draw(intervals(min_size=1)),
        "overrides": overrides,
        "schedule": schedule,
    }


whole_seconds = st.booleans()
instants = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC))
# Spans from seconds to 30 years (the index's point is that the long ones cost no more), and working
# amounts up to PT3000H. The test runs at each scale: hypothesis favours small numbers within one.
SPANS = (
    st.integers(min_value=0, max_value=3 * 86400).map(lambda s: timedelta(seconds=s)),
    st.tuples(st.integers(0, 400), st.integers(0, 86399)).map(lambda d: timedelta(days=d[0], seconds=d[1])),
    st.tuples(st.integers(0, 30), st.integers(0, 365), st.integers(0, 86399)).map(
        lambda y: timedelta(days=365 * y[0] + y[1], seconds=y[2])
    ),
)
AMOUNTS = (
    st.integers(min_value=0, max_value=40 * 3600).map(lambda s: timedelta(seconds=s)),
    st.tuples(st.integers(0, 3000), st.integers(0, 3599)).map(lambda h: timedelta(hours=h[0], seconds=h[1])),
)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except NoWorkingTime as exc:
        return "none", exc


def agree(name: str, start: datetime, new: tuple[str, Any], old: tuple[str, Any], exact: bool) -> None:
    """Both give the same answer; or the walk gave up after three years where the index carried on;
    or the answer lies beyond the years the index covers."""
    if new[0] == "ok" and old[0] == "ok":
        if isinstance(new[1], timedelta):
            diff = abs(new[1] - old[1])
        else:
            diff = abs(new[1] - old[1])
            assert new[1].utcoffset() == old[1].utcoffset(), (name, new, old)
        # The walk added float seconds: exact for whole seconds, a few µs off over years otherwise.
        assert diff == timedelta(0) if exact else diff <= timedelta(milliseconds=1), (name, new, old)
    elif new[0] == "ok":
        assert abs(new[1] - start) > timedelta(days=SEARCH_LIMIT_DAYS - 2), (name, new, old)
    elif old[0] == "ok":
        assert not FIRST_YEAR <= old[1].year <= LAST_YEAR or abs(old[1] - start) > timedelta(days=SEARCH_LIMIT_DAYS - 2)


@st.composite
def scenarios(draw: st.DrawFn, scale: int) -> tuple[BusinessCalendar, datetime, datetime, timedelta, int, str, bool]:
    exact = draw(whole_seconds)
    a = draw(instants)
    if exact:
        a = a.replace(microsecond=0)
    cal = BusinessCalendar.from_json(draw(calendars(a.date())))
    b = min(a + draw(SPANS[scale]), LATEST)
    amount = draw(AMOUNTS[min(scale, 1)])
    return cal, a, b, amount, draw(st.integers(min_value=0, max_value=365)), hhmm(draw(QUARTERS)), exact


LATEST = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("scale", range(len(SPANS)), ids=["hours", "days", "years"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_index_answers_as_the_day_walk_did(scale, data):
    check_against_the_walk(data.draw(scenarios(scale)))


def dst_edge(zone: str, day: str, hours: list[list[str]], a: str, b: str) -> tuple[Any, ...]:
    weekly = {WEEKDAYS[date.fromisoformat(day).weekday()]: hours, "mon": [["09:00", "17:00"]]}
    cal = BusinessCalendar.from_json({"timezone": zone, "holiday_country": None, "weekly_hours": weekly})
    return cal, datetime.fromisoformat(a), datetime.fromisoformat(b), timedelta(hours=3), 2, "02:30", True


@pytest.mark.parametrize(
    "scenario",
    [  # working intervals that start or end inside the hour a clock change skips or repeats
        dst_edge("America/New_York", "2025-03-09", [["01:30", "03:15"]], "2025-03-08T12:00Z", "2025-03-10T12:00Z"),
        dst_edge("America/New_York", "2025-03-09", [["02:30", "03:15"]], "2025-03-08T12:00Z", "2025-03-10T12:00Z"),
        dst_edge(
            "America/New_York",
            "2025-11-02",
            [["00:45", "01:30"], ["01:45", "02:15"]],
            "2025-11-01T12:00Z",
            "2025-11-04T12:00Z",
        ),
        dst_edge(
            "Europe/Berlin",
            "2026-03-29",
            [["00:00", "02:30"], ["02:45", "24:00"]],
            "2026-03-28T12:00Z",
            "2026-03-31T12:00Z",
        ),
        dst_edge("Europe/Berlin", "2026-10-25", [["02:00", "03:00"]], "2026-10-24T12:00Z", "2026-10-27T12:00Z"),
    ],
)
def test_the_index_answers_as_the_day_walk_did_around_clock_changes(scenario):
    check_against_the_walk(scenario)


def check_against_the_walk(scenario: tuple[BusinessCalendar, datetime, datetime, timedelta, int, str, bool]) -> None:
    cal, a, b, amount, days, at, exact = scenario
    walk = DayWalk(cal)

    def check(name: str, start: datetime, op: Callable[[Any], Any]) -> None:
        agree(name, start, outcome(lambda: op(cal)), outcome(lambda: op(walk)), exact)

    check("roll_forward", a, lambda c: c.roll_forward(a))
    check("working_between", a, lambda c: c.working_between(a, b))
    check("working_between reversed", a, lambda c: c.working_between(b, a))
    check("add_working", a, lambda c: c.add_working(a, amount))
    check("add_working negative", b, lambda c: c.add_working(b, -amount))
    check("subtract_working", b, lambda c: c.subtract_working(b, amount))
    check("add_working_days", a, lambda c: c.add_working_days(a, days))
    check("daily_at", a, lambda c: c.daily_at(a, at))
    seconds = int(amount.total_seconds())
    for target in (
        Target.parse("calendar", f"PT{max(1, seconds % (366 * 86400))}S"),
        Target.parse("working_hours", f"PT{min(max(1, seconds), 3000 * 3600)}S"),
        Target.parse("working_days", str(max(1, days))),
        Target.parse("daily_at", at),
    ):
        check(f"deadline {target.kind}", a, lambda c, t=target: c.deadline(a, t))


# ---- the index itself ----------------------------------------------------------------------------
CN = BusinessCalendar.from_json(
    {
        "timezone": "Asia/Shanghai",
        "weekly_hours": {d: [["09:00", "12:00"], ["13:30", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "workday_hours": [["09:00", "12:00"], ["13:30", "18:00"]],
    }
)


def snapshot(cal: BusinessCalendar) -> Any:
    return cal._index._snapshot  # type: ignore[attr-defined]


def test_the_index_is_built_for_the_years_used_and_extended_as_needed():
    cal = BusinessCalendar.from_json({"timezone": "Asia/Shanghai"})
    assert snapshot(cal) is None  # nothing built until an operation needs it
    a = datetime.fromisoformat("2025-09-30T17:00:00+08:00")
    b = datetime.fromisoformat("2025-10-10T15:00:00+08:00")
    assert cal.working_between(a, b) == timedelta(hours=16)  # National Day week off
    assert (snapshot(cal).first_year, snapshot(cal).last_year) == (2025, 2025)
    cal.working_between(a, datetime.fromisoformat("2055-09-30T17:00:00+08:00"))
    assert (snapshot(cal).first_year, snapshot(cal).last_year) == (2025, 2055)
    cal.subtract_working(a, timedelta(hours=3000))  # about a year and a half of office hours back
    assert (snapshot(cal).first_year, snapshot(cal).last_year) == (2024, 2055)


def test_working_time_over_a_year_with_lunch_breaks_counts_holidays_and_make_up_days():
    """2025 in China: 261 weekdays, 18 of them statutory days off, 5 weekend make-up days: 248
    working days of 7.5 hours (09:00–12:00, 13:30–18:00)."""
    a, b = datetime.fromisoformat("2025-01-01T00:00:00+08:00"), datetime.fromisoformat("2026-01-01T00:00:00+08:00")
    working_days = sum(CN.is_working_day(date(2025, 1, 1) + timedelta(days=n)) for n in range(365))
    assert working_days == 248
    assert CN.working_between(a, b) == timedelta(hours=7.5 * 248)
    # from 1 January (a holiday) rolled to 2 January 09:00, the 247th working day after is the last
    assert CN.add_working_days(a, 247) == datetime.fromisoformat("2025-12-31T09:00:00+08:00")
    assert CN.add_working(a, timedelta(hours=7.5 * 248)) == datetime.fromisoformat("2025-12-31T18:00:00+08:00")
    assert CN.subtract_working(b, timedelta(hours=7.5 * 248)) == datetime.fromisoformat("2025-01-02T09:00:00+08:00")


def test_a_lunch_break_is_skipped_and_a_deadline_may_end_at_the_break():
    monday = datetime.fromisoformat("2026-03-02T11:00:00+08:00")
    assert CN.add_working(monday, timedelta(hours=1)) == datetime.fromisoformat("2026-03-02T12:00:00+08:00")
    assert CN.add_working(monday, timedelta(hours=1, seconds=1)) == datetime.fromisoformat("2026-03-02T13:30:01+08:00")
    assert CN.subtract_working(datetime.fromisoformat("2026-03-02T13:30:00+08:00"), timedelta(hours=1)) == monday
    assert CN.roll_forward(datetime.fromisoformat("2026-03-02T12:10:00+08:00")) == datetime.fromisoformat(
        "2026-03-02T13:30:00+08:00"
    )


def test_berlin_working_days_keep_their_local_hours_across_the_clock_change():
    """Europe/Berlin springs forward on Sunday 2026-03-29; Good Friday (3 April) and Easter Monday
    (6 April) are off. Five working days after Friday 27 March 09:00 (CET) is Tuesday 7 April
    09:00 (CEST), and the working time between is 5 days × 9 real hours."""
    berlin = BusinessCalendar.from_json({"timezone": "Europe/Berlin", "holiday_country": "DE"})
    fri = datetime.fromisoformat("2026-03-27T09:00:00+01:00")
    due = berlin.add_working_days(fri, 5)
    assert due.isoformat() == "2026-04-07T09:00:00+02:00"
    assert berlin.working_between(fri, due) == timedelta(hours=45)
    assert berlin.subtract_working(due, timedelta(hours=45)) == fri
    always = BusinessCalendar.from_json(
        {
            "timezone": "Europe/Berlin",
            "holiday_country": None,
            "weekly_hours": {d: [["00:00", "24:00"]] for d in WEEKDAYS},
        }
    )
    sunday = datetime.fromisoformat("2026-10-25T00:00:00+02:00")
    assert always.working_between(sunday, sunday + timedelta(days=1)) == timedelta(hours=24)
    assert always.working_between(sunday, datetime.fromisoformat("2026-10-26T00:00:00+01:00")) == timedelta(hours=25)


def test_no_working_time_far_out_or_beyond_the_covered_years_is_named():
    few = BusinessCalendar.from_json(
        {"holiday_country": None, "weekly_hours": {}, "overrides": {"2026-03-02": [["09:00", "10:00"]]}}
    )
    assert few.add_working(datetime.fromisoformat("2026-01-01T00:00:00+08:00"), timedelta(hours=1)).isoformat() == (
        "2026-03-02T10:00:00+08:00"
    )
    with pytest.raises(NoWorkingTime) as err:
        few.add_working(datetime.fromisoformat("2026-01-01T00:00:00+08:00"), timedelta(hours=2))
    assert err.value.field == "calendar" and "three years" in err.value.message
    with pytest.raises(NoWorkingTime):
        few.subtract_working(datetime.fromisoformat("2026-01-01T00:00:00+08:00"), timedelta(hours=1))
    with pytest.raises(CalendarError) as err:
        CN.add_working(datetime.fromisoformat("2101-12-31T17:00:00+08:00"), timedelta(hours=2))
    assert "1999–2101" in err.value.message
