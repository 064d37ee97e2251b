"""What the analytics endpoints answer: the filters applied, what each number means, and the rows."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class TaskGrouping(StrEnum):
    department = "department"
    assignee = "assignee"
    period = "period"


class AnalyticsFormat(StrEnum):
    json = "json"
    csv = "csv"


class AnalyticsFiltersRead(BaseModel):
    period: str = Field(description="the period's name: as given, or `from_to` for a from/to range")
    first_day: date = Field(description="its first local day")
    last_day: date = Field(description="its last local day (included)")
    timezone: str = Field(description="the company's time zone the days are read in")
    department_ids: list[int] = Field(description="empty: every department")
    template: str | None = Field(description="the template key, or null for every template")
    options: dict[str, Any] = Field(default_factory=dict, description="the endpoint's own parameters")


class AnalyticsRead(BaseModel):
    filters: AnalyticsFiltersRead
    definitions: dict[str, str] = Field(description="what each column counts, by column name")
    columns: list[str] = Field(description="the columns, in order (the CSV header)")
    rows: list[dict[str, Any]]
