"""A calendar's days as it sees them, and the official statutory schedule teams load into it: a
JSON list or an iCalendar file in, either out.

JSON: `[{"date": "2027-10-01", "working": false, "name": "国庆节"}, …]`.
iCalendar (RFC 5545, parsed and written with the `icalendar` package): one all-day VEVENT per day
or per run of days (`DTSTART;VALUE=DATE`, `DTEND` exclusive, or a whole-day `DURATION`); the
SUMMARY is the name. A VEVENT is a make-up workday when `X-CLOSELOOP-WORKING:TRUE` says so (FALSE:
a holiday); without that property, when its SUMMARY contains 班 (补班, 上班, 调休上班), as Chinese
holiday calendars usually mark a workday, and a holiday otherwise. 调休 alone decides nothing: it names
both the day off and the Saturday worked for it. Exports always carry the property.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import icalendar
from pydantic import TypeAdapter, ValidationError

from shared.calendar.core import BusinessCalendar
from shared.calendar.schemas import CalendarDayRead, ScheduleEntryCreate, ScheduleEntryRead
from shared.errors import FieldError, InvalidInput

MAX_ENTRIES = 2000  # a few years of days; an import is one year's announcement
MAX_EVENT_DAYS = 31
WORKING_PROPERTY = "X-CLOSELOOP-WORKING"
_ENTRIES = TypeAdapter(list[ScheduleEntryCreate])


class ImportMode(enum.StrEnum):
    merge = "merge"  # the imported days are set; other loaded days of those years stay
    # str.replace is shadowed on the enum class only; members are still plain strings.
    replace = "replace"  # type: ignore[assignment]  # the loaded days of the imported years are dropped first


def entries_from_json(raw: Any) -> list[ScheduleEntryCreate]:
    """Validated JSON entries; InvalidInput naming each bad one (`3.date`)."""
    if not isinstance(raw, list):
        raise InvalidInput.for_field("body", 'must be a list of {"date", "working", "name"} objects')
    try:
        entries = _ENTRIES.validate_python(raw)
    except ValidationError as exc:
        raise InvalidInput.for_fields(
            [FieldError(".".join(str(p) for p in err["loc"]), err["msg"], err["type"]) for err in exc.errors()]
        ) from None
    return _checked(entries, [f"{i}.date" for i in range(len(entries))])


def entries_from_ics(text: str) -> list[ScheduleEntryCreate]:
    """The days of an iCalendar file's all-day VEVENTs; InvalidInput naming the bad VEVENT."""
    try:
        parsed = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise InvalidInput.for_field("body", f"not an iCalendar file: {exc}") from None
    entries: list[ScheduleEntryCreate] = []
    fields: list[str] = []
    for i, event in enumerate(parsed.walk("VEVENT")):
        where = f"VEVENT[{i}]"
        first, days = _event_days(event, where)
        name = str(event.get("SUMMARY", "")).strip()[:120]
        working = _event_working(event, name, where)
        for n in range(days):
            try:
                entries.append(ScheduleEntryCreate(date=first + timedelta(days=n), working=working, name=name))
            except ValidationError as exc:
                raise InvalidInput.for_field(f"{where}.DTSTART", exc.errors()[0]["msg"]) from None
            fields.append(f"{where}.DTSTART")
    return _checked(entries, fields)


def _when(event: Any, key: str, where: str) -> Any:
    """A date-like property's value, or None; a malformed one is the VEVENT's fault, named."""
    prop = event.get(key)
    if isinstance(prop, list):  # the property given twice: which one was meant is anyone's guess
        raise InvalidInput.for_field(f"{where}.{key}", "must appear once")
    try:
        return None if prop is None else prop.dt
    except ValueError as exc:  # icalendar's BrokenCalendarProperty
        raise InvalidInput.for_field(f"{where}.{key}", f"not a valid value: {exc}") from None


def _event_days(event: Any, where: str) -> tuple[date, int]:
    first = _when(event, "DTSTART", where)
    if not isinstance(first, date) or isinstance(first, datetime):
        raise InvalidInput.for_field(f"{where}.DTSTART", "must be a date (an all-day event: DTSTART;VALUE=DATE)")
    end, td = _when(event, "DTEND", where), _when(event, "DURATION", where)
    if end is not None:
        if isinstance(end, datetime) or not isinstance(end, date):
            raise InvalidInput.for_field(f"{where}.DTEND", "must be a date like DTSTART")
        days = (end - first).days
    elif td is not None:
        if not isinstance(td, timedelta) or td.seconds or td.microseconds:
            raise InvalidInput.for_field(f"{where}.DURATION", "must be whole days (P1D)")
        days = td.days
    else:
        days = 1
    if not 1 <= days <= MAX_EVENT_DAYS:
        raise InvalidInput.for_field(f"{where}.DTEND", f"must be 1 to {MAX_EVENT_DAYS} days after DTSTART")
    return first, days


def _event_working(event: Any, summary: str, where: str) -> bool:
    flag = event.get(WORKING_PROPERTY)
    if flag is None:
        return "班" in summary
    value = str(flag).strip().upper()
    if value not in ("TRUE", "FALSE"):
        raise InvalidInput.for_field(f"{where}.{WORKING_PROPERTY}", "must be TRUE or FALSE")
    return value == "TRUE"


def _checked(entries: list[ScheduleEntryCreate], fields: list[str]) -> list[ScheduleEntryCreate]:
    if not entries:
        raise InvalidInput.for_field("body", "the schedule has no days")
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput.for_field("body", f"at most {MAX_ENTRIES} days per import")
    seen: set[date] = set()
    for entry, field in zip(entries, fields, strict=True):
        if entry.date in seen:
            raise InvalidInput.for_field(field, f"{entry.date} is listed twice")
        seen.add(entry.date)
    return entries


def merged_schedule(
    current: Mapping[str, Any], entries: Iterable[ScheduleEntryCreate], mode: ImportMode
) -> tuple[dict[str, Any], list[int], int]:
    """(the new stored schedule, the years the import covers, how many loaded days it dropped)."""
    entries = list(entries)
    years = sorted({e.date.year for e in entries})
    kept = dict(current)
    removed = 0
    if mode == ImportMode.replace:
        for key in [k for k in kept if int(k[:4]) in years]:
            del kept[key]
            removed += 1
    for e in entries:
        kept[e.date.isoformat()] = {"working": e.working, "name": e.name}
    return dict(sorted(kept.items())), years, removed


def stored_entries(schedule: Mapping[str, Any], year: int | None = None) -> list[ScheduleEntryRead]:
    """A stored schedule as entries, in date order (optionally one year's)."""
    return [
        ScheduleEntryRead(date=date.fromisoformat(k), working=v["working"], name=v.get("name", ""))
        for k, v in sorted(schedule.items())
        if year is None or int(k[:4]) == year
    ]


def to_ics(entries: Iterable[ScheduleEntryRead], *, calendar_name: str, now: datetime) -> str:
    """An iCalendar file of the entries that `entries_from_ics` reads back as they are."""
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//Closeloop//statutory schedule//EN")
    cal.add("VERSION", "2.0")
    cal.add("X-WR-CALNAME", calendar_name)
    for e in entries:
        event = icalendar.Event()
        event.add("UID", f"{e.date.isoformat()}-{'work' if e.working else 'off'}@closeloop")
        event.add("DTSTAMP", now)
        event.add("DTSTART", e.date)
        event.add("DTEND", e.date + timedelta(days=1))
        event.add("SUMMARY", e.name)
        event.add(WORKING_PROPERTY, "TRUE" if e.working else "FALSE")
        cal.add_component(event)
    return cal.to_ical().decode()


MAX_DAYS_SPAN = 400  # GET …/days: a bounded range, a little more than a year


class ExportFormat(enum.StrEnum):
    json = "json"
    ics = "ics"


def describe_days(cal: BusinessCalendar, first: date, last: date) -> list[CalendarDayRead]:
    """Each day from `first` to `last` (both included) as the calendar sees it."""
    out = []
    for n in range((last - first).days + 1):
        info = cal.describe_day(first + timedelta(days=n))
        out.append(
            CalendarDayRead(
                date=info.day,
                working=bool(info.intervals),
                hours=[[_hhmm(s), _hhmm(e)] for s, e in info.intervals],
                reason=info.reason,
                name=info.name,
                data=info.data,
            )
        )
    return out


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
