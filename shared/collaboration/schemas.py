"""Collaboration requests: the commands the service takes and what the API returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from shared.calendar import TargetKind
from shared.models import CollaborationStatus, OccurrenceStatus
from shared.schemas import ReadModel, WriteModel
from shared.sla.schemas import TargetRead, TimerSummary

Matter = Annotated[str, Field(min_length=1, max_length=300)]
Content = Annotated[str, Field(max_length=20_000)]
RECENT_OCCURRENCES = 30  # a request's detail view shows this many of its occurrences


# ---- commands --------------------------------------------------------------------------------------
class CollaborationDeadline(WriteModel):
    kind: TargetKind = Field(description="calendar | working_hours | working_days | daily_at (recurring)")
    value: Annotated[str, Field(max_length=32)] | int = Field(
        description="PT24H / PT8H for durations, a day count for working_days, HH:MM for daily_at"
    )


class CollaborationCreate(WriteModel):
    matter: Matter
    content: Content | None = None
    initiating_department_id: int | None = Field(default=None, description="default: the caller's department")
    collaborating_department_ids: list[int] = Field(max_length=50, description="non-empty, distinct")
    owner_id: int = Field(description="who owes the answer (an active user)")
    campaign_id: int | None = None
    calendar_id: int | None = Field(default=None, description="default: the default calendar")
    deadline: CollaborationDeadline = Field(
        description="the feedback deadline; `daily_at` makes the request recurring: one occurrence per working day"
    )


class CollaborationUpdate(WriteModel):
    matter: Matter | None = None
    content: Content | None = None
    owner_id: int | None = Field(default=None, description="open occurrences' timers follow the new owner")


class OccurrenceCompletion(WriteModel):
    note: Content | None = None


# ---- reads -----------------------------------------------------------------------------------------
class OccurrenceRead(ReadModel):
    id: int
    request_id: int
    occurrence_date: date = Field(description="the working day it belongs to")
    status: OccurrenceStatus
    opened_at: datetime
    due_at: datetime
    done_at: datetime | None
    done_by: int | None
    note: str | None
    sla: list[TimerSummary] = Field(default=[], description="the occurrence's SLA timers")


class CollaborationRead(ReadModel):
    id: int
    matter: str
    content: str | None
    initiating_department_id: int | None
    collaborating_department_ids: list[int]
    owner_id: int | None
    requester_id: int | None
    campaign_id: int | None
    calendar_id: int | None
    deadline: TargetRead
    recurring: bool
    status: CollaborationStatus
    next_occurrence_at: datetime | None = Field(description="recurring: when the next working day's occurrence opens")
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CollaborationDetailRead(CollaborationRead):
    occurrences: list[OccurrenceRead] = Field(description=f"the {RECENT_OCCURRENCES} most recent, newest first")
