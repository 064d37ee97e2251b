"""Money metrics: ROI, CPA, cost per lead, CAC and CLTV per campaign, and per department and period."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Query

from services.api.deps import ActorDep, SessionDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared.access import policy as access
from shared.campaigns.sla import CampaignItem
from shared.money import service as money
from shared.money.schemas import MoneyRead

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["money"])


@router.get(
    "/campaigns/{campaign_id}/money", response_model=MoneyRead, operation_id="getCampaignMoney", responses=NOT_FOUND
)
async def campaign_money(campaign_id: int, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """The campaign's cost (approved + paid expenses) against its KPIs: ROI, cost per lead, CPA, CAC and
    CLTV, each with the inputs it lacked instead of a made-up zero."""
    await access.require_read(session, actor, CampaignItem.campaign, campaign_id)
    return await money.for_campaign(session, campaign_id)


@router.get("/money", response_model=MoneyRead, operation_id="getMoney")
async def money_totals(
    session: SessionDep,
    actor: ActorDep,
    department_id: int | None = None,
    period_from: Annotated[date | None, Query(alias="from", description="campaigns not ended before this day")] = None,
    period_to: Annotated[date | None, Query(alias="to", description="campaigns started by this day")] = None,
) -> dict[str, Any]:
    """The campaigns of a department (or all) that ran in the period, added up: inputs are summed and
    each figure is computed once from the sums (the ROI of two campaigns is not the mean of their ROIs)."""
    return await money.for_department(
        session,
        department_id=access.department_scope(actor, department_id),
        period_from=period_from,
        period_to=period_to,
    )
