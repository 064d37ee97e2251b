"""What the rectifications API takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from shared.rectifications.models import RectificationStatus
from shared.schemas import Instant, ReadModel, WriteModel
from shared.sla.schemas import TimerSummary

Title = Annotated[str, Field(min_length=1, max_length=300)]
Description = Annotated[str, Field(max_length=20_000)]


class RectificationCreate(WriteModel):
    title: Title = Field(description="the problem and the measure that fixes it")
    description: Description | None = None
    owner_id: int = Field(description="who carries the measure out")
    campaign_id: int | None = Field(default=None, description="the campaign it came from, if any")
    due_at: Instant | None = Field(default=None, description="overrides the SLA target (default 5 working days)")


class RectificationUpdate(WriteModel):
    title: Title | None = None
    description: Description | None = None
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
    status: RectificationStatus
    due_at: datetime | None
    done_at: datetime | None
    verified_at: datetime | None
    verified_by: int | None
    created_at: datetime
    updated_at: datetime
    sla: list[TimerSummary] = Field(default=[], description="the item's deadline timers (running, paused or met)")
