"""Deadline arithmetic: every case of the SLA vectors (tests/data), the semantics doc's rules, and properties."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import BusinessCalendar, CalendarError, NoWorkingTime, Target

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "data" / "sla_deadlines.json").read_text())
CALENDARS = {name: BusinessCalendar.from_json(spec) for name, spec in VECTORS["calendars"].items()}
CN = CALENDARS["cn_default"]
LUNCH = CALENDARS["cn_lunch"]


@pytest.mark.parametrize(
    "case", VECTORS["cases"], ids=lambda c: f"{c['calendar']}-{c['start']}-{c['kind']}-{c['value']}"
)
def test_shared_vector(case):
    cal = CALENDARS[case["calendar"]]
    due = cal.deadline(datetime.fromisoformat(case["start"]), Target.parse(case["kind"], case["value"]))
    assert due == datetime.fromisoformat(case["due"])
    assert due.utcoffset() == datetime.fromisoformat(case["due"]).utcoffset()  # shown in the calendar's zone


def test_make_up_workday_is_a_working_day_and_holiday_is_not():
    assert CN.is_working_day(date(2025, 9, 28))  # Sunday, 调休
    assert not CN.is_working_day(date(2025, 10, 8))  # substituted day off
    assert not CN.is_working_day(date(2025, 10, 4))  # Saturday inside the holiday
    assert CN.is_working_day(date(2025, 10, 9))


def test_override_wins_over_everything():
    assert LUNCH.intervals_on(date(2027, 2, 1)) == ()
    assert LUNCH.intervals_on(date(2026, 12, 31)) == ((540, 720),)
    overridden = BusinessCalendar.from_json({**VECTORS["calendars"]["cn_default"], "overrides": {"2025-09-28": "off"}})
    assert not overridden.is_working_day(date(2025, 9, 28))


def test_roll_forward_at_the_end_of_the_day_goes_to_the_next_working_morning():
    t = datetime.fromisoformat("2025-09-30T18:00:00+08:00")
    assert CN.roll_forward(t) == datetime.fromisoformat("2025-10-09T09:00:00+08:00")
    inside = datetime.fromisoformat("2025-09-30T17:59:59+08:00")
    assert CN.roll_forward(inside) == inside


def test_daily_at_skips_non_working_days_and_uses_make_up_days():
    fri_evening = datetime.fromisoformat("2026-10-09T17:30:00+08:00")
    assert CN.daily_at(fri_evening, "17:00") == datetime.fromisoformat("2026-10-10T17:00:00+08:00")  # make-up Sat
    sat_evening = datetime.fromisoformat("2026-10-10T17:30:00+08:00")
    assert CN.daily_at(sat_evening, "17:00") == datetime.fromisoformat("2026-10-12T17:00:00+08:00")


def test_working_between_counts_only_working_time():
    a = datetime.fromisoformat("2025-09-30T17:00:00+08:00")
    b = datetime.fromisoformat("2025-10-10T15:00:00+08:00")
    assert CN.working_between(a, b) == timedelta(hours=16)
    assert CN.subtract_working(b, timedelta(hours=16)) == a


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"weekly_hours": {"mon": [["18:00", "09:00"]]}}, "weekly_hours.mon[0]"),
        ({"weekly_hours": {"funday": [["09:00", "18:00"]]}}, "weekly_hours"),
        ({"weekly_hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "weekly_hours.mon"),
        ({"weekly_hours": {}}, "weekly_hours"),
        ({"overrides": {"31/12/2026": "off"}}, "overrides.31/12/2026"),
        ({"workday_hours": [["9am", "6pm"]]}, "workday_hours[0]"),
    ],
)
def test_invalid_calendars_name_the_field(spec, field):
    with pytest.raises(CalendarError) as err:
        BusinessCalendar.from_json(spec)
    assert err.value.field == field
    if field == "weekly_hours" and spec.get("weekly_hours") == {}:
        assert isinstance(err.value, NoWorkingTime)


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [
        ("working_hours", "16h", "value"),
        ("working_days", "0", "value"),
        ("working_days", "1.5", "value"),
        ("daily_at", "5pm", "value"),
        ("fortnights", "1", "kind"),
        ("calendar", "PT0S", "value"),
    ],
)
def test_invalid_targets_name_the_field(kind, value, field):
    with pytest.raises(CalendarError) as err:
        Target.parse(kind, value)
    assert err.value.field == field


def test_naive_start_is_rejected():
    with pytest.raises(CalendarError):
        CN.roll_forward(datetime(2026, 1, 5, 10))


# ---- properties ----------------------------------------------------------------------------------
starts = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC))
hours = st.integers(min_value=0, max_value=60 * 60 * 120).map(lambda s: timedelta(seconds=s))
cals = st.sampled_from(list(CALENDARS.values()))


def inside_working_time(cal: BusinessCalendar, t: datetime) -> bool:
    """Within an interval, its end included (a deadline may be 18:00 sharp)."""
    return any(s <= t <= e for s, e in cal.spans(cal.local_date(t)))


@settings(max_examples=150, deadline=None)
@given(cal=cals, start=starts, a=hours, b=hours)
def test_working_hours_in_two_steps_equal_one_step(cal, start, a, b):
    first = cal.add_working(start, a)
    if b:
        assert cal.add_working(first, b) == cal.add_working(start, a + b)
    else:
        # A deadline that lands on the end of a working span stays there; adding nothing to it
        # starts from the next working moment (a start is rolled forward), e.g. 18:00 → 09:00.
        assert cal.add_working(first, b) == cal.roll_forward(first)


@settings(max_examples=150, deadline=None)
@given(cal=cals, start=starts, amount=hours, later=hours)
def test_working_hours_are_monotonic_in_start_and_target(cal, start, amount, later):
    assert cal.add_working(start, amount) <= cal.add_working(start + later, amount)
    assert cal.add_working(start, amount) <= cal.add_working(start, amount + later)


@settings(max_examples=150, deadline=None)
@given(cal=cals, start=starts, days=st.integers(1, 30), more=st.integers(0, 10), later=hours)
def test_working_days_are_monotonic_in_start_and_target(cal, start, days, more, later):
    assert cal.add_working_days(start, days) <= cal.add_working_days(start, days + more)
    assert cal.add_working_days(start, days) <= cal.add_working_days(start + later, days)


@settings(max_examples=150, deadline=None)
@given(cal=cals, start=starts, amount=hours, days=st.integers(1, 30))
def test_deadlines_fall_inside_working_time(cal, start, amount, days):
    assert inside_working_time(cal, cal.add_working(start, amount + timedelta(seconds=1)))
    assert inside_working_time(cal, cal.add_working_days(start, days))
    assert inside_working_time(cal, cal.roll_forward(start))


@settings(max_examples=150, deadline=None)
@given(cal=cals, start=starts, amount=hours)
def test_working_between_inverts_add_working(cal, start, amount):
    due = cal.add_working(start, amount)
    assert abs((cal.working_between(start, due) - amount).total_seconds()) < 1e-6
    assert cal.subtract_working(due, amount) <= cal.roll_forward(start) or amount == timedelta(0)


ROUND_THE_CLOCK = BusinessCalendar.from_json(
    {
        "timezone": "America/New_York",
        "weekly_hours": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
)


def test_working_time_is_real_time_across_a_dst_change():
    """On 2025-03-09 New York springs forward: that local day has 23 real hours. A 24 h working
    target on an always-open calendar is 24 real hours, not 24 wall-clock hours."""
    start = datetime.fromisoformat("2025-03-08T12:00:00-05:00")
    due = ROUND_THE_CLOCK.add_working(start, timedelta(hours=24))
    assert due == start + timedelta(hours=24)
    assert due.isoformat() == "2025-03-09T13:00:00-04:00"
    assert ROUND_THE_CLOCK.working_between(start, due) == timedelta(hours=24)
    sunday = datetime.fromisoformat("2025-03-09T00:00:00-05:00")
    assert ROUND_THE_CLOCK.working_between(sunday, sunday + timedelta(days=1)) == timedelta(days=1)
    assert ROUND_THE_CLOCK.subtract_working(due, timedelta(hours=24)) == start
