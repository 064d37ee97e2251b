"""SLA schemas: the timers every timed item embeds in its `XRead`, and a deadline extension request."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from shared.calendar.schemas import CalendarWarning
from shared.schemas import WriteModel


class TargetRead(BaseModel):
    kind: str
    value: str


class TimerSummary(BaseModel):
    id: int
    policy_id: int | None
    state: str = Field(description="running | paused | met | cancelled")
    target: TargetRead = Field(
        description="what the deadline was computed from: the policy's (or the item's own) target — "
        "`calendar` / `working_hours` (ISO 8601 duration), `working_days` (a count), `daily_at` (a time of "
        "day) — or, when the item has its own due date overriding the policy, "
        '`{"kind": "due_at", "value": "<that instant, ISO 8601>"}`',
        examples=[
            {"kind": "working_hours", "value": "PT16H"},
            {"kind": "due_at", "value": "2026-11-23T10:00:00+08:00"},
        ],
    )
    started_at: datetime
    due_at: datetime = Field(description="the deadline now in force (moved on by any pause)")
    seconds_to_due: float | None = Field(
        description="wall-clock seconds from now to due_at, negative once it has passed: what a countdown shows. "
        "While paused: as it stood when the clock stopped (due_at moves when it resumes). Null once met or "
        "cancelled",
        examples=[15.0, -3600.0],
    )
    working_seconds_left: float | None = Field(
        description="working seconds on the timer's calendar between now and due_at, for every target kind; "
        "once due_at has passed, minus the working seconds since — so it stays 0 while a deadline passes "
        "outside working hours (a task due in 15 s on a Saturday shows 0 here and 15 in seconds_to_due). "
        "While paused: as it stood when the clock stopped. Null once met or cancelled",
        examples=[28800.0, 0.0, -7200.0],
    )
    remaining_s: float = Field(
        deprecated=True,
        description="deprecated: use seconds_to_due and working_seconds_left. What is left in the target's own "
        "kind: working seconds for working_hours / working_days targets (so 0 while outside working hours, "
        "even past the deadline), wall-clock seconds otherwise; negative once breached by that measure. While "
        "paused: what will be re-applied on resume (for working_days, the part beyond remaining_days whole "
        "days). 0 once met or cancelled",
    )
    remaining_days: int | None = Field(default=None, description="whole working days left (paused working_days)")
    breached: bool
    breached_at: datetime | None
    paused: bool
    paused_total_s: float
    met_at: datetime | None
    cancelled_at: datetime | None
    levels_fired: list[str] = Field(description='"level:repeat" keys already fired')
    next_fire_at: datetime | None
    warnings: list[CalendarWarning] = Field(
        default_factory=list,
        description="estimated_holidays: the span from start to due crosses a year whose statutory holidays are "
        "only estimated (no official schedule loaded), so the deadline may move",
    )


class ExtensionRequestCreate(WriteModel):
    """Ask for more time on a timed item (申请延期): exactly one of `extend_to` and `extend_by`."""

    subject_type: str = Field(
        max_length=64, description="a registered SLA subject type with a running timer (`task` …)"
    )
    subject_id: int
    extend_to: AwareDatetime | None = Field(default=None, description="the new deadline, later than the current one")
    extend_by: str | None = Field(
        default=None,
        max_length=32,
        description="working time on the item's calendar: `2d` (working days), `4h`, `30m`, `1d2h`; 天/小时/分钟 too",
        examples=["2d", "4h", "1d2h"],
    )
    reason: str = Field(max_length=2000, description="why more time is needed (required)")
