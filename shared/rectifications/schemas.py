"""What the rectifications API takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from shared.calendar import TargetKind
from shared.rectifications.models import RectificationSource, RectificationStatus
from shared.schemas import Instant, ReadModel, WriteModel
from shared.sla.schemas import TargetRead, TimerSummary

Title = Annotated[str, Field(min_length=1, max_length=300)]
Description = Annotated[str, Field(max_length=20_000)]
Text = Annotated[str, Field(max_length=20_000)]


class RectificationDeadline(WriteModel):
    kind: TargetKind = Field(description="calendar | working_hours | working_days | daily_at")
    value: Annotated[str, Field(max_length=32)] | int = Field(
        description="PT24H / PT8H for durations, a day count for working_days, HH:MM for daily_at"
    )


class RectificationCreate(WriteModel):
    title: Title = Field(description="a short title: the problem and the measure that fixes it")
    description: Description | None = None
    source: RectificationSource = Field(default=RectificationSource.free, description="where the problem was found")
    source_id: int | None = Field(default=None, description="the id of the variance, report, feedback … it came from")
    problem: Text | None = Field(default=None, description="the problem found")
    measure: Text | None = Field(default=None, description="the measure that fixes it")
    acceptance_criteria: Text | None = Field(default=None, description="how the verifier knows it is fixed")
    owner_id: int = Field(description="who carries the measure out")
    campaign_id: int | None = Field(default=None, description="the campaign it came from, if any")
    due_at: Instant | None = Field(default=None, description="overrides the SLA target (default 5 working days)")
    deadline: RectificationDeadline | None = Field(
        default=None, description="instead of `due_at`: its own SLA target of any kind, counted from creation"
    )


class RectificationUpdate(WriteModel):
    title: Title | None = None
    description: Description | None = None
    problem: Text | None = None
    measure: Text | None = None
    acceptance_criteria: Text | None = None
    owner_id: int | None = None
    due_at: Instant | None = None


class RectificationReopen(WriteModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)] = Field(description="why it is not fixed yet")


class RectificationRead(ReadModel):
    id: int
    title: str
    description: str | None
    owner_id: int | None
    campaign_id: int | None
    created_by: int | None
    source: RectificationSource
    source_id: int | None
    problem: str | None
    measure: str | None
    acceptance_criteria: str | None
    status: RectificationStatus
    due_at: datetime | None
    deadline: TargetRead | None = Field(default=None, description="its own SLA target, if any")
    done_at: datetime | None
    verified_at: datetime | None
    verified_by: int | None
    created_at: datetime
    updated_at: datetime
    sla: list[TimerSummary] = Field(default=[], description="the item's deadline timers (running, paused or met)")


class RectificationCounts(ReadModel):
    """A campaign's rectification items by status, and how many are overdue."""

    campaign_id: int
    open: int
    in_progress: int
    done: int
    verified: int
    overdue: int
