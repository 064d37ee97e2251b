"""Campaign commands and the campaign as the API shows it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from shared.models import CampaignStatus
from shared.schemas import ArchivableRead, ReadModel, WriteModel

Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=20_000)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
GOAL_DOC = (
    "the goal it serves; a campaign serving a quarterly goal (or one of its months) starts only once "
    "that quarterly plan is approved"
)


class CampaignCreate(WriteModel):
    name: Name
    description: Description | None = None
    owner_id: int | None = Field(default=None, description="defaults to the caller")
    department_id: int | None = Field(default=None, description="default: the caller's department")
    budget: Money | None = None
    is_major: bool = Field(default=False, description="a major campaign: approved by the leadership group (分级审批)")
    is_big_promotion: bool = Field(
        default=False,
        description="a big promotion (大促): owes an ROI estimate 15 calendar days before start_date; "
        "the planning gate waits for it",
    )
    goal_id: int | None = Field(default=None, description=GOAL_DOC)
    start_date: date | None = None
    end_date: date | None = None
    status: CampaignStatus = Field(
        default=CampaignStatus.draft,
        description="draft only: it leaves draft through its actions (changeCampaignState)",
    )
    template_key: str | None = Field(
        default=None, description="run on this workflow template (its current version): stages start at once"
    )
    stage_owners: dict[str, int] = Field(default={}, description="stage key → owner user id (default: the owner)")


class CampaignUpdate(WriteModel):
    name: Name | None = None
    description: Description | None = None
    owner_id: int | None = None
    department_id: int | None = None
    budget: Money | None = None
    is_major: bool | None = None
    is_big_promotion: bool | None = Field(
        default=None, description="flag (the owner or a manager) or unflag (a manager only) a big promotion"
    )
    goal_id: int | None = Field(default=None, description=GOAL_DOC)
    start_date: date | None = None
    end_date: date | None = None
    status: CampaignStatus | None = Field(
        default=None, description="not changed here (422): use the campaign's actions (changeCampaignState)"
    )


class CurrentStage(ReadModel):
    key: str
    name: str


class CampaignRead(ArchivableRead):
    id: int
    name: str
    description: str | None
    owner_id: int | None
    department_id: int | None
    budget: Decimal | None
    is_major: bool
    is_big_promotion: bool
    goal_id: int | None = Field(default=None, description="the goal the campaign serves")
    start_date: date | None
    end_date: date | None
    status: CampaignStatus
    template_id: int | None = Field(description="the workflow template version it runs on")
    current_stage: CurrentStage | None = Field(
        default=None, description="the workflow stage it is in; null before, after or without a workflow"
    )
    completed_at: datetime | None = Field(default=None, description="when its last stage's gate completed it")
    cycle_wd: float | None = Field(
        default=None, description="working days from its first stage's entry to completion, on the default calendar"
    )
    created_at: datetime
    updated_at: datetime
