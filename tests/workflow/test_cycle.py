"""Working-day arithmetic of stage cycles and limits (pure: the default CN office calendar)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from shared.calendar import BusinessCalendar
from shared.workflow.cycle import limit_in_working_days, working_day, working_days_between

T = datetime.fromisoformat
CAL = BusinessCalendar()
FRIDAY_1330 = T("2026-10-09T13:30:00+08:00")  # before the make-up Saturday Oct 10


def test_a_working_day_is_the_calendars_workday_hours():
    assert working_day(CAL) == timedelta(hours=9)
    half_days = BusinessCalendar(workday_hours=((9 * 60, 12 * 60), (13 * 60, 17 * 60)))
    assert working_day(half_days) == timedelta(hours=7)


def test_cycle_across_national_day_counts_only_working_time():
    # Sep 30 (9 h), Oct 1–7 off, Oct 8 (9 h), Oct 9 until 13:30 (4.5 h).
    assert working_days_between(CAL, T("2026-09-30T09:00:00+08:00"), FRIDAY_1330) == Decimal("2.500")
    assert working_days_between(CAL, T("2026-10-01T09:00:00+08:00"), T("2026-10-07T18:00:00+08:00")) == 0


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("working_days", "3", Decimal("3.000")),  # N whatever the hour of entry
        ("working_hours", "PT18H", Decimal("2.000")),  # 18 h ÷ 9 h
        ("calendar", "P7D", Decimal("6.000")),  # Fri 13:30 → Fri 13:30 with the make-up Saturday: 54 h
        ("calendar", "PT24H", Decimal("1.000")),  # Fri 13:30 → Sat 13:30 (a workday): 4.5 h + 4.5 h
        ("daily_at", "18:00", Decimal("0.500")),  # today's 18:00: 4.5 h
    ],
)
def test_limits_in_working_days(kind, value, expected):
    assert limit_in_working_days(CAL, {"kind": kind, "value": value}, FRIDAY_1330) == expected


def test_a_stage_without_a_limit_has_none():
    assert limit_in_working_days(CAL, None, FRIDAY_1330) is None
