"""Campaigns."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from shared import crud
from shared.access import policy as access
from shared.campaigns import service as campaigns
from shared.campaigns.schemas import CampaignCreate, CampaignRead, CampaignUpdate, CurrentStage
from shared.campaigns.sla import CampaignItem
from shared.models import Campaign, CampaignStatus
from shared.pagination import paginate

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


async def _read_page(session: SessionDep, rows: list[Campaign]) -> list[CampaignRead]:
    current = await campaigns.current_stages(session, [c.id for c in rows])
    return [
        CampaignRead.model_validate(c).model_copy(
            update={"current_stage": CurrentStage.model_validate(current[c.id]) if c.id in current else None}
        )
        for c in rows
    ]


async def _read(session: SessionDep, campaign: Campaign) -> CampaignRead:
    return (await _read_page(session, [campaign]))[0]


@router.post(
    "/campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="createCampaign",
)
async def create_campaign(
    body: CampaignCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> CampaignRead:
    """Create a campaign, optionally on a workflow template (its first stage starts now)."""
    return await _read(session, await campaigns.create_campaign(session, actor=actor, data=body, now=now))


@router.get("/campaigns", response_model=PageOut[CampaignRead], tags=["campaigns"], operation_id="listCampaigns")
async def list_campaigns(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    status: Annotated[list[CampaignStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    owner_id: int | None = None,
    department_id: int | None = None,
    overdue: Annotated[bool | None, Query(description="the stage it is in is past its time limit")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text the name contains (any case)")] = None,
) -> dict:
    """List campaigns, each with the stage it is in."""
    stmt = campaigns.campaign_filter(
        access.visible(select(Campaign), actor),
        statuses=status,
        owner_id=owner_id,
        department_id=department_id,
        overdue=overdue,
        q=q,
        now=now,
    )
    page = await paginate(session, stmt, Campaign.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items)), "next_cursor": page.next_cursor}


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="getCampaign",
    responses=NOT_FOUND,
)
async def get_campaign(campaign_id: int, session: SessionDep, actor: ActorDep) -> CampaignRead:
    """One campaign, with the stage it is in."""
    await access.require_read(session, actor, CampaignItem.campaign, campaign_id)
    return await _read(session, await crud.get_or_404(session, Campaign, campaign_id))


@router.patch(
    "/campaigns/{campaign_id}",
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="updateCampaign",
    responses=NOT_FOUND,
)
async def update_campaign(
    campaign_id: int, body: CampaignUpdate, session: SessionDep, actor: WriterDep, now: NowDep
) -> CampaignRead:
    """Change a campaign (a big promotion's ROI estimate follows its flag and start date)."""
    reject_nulls(body.model_dump(exclude_unset=True), ("name", "is_major", "is_big_promotion"))
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    return await _read(
        session,
        await campaigns.update_campaign(session, actor=actor, campaign_id=campaign_id, changes=body, now=now),
    )


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
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    await campaigns.delete_campaign(session, actor=actor, campaign_id=campaign_id, now=now)
