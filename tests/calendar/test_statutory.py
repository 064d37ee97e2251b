"""Which years of statutory data are official, read from the installed `holidays` package, and a
loaded schedule taking over its year."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import holidays

from shared.calendar import BusinessCalendar, Target
from shared.calendar.core import DayReason
from shared.calendar.statutory import DataQuality, package_quality

NATIONAL_DAY_2027 = json.loads((Path(__file__).resolve().parents[1] / "data" / "cn_2027_national_day.json").read_text())
LOADED = {e["date"]: {"working": e["working"], "name": e["name"]} for e in NATIONAL_DAY_2027}


def _makeup_days(year: int) -> list[date]:
    return [d for d in holidays.country_holidays("CN", years=year).weekend_workdays if d.year == year]


def test_cn_2026_is_official_and_2027_is_estimated_in_the_installed_package():
    assert package_quality("CN", 2026) == DataQuality.official
    assert package_quality("CN", 2027) == DataQuality.estimated
    # What the signal stands for, checked against the package itself: 2026 comes with its announced
    # make-up workdays (调休), 2027 has none — only rule-computed holidays.
    assert date(2026, 9, 20) in _makeup_days(2026)
    assert _makeup_days(2027) == []
    assert all(package_quality("CN", year) == DataQuality.official for year in range(2001, 2027))


def test_countries_with_standing_rules_are_official_every_year():
    assert package_quality("DE", 2030) == DataQuality.official
    assert BusinessCalendar(holiday_country=None).statutory_data(2040) == DataQuality.official


def test_a_loaded_schedule_replaces_the_package_for_its_year_only():
    estimated = BusinessCalendar()
    loaded = BusinessCalendar.from_json({"schedule": LOADED})
    assert estimated.statutory_data(2027) == DataQuality.estimated
    assert loaded.statutory_data(2027) == DataQuality.official
    start = datetime.fromisoformat("2027-09-30T10:00:00+08:00")
    two_days = Target.parse("working_days", 2)
    # The package's guess: Oct 1–5 off, no make-up Saturday. The announcement: Oct 1–7 off, Sat Oct 9 worked.
    assert estimated.deadline(start, two_days) == datetime.fromisoformat("2027-10-07T10:00:00+08:00")
    assert loaded.deadline(start, two_days) == datetime.fromisoformat("2027-10-09T10:00:00+08:00")
    saturday = loaded.describe_day(date(2027, 10, 9))
    assert (saturday.reason, saturday.name, saturday.intervals) == (
        DayReason.makeup_workday,
        "国庆节调休上班",
        ((540, 1080),),
    )
    # A day the package guessed off but the announcement does not list follows the weekly hours.
    assert estimated.describe_day(date(2027, 2, 10)).reason == DayReason.statutory_holiday
    assert loaded.describe_day(date(2027, 2, 10)).reason == DayReason.workday
    # Other years keep the package's data.
    assert loaded.describe_day(date(2026, 10, 1)).reason == DayReason.statutory_holiday


def test_an_override_still_wins_over_a_loaded_schedule():
    cal = BusinessCalendar.from_json({"schedule": LOADED, "overrides": {"2027-10-09": "off"}})
    day = cal.describe_day(date(2027, 10, 9))
    assert (day.reason, day.intervals) == (DayReason.override, ())


def test_warnings_name_each_estimated_year_of_a_span():
    cal = BusinessCalendar()
    start = datetime.fromisoformat("2026-12-30T10:00:00+08:00")
    assert [w["year"] for w in cal.estimate_warnings(start, datetime.fromisoformat("2027-01-05T10:00:00+08:00"))] == [
        2027
    ]
    assert cal.estimate_warnings(start, datetime.fromisoformat("2026-12-31T10:00:00+08:00")) == []
    assert (
        BusinessCalendar.from_json({"schedule": LOADED}).estimate_warnings(
            start, datetime.fromisoformat("2027-10-09T10:00:00+08:00")
        )
        == []
    )
