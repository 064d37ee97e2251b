"""ROI estimates before big promotions (大促 ROI 测算报告), each with its SLA state embedded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut
from services.api.deps import ActorDep, NowDep, SessionDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from services.api.sla_state import read_with_sla
from shared.access import policy as access
from shared.campaigns.sla import CampaignItem
from shared.pagination import paginate
from shared.roi import service as roi
from shared.roi.models import RoiEstimate, RoiEstimateStatus
from shared.roi.schemas import RoiEstimateRead, RoiEstimateSubmit

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["roi-estimates"])

_ESTIMATE = versions.row(RoiEstimate, campaign_id="campaign_id")  # where its version (ETag) is


async def _read_page(session: SessionDep, rows: list[RoiEstimate], now: datetime) -> list[RoiEstimateRead]:
    return await read_with_sla(session, roi.ITEM, rows, RoiEstimateRead, now)


@router.get(
    "/campaigns/{campaign_id}/roi-estimate",
    dependencies=[versions.reads(_ESTIMATE)],
    response_model=RoiEstimateRead,
    operation_id="getRoiEstimate",
    responses=NOT_FOUND,
)
async def get_roi_estimate(campaign_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> RoiEstimateRead:
    """A big promotion's ROI estimate: when it is due (15 calendar days before the start date), the
    report and its figures once submitted, and its SLA state. 404 for a campaign never flagged."""
    await access.require_read(session, actor, CampaignItem.campaign, campaign_id)
    return (await _read_page(session, [await roi.get_for_campaign(session, campaign_id)], now))[0]


@router.put(
    "/campaigns/{campaign_id}/roi-estimate",
    dependencies=[versions.writes(_ESTIMATE)],
    response_model=RoiEstimateRead,
    operation_id="submitRoiEstimate",
    responses={**NOT_FOUND, **CONFLICT},
)
async def submit_roi_estimate(
    campaign_id: int, body: RoiEstimateSubmit, session: SessionDep, actor: WriterDep, now: NowDep
) -> RoiEstimateRead:
    """Submit (or revise) the ROI report — document URL, expected revenue and cost — as the
    campaign owner or a manager: its deadline is met and the planning gate lets the plan pass."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    row = await roi.submit(session, actor=actor, campaign_id=campaign_id, data=body, now=now)
    return (await _read_page(session, [row], now))[0]


@router.get("/roi-estimates", response_model=PageOut[RoiEstimateRead], operation_id="listRoiEstimates")
async def list_roi_estimates(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    department_id: Annotated[int | None, Query(description="the campaign's department")] = None,
    owner_id: Annotated[int | None, Query(description="the campaign's owner")] = None,
    status: Annotated[list[RoiEstimateStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    overdue: Annotated[bool | None, Query(description="its deadline has passed and it is not in")] = None,
) -> dict:
    """Big promotions' ROI estimates with board filters; each carries its SLA state."""
    stmt = roi.estimate_filter(
        access.visible(select(RoiEstimate), actor),
        department_id=department_id,
        owner_id=owner_id,
        statuses=status,
        overdue=overdue,
        now=now,
    )
    page = await paginate(session, stmt, RoiEstimate.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}
