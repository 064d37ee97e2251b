"""Campaigns."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, page_out, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from shared import crud
from shared.campaigns import service as campaigns
from shared.campaigns.schemas import CampaignCreate, CampaignRead, CampaignUpdate
from shared.models import Campaign, CampaignStatus
from shared.pagination import paginate

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


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
    return await campaigns.create_campaign(session, actor=actor, data=body, now=now)


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
    reject_nulls(body.model_dump(exclude_unset=True), ("name", "status", "is_major"))
    return await campaigns.update_campaign(session, actor=actor, campaign_id=campaign_id, changes=body)


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
