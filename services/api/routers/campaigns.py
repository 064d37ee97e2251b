"""Campaigns."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import Field
from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, ReadModel, WriteModel, page_out, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from shared import crud
from shared.campaigns import service as campaigns
from shared.models import Campaign, CampaignStatus
from shared.pagination import paginate

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


# ---- campaigns -----------------------------------------------------------------------------------
class CampaignCreate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=20_000)] | None = None
    owner_id: int | None = Field(default=None, description="defaults to the caller")
    department_id: int | None = None
    budget: Money | None = None
    is_major: bool = Field(default=False, description="a major campaign: approved by the leadership group (分级审批)")
    start_date: date | None = None
    end_date: date | None = None
    status: CampaignStatus = CampaignStatus.draft
    template_key: str | None = Field(
        default=None, description="run on this workflow template (its current version): stages start at once"
    )
    stage_owners: dict[str, int] = Field(default={}, description="stage key → owner user id (default: the owner)")


class CampaignUpdate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=20_000)] | None = None
    owner_id: int | None = None
    department_id: int | None = None
    budget: Money | None = None
    is_major: bool | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: CampaignStatus | None = None


class CampaignRead(ReadModel):
    id: int
    name: str
    description: str | None
    owner_id: int | None
    department_id: int | None
    budget: Decimal | None
    is_major: bool
    start_date: date | None
    end_date: date | None
    status: CampaignStatus
    template_id: int | None = Field(description="the workflow template version it runs on")
    created_at: datetime
    updated_at: datetime


@router.post(
    "/campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="createCampaign",
)
async def create_campaign(
    body: CampaignCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> Campaign:
    """Create a campaign, optionally on a workflow template (its first stage starts now)."""
    return await campaigns.create_campaign(session, actor=actor, data=body.model_dump(), now=now)


@router.get("/campaigns", response_model=PageOut[CampaignRead], tags=["campaigns"], operation_id="listCampaigns")
async def list_campaigns(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    status: CampaignStatus | None = None,
    owner_id: int | None = None,
    department_id: int | None = None,
    q: Annotated[str | None, Query(description="substring of the name")] = None,
) -> dict:
    """List campaigns."""
    stmt = campaigns.campaign_filter(
        select(Campaign), status=status, owner_id=owner_id, department_id=department_id, q=q
    )
    return page_out(await paginate(session, stmt, Campaign.id, limit=limit, cursor=cursor), CampaignRead)


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="getCampaign",
    responses=NOT_FOUND,
)
async def get_campaign(campaign_id: int, session: SessionDep, actor: ActorDep) -> Campaign:
    """One campaign."""
    return await crud.get_or_404(session, Campaign, campaign_id)


@router.patch(
    "/campaigns/{campaign_id}",
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="updateCampaign",
    responses=NOT_FOUND,
)
async def update_campaign(campaign_id: int, body: CampaignUpdate, session: SessionDep, actor: WriterDep) -> Campaign:
    """Change a campaign."""
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, ("name", "status", "is_major"))
    return await campaigns.update_campaign(session, actor=actor, campaign_id=campaign_id, changes=changes)


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["campaigns"],
    operation_id="deleteCampaign",
    responses=NOT_FOUND,
)
async def delete_campaign(
    campaign_id: int, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> None:
    """Delete a campaign, its tasks and stages (their timers are cancelled)."""
    await campaigns.delete_campaign(session, actor=actor, campaign_id=campaign_id, now=now)
