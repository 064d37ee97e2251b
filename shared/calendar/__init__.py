"""Working calendars and deadline arithmetic (the contract: docs/sla-semantics.md)."""

from shared.calendar.core import (
    BusinessCalendar,
    CalendarError,
    NoWorkingTime,
    Target,
    TargetKind,
    parse_duration,
)

__all__ = ["BusinessCalendar", "CalendarError", "NoWorkingTime", "Target", "TargetKind", "parse_duration"]
