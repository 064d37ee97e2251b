"""What the report API takes and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field

from shared.reports.models import ReportKind, ReportScope
from shared.schemas import ArchivableRead, ReadModel, WriteModel

Name = Annotated[str, Field(min_length=1, max_length=200)]
SendAt = Annotated[str, Field(description="local time of day on the calendar, `HH:MM` (24 h)", examples=["09:00"])]
Locale = Annotated[str, Field(pattern=r"^(zh-CN|en-US)$")]
KIND_DOC = (
    "`daily_standup`: every working day (make-up workdays included, holidays skipped); `weekly`, `monthly`, "
    "`quarterly`, `annual`: on the period's last working day — all at `send_at` on the schedule's calendar"
)


class ReportScheduleCreate(WriteModel):
    name: Name
    kind: ReportKind = Field(description=KIND_DOC)
    scope: ReportScope = Field(
        description="`company`, `department` (with `department_id`) or `campaign` (with `campaign_id`)"
    )
    department_id: int | None = None
    campaign_id: int | None = None
    channel_ids: list[int] = Field(min_length=1, max_length=20, description="the chat channels the card goes to")
    send_at: SendAt = "09:00"
    calendar_id: int | None = Field(default=None, description="the working calendar; default: the default calendar")
    locale: Locale = "zh-CN"
    enabled: bool = True


class ReportScheduleUpdate(WriteModel):
    name: Name | None = None
    channel_ids: list[int] | None = Field(default=None, min_length=1, max_length=20)
    send_at: SendAt | None = None
    calendar_id: int | None = None
    locale: Locale | None = None
    enabled: bool | None = None


class ReportScheduleRead(ArchivableRead):
    id: int
    name: str
    kind: ReportKind
    scope: ReportScope
    department_id: int | None
    campaign_id: int | None
    channel_ids: list[int]
    send_at: str
    calendar_id: int | None
    locale: str
    enabled: bool
    active_from: datetime = Field(description="periods due before this are never produced (no back-fill)")
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class ReportRead(ReadModel):
    id: int
    schedule_id: int | None
    kind: ReportKind
    scope: ReportScope
    department_id: int | None
    campaign_id: int | None
    period_key: str = Field(examples=["2026-10-10", "2026-W41", "2026-10", "2026-Q4", "2026"])
    period_start: date
    period_end: date
    produced_at: datetime
    snapshot: dict[str, Any] = Field(description="the report as built: `headline` and its sections")


class ReportSummary(ReadModel):
    id: int
    schedule_id: int | None
    kind: ReportKind
    scope: ReportScope
    department_id: int | None
    campaign_id: int | None
    period_key: str
    period_start: date
    period_end: date
    produced_at: datetime


class ReportRun(ReadModel):
    report: ReportSummary
    created: bool = Field(description="false: this period's report existed already (nothing was sent again)")
