"""Report periods and send days on the CN working calendar (pure): National Day 2026 (Oct 1–7
off, Sat Oct 10 a make-up workday), Mid-Autumn (Fri Sep 25 off, Sun Sep 20 a make-up workday)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from shared.calendar.core import BusinessCalendar
from shared.reports.models import ReportKind
from shared.reports.schedule import is_stale, latest_due, parse_send_at, period_of, send_day

CAL = BusinessCalendar()
CN = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("kind", "day", "key", "start", "end"),
    [
        (ReportKind.daily_standup, date(2026, 10, 10), "2026-10-10", date(2026, 10, 10), date(2026, 10, 10)),
        (ReportKind.weekly, date(2026, 10, 1), "2026-W40", date(2026, 9, 28), date(2026, 10, 4)),
        (ReportKind.weekly, date(2027, 1, 1), "2026-W53", date(2026, 12, 28), date(2027, 1, 3)),
        (ReportKind.monthly, date(2026, 2, 14), "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        (ReportKind.quarterly, date(2026, 11, 3), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        (ReportKind.annual, date(2026, 6, 1), "2026", date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_periods_have_stable_keys(kind, day, key, start, end):
    p = period_of(kind, day)
    assert (p.key, p.start, p.end) == (key, start, end)


@pytest.mark.parametrize(
    ("kind", "day", "sent_on"),
    [
        (ReportKind.weekly, date(2026, 9, 16), date(2026, 9, 20)),  # the week ends on its make-up Sunday
        (ReportKind.weekly, date(2026, 9, 22), date(2026, 9, 24)),  # Fri Sep 25 is Mid-Autumn
        (ReportKind.weekly, date(2026, 10, 1), date(2026, 9, 30)),  # National Day from Thursday
        (ReportKind.weekly, date(2026, 10, 6), date(2026, 10, 10)),  # back on Thursday, make-up Saturday last
        (ReportKind.monthly, date(2026, 1, 5), date(2026, 1, 30)),  # Jan 31 is a Saturday
        (ReportKind.quarterly, date(2026, 11, 3), date(2026, 12, 31)),
        (ReportKind.daily_standup, date(2026, 10, 10), date(2026, 10, 10)),
        (ReportKind.daily_standup, date(2026, 10, 3), None),  # a holiday: no stand-up
    ],
)
def test_a_period_is_sent_on_its_last_working_day(kind, day, sent_on):
    assert send_day(CAL, period_of(kind, day)) == sent_on


def test_the_latest_due_period_is_the_last_one_whose_send_time_passed():
    at = time(17)
    assert latest_due(CAL, ReportKind.weekly, at, datetime(2026, 10, 10, 16, 59, tzinfo=CN))[0].key == "2026-W40"
    period, instant = latest_due(CAL, ReportKind.weekly, at, datetime(2026, 10, 10, 17, 0, tzinfo=CN))
    assert (period.key, instant) == ("2026-W41", datetime(2026, 10, 10, 17, 0, tzinfo=CN))
    # During the holiday the stand-up's latest due day is the last working day before it …
    standup, _ = latest_due(CAL, ReportKind.daily_standup, time(9), datetime(2026, 10, 5, 12, tzinfo=CN))
    assert standup.key == "2026-09-30"
    # … which is stale by then: it is not sent days late.
    assert is_stale(CAL, standup, datetime(2026, 10, 5, 12, tzinfo=CN))
    assert not is_stale(CAL, standup, datetime(2026, 9, 30, 23, 59, tzinfo=CN))


@pytest.mark.parametrize("text", ["9:00", "24:00", "09:60", "0900", "ab:cd", ""])
def test_a_time_of_day_is_hh_mm(text):
    with pytest.raises(ValueError):
        parse_send_at(text)
