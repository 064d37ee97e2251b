"""Working-calendar schemas: days as a calendar sees them, warnings about estimated statutory data,
and the entries of an official statutory schedule (what `overrides:import` takes and `:export` gives)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.calendar.core import DayReason
from shared.calendar.statutory import DataQuality, WarningCode
from shared.schemas import WriteModel


def _in_service_range(value: dt.date) -> dt.date:
    if not dt.date(2000, 1, 1) <= value < dt.date(2100, 1, 1):
        raise ValueError("must lie between 2000-01-01 and 2099-12-31")
    return value


ServiceDate = Annotated[dt.date, AfterValidator(_in_service_range)]


class CalendarWarning(BaseModel):
    code: WarningCode
    year: int
    message: str


class CalendarDayRead(BaseModel):
    date: dt.date
    working: bool
    hours: list[list[str]] = Field(description='the working intervals, e.g. [["09:00", "18:00"]]')
    reason: DayReason = Field(
        description="override (a per-date override) > statutory_holiday / makeup_workday (the year's statutory "
        "schedule: the loaded one, else the holidays package's) > weekend / workday (the weekly hours)"
    )
    name: str | None = Field(description="the holiday's or make-up workday's name, when known")
    data: DataQuality = Field(
        description="official: the year's statutory schedule is the announced one (in the package or loaded); "
        "estimated: the package's guess"
    )


class CalendarDaysRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    calendar_id: int
    from_: dt.date = Field(alias="from")
    to: dt.date
    days: list[CalendarDayRead]


class ScheduleEntryCreate(WriteModel):
    """One day of an announced statutory schedule: a holiday, or a make-up workday (调休上班)."""

    date: ServiceDate
    working: bool = Field(description="true: a make-up workday (the calendar's workday_hours); false: a holiday")
    name: Annotated[str, Field(max_length=120)] = ""


class ScheduleEntryRead(BaseModel):
    date: dt.date
    working: bool
    name: str


class ScheduleImportRead(BaseModel):
    calendar_id: int
    mode: Literal["merge", "replace"]
    years: list[int] = Field(description="the years now loaded from the import (their data is official)")
    imported: int = Field(description="entries in the import")
    removed: int = Field(description="loaded entries of those years dropped (replace mode)")
