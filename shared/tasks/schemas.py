"""Task commands and the task as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, computed_field

from shared.models import Priority, TaskStatus
from shared.schemas import ArchivableRead, Instant, WriteModel
from shared.sla.schemas import TimerSummary

Title = Annotated[str, Field(min_length=1, max_length=300)]
Description = Annotated[str, Field(max_length=20_000)]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=20)]


class TaskCreate(WriteModel):
    title: Title
    description: Description | None = None
    campaign_id: int | None = None
    stage_id: int | None = Field(default=None, description="a stage of the campaign (the campaign follows from it)")
    assignee_id: int | None = None
    priority: Priority = Priority.normal
    status: TaskStatus = TaskStatus.todo
    due_at: Instant | None = Field(default=None, description="ISO-8601 with offset; overrides the SLA target")
    tags: Tags = []


class TaskUpdate(WriteModel):
    title: Title | None = None
    description: Description | None = None
    campaign_id: int | None = None
    stage_id: int | None = None
    assignee_id: int | None = None
    priority: Priority | None = None
    status: TaskStatus | None = None
    due_at: Instant | None = None
    tags: Tags | None = None


class TaskRead(ArchivableRead):
    id: int
    title: str
    description: str | None
    campaign_id: int | None
    stage_id: int | None
    assignee_id: int | None
    reporter_id: int | None
    status: TaskStatus
    priority: Priority
    due_at: datetime | None
    completed_at: datetime | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    sla: list[TimerSummary] = Field(default=[], description="the task's SLA timers (running, paused or met)")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_open(self) -> bool:
        return self.status.is_open
