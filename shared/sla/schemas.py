"""SLA read schemas: the timers every timed item embeds in its `XRead`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.calendar.schemas import CalendarWarning


class TargetRead(BaseModel):
    kind: str
    value: str


class TimerSummary(BaseModel):
    id: int
    policy_id: int | None
    state: str = Field(description="running | paused | met | cancelled")
    target: TargetRead
    started_at: datetime
    due_at: datetime
    remaining_s: float = Field(
        description="seconds left in the target's own kind (working seconds for working "
        "targets); negative once breached"
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
