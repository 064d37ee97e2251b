"""Reading and writing an announced statutory schedule: JSON lists and iCalendar files."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.calendar.schedule import ImportMode, entries_from_ics, entries_from_json, merged_schedule, to_ics
from shared.calendar.schemas import ScheduleEntryCreate, ScheduleEntryRead
from shared.errors import InvalidInput


def _ics(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e}END:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//gov//holidays//ZH\r\n{body}END:VCALENDAR\r\n"


def test_a_multi_day_event_is_one_entry_per_day_and_ban_marks_a_workday():
    entries = entries_from_ics(
        _ics(
            "DTSTART;VALUE=DATE:20271001\r\nDTEND;VALUE=DATE:20271008\r\nSUMMARY:国庆节\r\n",
            "DTSTART;VALUE=DATE:20270926\r\nSUMMARY:国庆节 补班\r\n",
            "DTSTART;VALUE=DATE:20271009\r\nSUMMARY:国庆调休\r\nX-CLOSELOOP-WORKING:TRUE\r\n",
            "DTSTART;VALUE=DATE:20270214\r\nDURATION:P2D\r\nSUMMARY:休息日（由 2027-02-20 调休）\r\n",
        )
    )
    by_day = {e.date: (e.working, e.name) for e in entries}
    assert len(entries) == 7 + 1 + 1 + 2
    assert by_day[date(2027, 10, 7)] == (False, "国庆节")
    assert by_day[date(2027, 9, 26)] == (True, "国庆节 补班")
    assert by_day[date(2027, 10, 9)] == (True, "国庆调休")
    assert by_day[date(2027, 2, 15)] == (False, "休息日（由 2027-02-20 调休）")  # 调休 alone decides nothing


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ("DTSTART:20271001T090000\r\nSUMMARY:x\r\n", "VEVENT[1].DTSTART"),
        ("SUMMARY:no start\r\n", "VEVENT[1].DTSTART"),
        ("DTSTART;VALUE=DATE:20271001\r\nDTEND;VALUE=DATE:20271001\r\n", "VEVENT[1].DTEND"),
        ("DTSTART;VALUE=DATE:20271001\r\nX-CLOSELOOP-WORKING:maybe\r\n", "VEVENT[1].X-CLOSELOOP-WORKING"),
        ("DTSTART;VALUE=DATE:20270926\r\nSUMMARY:again\r\n", "VEVENT[1].DTSTART"),  # listed twice
        ("DTSTART;VALUE=DATE:2027\r\n", "VEVENT[1].DTSTART"),  # malformed
        ("DTSTART;VALUE=DATE:18001001\r\n", "VEVENT[1].DTSTART"),  # outside the service range
        ("DTSTART;VALUE=DATE:20271001\r\nDTEND:soon\r\n", "VEVENT[1].DTEND"),
        ("DTSTART;VALUE=DATE:20271001\r\nDURATION:PT8H\r\n", "VEVENT[1].DURATION"),
    ],
)
def test_a_bad_vevent_is_named(event, field):
    with pytest.raises(InvalidInput) as exc:
        entries_from_ics(_ics("DTSTART;VALUE=DATE:20270926\r\nSUMMARY:补班\r\n", event))
    assert exc.value.errors[0].field == field


def test_bad_json_entries_are_named_all_at_once():
    with pytest.raises(InvalidInput) as exc:
        entries_from_json(
            [
                {"date": "2027-10-01", "working": False},
                {"date": "2027-13-01", "working": False},
                {"date": "2027-10-03", "working": "sometimes"},
                {"date": "2027-10-04", "working": False, "colour": "red"},
            ]
        )
    assert [e.field for e in exc.value.errors] == ["1.date", "2.working", "3.colour"]
    with pytest.raises(InvalidInput) as exc:
        entries_from_json([{"date": "2027-10-01", "working": False}, {"date": "2027-10-01", "working": True}])
    assert exc.value.errors[0].field == "1.date"


def test_ics_export_reads_back_as_it_was():
    entries = [
        ScheduleEntryRead(date=date(2027, 9, 26), working=True, name="国庆节调休上班"),
        ScheduleEntryRead(date=date(2027, 10, 1), working=False, name='国庆节, "National Day"; 长假'),
    ]
    text = to_ics(entries, calendar_name="中国大陆", now=datetime(2026, 12, 3, tzinfo=UTC))
    assert [ScheduleEntryRead(**e.model_dump()) for e in entries_from_ics(text)] == entries


def test_replace_drops_the_loaded_days_of_the_imported_years_only():
    current = {"2026-10-01": {"working": False, "name": "a"}, "2027-05-01": {"working": False, "name": "b"}}
    new = [ScheduleEntryCreate(date=date(2027, 10, 1), working=False, name="国庆节")]
    merged, years, removed = merged_schedule(current, new, ImportMode.merge)
    assert sorted(merged) == ["2026-10-01", "2027-05-01", "2027-10-01"] and years == [2027] and removed == 0
    replaced, _, removed = merged_schedule(current, new, ImportMode.replace)
    assert sorted(replaced) == ["2026-10-01", "2027-10-01"] and removed == 1


_LINES = [
    "BEGIN:VCALENDAR",
    "END:VCALENDAR",
    "BEGIN:VEVENT",
    "END:VEVENT",
    "VERSION:2.0",
    "DTSTART;VALUE=DATE:20271001",
    "DTSTART:20271001T090000Z",
    "DTSTART;VALUE=DATE:1",
    "DTEND;VALUE=DATE:20271003",
    "DTEND;VALUE=DATE:20260101",
    "DURATION:P2D",
    "DURATION:-P1D",
    "SUMMARY:补班",
    "X-CLOSELOOP-WORKING:TRUE",
    "X-CLOSELOOP-WORKING:",
    " folded",
    "garbage",
]


@given(st.lists(st.sampled_from(_LINES), max_size=12))
def test_any_ics_text_is_read_or_refused_naming_a_field(lines):
    try:
        entries_from_ics("\r\n".join(lines) + "\r\n")
    except InvalidInput as exc:
        assert exc.errors and exc.errors[0].field
