"""Campaigns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, ArchivedQ, CursorQ, LimitQ, PageOut, reject_nulls
from services.api.deps import ActorDep, ManagerDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared import crud
from shared.access import policy as access
from shared.campaigns import lifecycle
from shared.campaigns import service as campaigns
from shared.campaigns.schemas import CampaignCreate, CampaignRead, CampaignUpdate, CurrentStage
from shared.campaigns.sla import CampaignItem
from shared.models import Campaign, CampaignStatus
from shared.pagination import paginate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES)

_CAMPAIGN = versions.row(Campaign, id="campaign_id")  # where its version (ETag) is


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
    archived: ArchivedQ = False,
) -> dict:
    """List campaigns, each with the stage it is in."""
    stmt = campaigns.campaign_filter(
        access.visible(select(Campaign), actor),
        statuses=status,
        owner_id=owner_id,
        department_id=department_id,
        overdue=overdue,
        q=q,
        archived=archived,
        now=now,
    )
    page = await paginate(session, stmt, Campaign.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items)), "next_cursor": page.next_cursor}


@router.get(
    "/campaigns/{campaign_id}",
    dependencies=[versions.reads(_CAMPAIGN)],
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
    dependencies=[versions.writes(_CAMPAIGN)],
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
async def delete_campaign(campaign_id: int, session: SessionDep, actor: WriterDep, now: NowDep) -> None:
    """A bare draft (never left draft; no tasks, reviews, approvals, collaboration, KPIs, budget,
    feedback, rectifications, risks, comments or escalations) is deleted with its stages. A campaign
    with history is archived instead: cancelled first like `cancel` (every open stage, task,
    review, approval and collaboration request of it, and their timers: nothing escalates
    afterwards), then it and its tasks leave the boards (`?archived=true` lists them). It stays
    readable by id (with `archived_at`), in its trail and the audit log (`archive`); it is
    read-only until a manager restores it (`restoreCampaign`)."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    await lifecycle.remove_campaign(session, actor=actor, campaign_id=campaign_id, now=now)


@router.post(
    "/campaigns/{campaign_id}/restore",
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="restoreCampaign",
    responses=NOT_FOUND,
)
async def restore_campaign(campaign_id: int, session: SessionDep, actor: ManagerDep) -> CampaignRead:
    """Bring an archived campaign (and the tasks archived with it) back to the boards (managers).
    What archiving cancelled stays cancelled; a campaign that is not archived is returned as is."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    return await _read(session, await lifecycle.restore_campaign(session, actor=actor, campaign_id=campaign_id))
