"""Workflow template and campaign stage commands, and how the API shows templates and stages.

A template's `stages` stay plain JSON here: `shared.workflow.spec` validates them, its errors
naming the stage and field (`stages[2].time_limit.value`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from shared.models import OpenTasksAtCompletion, StageStatus
from shared.schemas import ReadModel, WriteModel
from shared.sla.schemas import TimerSummary

Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=5000)]


# ---- templates -----------------------------------------------------------------------------------
class TemplateCreate(WriteModel):
    key: Annotated[str, Field(min_length=1, max_length=64, description="lower_snake_case; stable across versions")]
    name: Name
    name_en: Name | None = None
    description: Description | None = None
    stages: list[dict[str, Any]] = Field(
        description="ordered stages: {key, name, name_en?, owner_role?, inputs?, deliverables?: [{key, name}], "
        "time_limit?: {kind, value}, checklist?: [{key, text, derived?: review_on_time}], "
        "requires?: review|approval, requires_approval_to_enter?: bool, requires_roi_estimate?: bool}"
    )
    open_tasks_at_completion: OpenTasksAtCompletion = Field(
        default=OpenTasksAtCompletion.wait,
        description="the last gate waits for the campaign's open tasks (409 listing them), or cancels them",
    )


class TemplateVersionCreate(WriteModel):
    """A new version of a template: the fields given replace the current version's (left out or
    null: kept)."""

    name: Name | None = None
    name_en: Name | None = None
    description: Description | None = None
    stages: list[dict[str, Any]] | None = None
    open_tasks_at_completion: OpenTasksAtCompletion | None = None


class TemplateRead(ReadModel):
    id: int
    key: str
    version: int
    is_current: bool
    name: str
    name_en: str | None
    description: str | None
    stages: list[dict[str, Any]]
    open_tasks_at_completion: OpenTasksAtCompletion
    created_at: datetime


# ---- stages --------------------------------------------------------------------------------------
class StageUpdate(WriteModel):
    owner_id: int | None = Field(description="the stage owner (escalations follow their chain)")


class DeliverableCreate(WriteModel):
    title: Annotated[str, Field(min_length=1, max_length=300)]
    url: Annotated[str, Field(max_length=2048)] | None = None
    kind: Annotated[str, Field(max_length=32)] | None = None
    deliverable_key: str | None = Field(default=None, description="the required deliverable this satisfies")


class ChecklistTick(WriteModel):
    done: bool = True
    note: Annotated[str, Field(max_length=2000)] | None = None
    waive: bool = Field(
        default=False,
        description="a derived item cannot be ticked; a manager may waive it (with a note saying why) "
        "so the gate lets it pass although the data says it was not met",
    )


class DeliverableRead(ReadModel):
    id: int
    deliverable_key: str | None
    title: str
    url: str | None
    kind: str | None
    added_by: int | None
    added_at: datetime


class StageRead(ReadModel):
    id: int
    key: str
    position: int
    name: str
    name_en: str | None
    owner_id: int | None
    status: StageStatus
    spec: dict[str, Any] = Field(description="the template's stage as it was when the campaign started")
    checklist: dict[str, Any] = Field(
        description="each item's state; a derived item shows {done, derived, why} computed from data "
        "(and `waived` when a manager let it pass)"
    )
    deliverables: list[DeliverableRead]
    entered_at: datetime | None
    exited_at: datetime | None
    cycle_s: float | None = Field(description="calendar seconds spent in the stage (so far, if active)")
    cycle_wd: float | None = Field(
        description="working days spent in the stage on its calendar, stored once it is left (shared.workflow.cycle)"
    )
    limit_wd: float | None = Field(description="its time limit in working days, stored at entry (null: no limit)")
    gate_unmet: list[dict[str, str]] = Field(description="what still blocks leaving the stage")
    sla: list[TimerSummary] = Field(description="the stage's SLA timers")


class AdvanceRead(ReadModel):
    left: StageRead
    entered: StageRead | None
