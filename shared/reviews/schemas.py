"""Cross-department reviews: the commands the service takes and what the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from shared.models import ResponseStatus, ReviewDecision, ReviewStatus
from shared.schemas import ReadModel, WriteModel
from shared.sla.schemas import TimerSummary

Ids = Annotated[list[int], Field(max_length=50)]
Comment = Annotated[str, Field(max_length=20_000)]


# ---- commands --------------------------------------------------------------------------------------
class ResponseTarget(WriteModel):
    kind: str = Field(description="calendar | working_hours | working_days")
    value: str = Field(description="e.g. PT24H, PT8H, 1")


class ReviewCreate(WriteModel):
    title: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[str, Field(max_length=20_000)] | None = None
    campaign_id: int | None = Field(default=None, description="with `stage_key`: the campaign stage under review")
    stage_key: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    deliverable_id: int | None = Field(default=None, description="a deliverable attached to that stage")
    reviewer_department_ids: Ids = Field(default=[], description="departments asked (anyone in it may answer)")
    reviewer_user_ids: Ids = Field(default=[], description="people asked by name")
    response_target: ResponseTarget | None = Field(
        default=None, description="each reviewer's feedback deadline; default 24 h calendar time"
    )


class ReviewAnswer(WriteModel):
    decision: ReviewDecision
    comment: Comment | None = Field(default=None, description="required to request changes or reject")


class ReviewResubmission(WriteModel):
    note: Comment | None = Field(default=None, description="what changed since the last round")


class ReviewCancellation(WriteModel):
    reason: Comment | None = None


# ---- reads -----------------------------------------------------------------------------------------
class ResponseRead(ReadModel):
    id: int
    department_id: int | None
    user_id: int | None
    status: ResponseStatus
    decision: ReviewDecision | None
    comment: str | None
    requested_at: datetime
    answered_by: int | None
    answered_at: datetime | None
    sla: list[TimerSummary] = Field(default=[], description="this reviewer's feedback timer")


class RoundRead(ReadModel):
    round: int
    responses: list[ResponseRead]


class ReviewRead(ReadModel):
    id: int
    title: str
    description: str | None
    campaign_id: int | None
    stage_id: int | None
    deliverable_id: int | None
    requester_id: int | None
    department_id: int | None
    status: ReviewStatus
    round: int = Field(description="the current round")
    reviewers: list[dict[str, Any]]
    response_target: dict[str, Any]
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    rounds: list[RoundRead] = Field(default=[], description="every round, oldest first, with each answer")
    sla: list[TimerSummary] = Field(default=[], description="the whole review's timers (and the resubmission's)")
