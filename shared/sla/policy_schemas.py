"""Working calendars, escalation policies and SLA policies: the commands `shared.sla.policies`
accepts and what the API returns; plus the read schemas of timer boards and escalation history.
(`shared.sla.schemas` holds the timer summaries every timed item embeds in its `XRead`.)"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonDict

from shared.calendar.schemas import CalendarWarning
from shared.models import EscalationKind
from shared.schemas import ReadModel, WriteModel
from shared.sla import registry
from shared.sla.schemas import TimerSummary
from shared.tasks.sla import TaskSubject

Name = Annotated[str, Field(min_length=1, max_length=120)]
Description = Annotated[str, Field(max_length=2000)]
Interval = Annotated[list[str], Field(min_length=2, max_length=2, examples=[["09:00", "18:00"]])]
Intervals = list[Interval]
StatusList = Annotated[list[Annotated[str, Field(min_length=1, max_length=32)]], Field(max_length=20)]


# ---- calendars -----------------------------------------------------------------------------------
class CalendarCreate(WriteModel):
    """The shape of the `calendars` objects in the SLA vectors file, plus a name."""

    name: Name
    timezone: str = "Asia/Shanghai"
    holiday_country: Annotated[str, Field(max_length=8)] | None = Field(
        default="CN", description="country code for statutory holidays and make-up workdays (`holidays` package)"
    )
    weekly_hours: dict[str, Intervals] = Field(
        default_factory=lambda: {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        description="mon…sun → [[start, end], …] local time, half-open",
    )
    workday_hours: Intervals = Field(
        default_factory=lambda: [["09:00", "18:00"]], description="hours of a make-up workday (调休)"
    )
    overrides: dict[str, Literal["off"] | Intervals] = Field(
        default_factory=dict, description='YYYY-MM-DD → "off" or intervals; wins over everything'
    )
    is_default: bool = False


class CalendarUpdate(WriteModel):
    name: Name | None = None
    timezone: str | None = None
    holiday_country: Annotated[str, Field(max_length=8)] | None = None
    weekly_hours: dict[str, Intervals] | None = None
    workday_hours: Intervals | None = None
    overrides: dict[str, Literal["off"] | Intervals] | None = None
    is_default: bool | None = None


class CalendarRead(ReadModel):
    id: int
    name: str
    timezone: str
    holiday_country: str | None
    weekly_hours: dict[str, Any]
    workday_hours: list[Any]
    overrides: dict[str, Any]
    loaded_years: list[int] = Field(
        description="years whose announced statutory schedule was loaded (overrides:import): official for this calendar"
    )
    is_default: bool
    created_at: datetime
    updated_at: datetime


class DeadlineRead(BaseModel):
    due: datetime = Field(description="ISO-8601 in the calendar's timezone")
    warnings: list[CalendarWarning] = Field(
        default_factory=list,
        description="estimated_holidays: the span from start to due crosses a year whose statutory holidays are "
        "only estimated (no official schedule loaded), so the deadline may move; calendar-time targets never warn",
    )


# ---- escalation policies -------------------------------------------------------------------------
class EscalationLevel(WriteModel):
    """One level; the offsets, recipients and repeats are checked by `shared.sla.levels`."""

    offset: str = Field(
        description="-20% or -PT2H (warning), 0 (breach), +PT24H (after breach)", examples=["-20%", "0", "+PT24H"]
    )
    calendar: bool = Field(default=False, description="offsets and repeats in calendar time even for working targets")
    recipients: list[str] = Field(
        default=[],
        description="assignee, assignee_manager, director, department_head, campaign_owner, user:<id>, channel:<id>",
    )
    channels: list[int] = Field(default=[], description="deliver only to these channels (default: route by department)")
    repeat_every: str | None = Field(default=None, examples=["PT4H"])
    max_repeats: int | None = None


Levels = Annotated[list[EscalationLevel], Field(min_length=1, max_length=20)]


class EscalationPolicyCreate(WriteModel):
    name: Name
    description: Description | None = None
    levels: Levels


class EscalationPolicyUpdate(WriteModel):
    name: Name | None = None
    description: Description | None = None
    levels: Levels | None = None


class EscalationPolicyRead(ReadModel):
    id: int
    name: str
    description: str | None
    levels: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


# ---- SLA policies --------------------------------------------------------------------------------
class Conditions(WriteModel):
    priorities: list[str] | None = None
    department_ids: list[int] | None = None
    campaign_ids: list[int] | None = None
    tags: list[str] | None = None


def _describe_subject_types(schema: JsonDict) -> None:
    # When the schema is generated, not when this module is imported: by then every domain has
    # registered its subject types.
    schema["description"] = "a registered subject type: " + ", ".join(registry.names())


class SlaPolicyCreate(WriteModel):
    name: Name
    description: Description | None = None
    subject_type: str = Field(default=TaskSubject.task, json_schema_extra=_describe_subject_types)
    enabled: bool = True
    conditions: Conditions = Field(default_factory=Conditions, description="empty matches every subject")
    target_kind: str = Field(description="calendar | working_hours | working_days | daily_at")
    target_value: str = Field(description="PT24H, 2, 17:00 …")
    calendar_id: int | None = Field(default=None, description="default: the default calendar")
    start_statuses: StatusList | None = None
    pause_statuses: StatusList | None = None
    stop_statuses: StatusList | None = None
    cancel_statuses: StatusList | None = None
    escalation_policy_id: int | None = None


class SlaPolicyUpdate(WriteModel):
    name: Name | None = None
    description: Description | None = None
    enabled: bool | None = None
    conditions: Conditions | None = None
    target_kind: str | None = None
    target_value: str | None = None
    calendar_id: int | None = None
    start_statuses: StatusList | None = None
    pause_statuses: StatusList | None = None
    stop_statuses: StatusList | None = None
    cancel_statuses: StatusList | None = None
    escalation_policy_id: int | None = None


class SlaPolicyRead(ReadModel):
    id: int
    name: str
    description: str | None
    subject_type: str
    enabled: bool
    conditions: dict[str, Any]
    target_kind: str
    target_value: str
    calendar_id: int | None
    start_statuses: list[str]
    pause_statuses: list[str]
    stop_statuses: list[str]
    cancel_statuses: list[str]
    escalation_policy_id: int | None
    created_at: datetime
    updated_at: datetime


# ---- timers and escalations (read) ---------------------------------------------------------------
class EscalationRead(ReadModel):
    id: int
    timer_id: int
    subject_type: str
    subject_id: int
    level: int = Field(description="-1 is the resolved notice")
    repeat: int
    kind: EscalationKind
    scheduled_at: datetime
    fired_at: datetime
    late_by_s: float = Field(
        description="how late the worker fired it: seconds from when it could first have fired (scheduled_at, "
        "or when the timer was set if that came later: an item created overdue, a due date moved into the past) "
        "to fired_at"
    )
    recipients: list[dict[str, Any]]
    notes: list[str] = Field(description="fallbacks taken and anything that could not be routed")
    suppressed: bool = Field(
        description="recorded, not sent: several firings were due at once (after the worker was down, or on an "
        "item created overdue or moved into the past) and another firing of the level, or the breach, spoke for it"
    )
    notification_count: int


class TimerRead(TimerSummary):
    subject_type: str
    subject_id: int
    subject_title: str | None = Field(description="the item's title; null if the item no longer exists")
    subject_path: str | None = Field(
        description="the item in the API, e.g. /api/v1/tasks/7; null if the item no longer exists"
    )
    department_id: int | None
    cancel_reason: str | None
