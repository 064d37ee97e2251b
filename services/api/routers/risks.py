"""The risk register (风险登记): risks on the 3 × 3 matrix, their level history and reviews."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut, TextQ, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from services.api.sla_state import read_with_sla
from shared import crud
from shared.access import policy as access
from shared.campaigns.sla import CampaignItem
from shared.pagination import paginate
from shared.risks import service as risks
from shared.risks.models import Grade, Risk, RiskStatus
from shared.risks.schemas import (
    LEVEL_DOC,
    RiskCreate,
    RiskLevelChangeRead,
    RiskMatrix,
    RiskRead,
    RiskReviewCreate,
    RiskReviewRead,
    RiskUpdate,
)
from shared.risks.sla import RiskSubject

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["risks"])

_RISK = versions.row(Risk, id="risk_id")  # where its version (ETag) is
DEPARTMENT = "the owner's department or the campaign's department"


@router.post(
    "/risks",
    status_code=status.HTTP_201_CREATED,
    response_model=RiskRead,
    operation_id="createRisk",
    description=f"Raise a risk. Its `level` is {LEVEL_DOC}. Its first review falls due `review_every_days` "
    "working days from now; a risk raised to high tells the director at once (their department's chat).",
)
async def create_risk(body: RiskCreate, session: SessionDep, actor: WriterDep, now: NowDep) -> Risk:
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    return await risks.create(session, actor=actor, data=body, now=now)


@router.get("/risks", response_model=PageOut[RiskRead], operation_id="listRisks")
async def list_risks(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    department_id: Annotated[int | None, Query(description=DEPARTMENT)] = None,
    owner_id: int | None = None,
    campaign_id: int | None = None,
    status: Annotated[list[RiskStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    level: Annotated[list[Grade] | None, AnyOf, Query(description=ANY_OF)] = None,
    overdue: Annotated[bool | None, Query(description="its review is past due")] = None,
    q: TextQ = None,
) -> dict:
    """The risk board with its filters."""
    stmt = risks.risk_filter(
        access.visible(select(Risk), actor),
        department_id=department_id,
        owner_id=owner_id,
        campaign_id=campaign_id,
        statuses=status,
        levels=level,
        overdue=overdue,
        q=q,
        now=now,
    )
    page = await paginate(session, stmt, Risk.id, limit=limit, cursor=cursor)
    return {"items": list(page.items), "next_cursor": page.next_cursor}


@router.get(
    "/risks/matrix",
    response_model=RiskMatrix,
    operation_id="getRiskMatrix",
    description=f"The 3 × 3 grid (likelihood × impact): each cell's level, count and risk ids. A cell's level is "
    f"{LEVEL_DOC}.",
)
async def risk_matrix(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    department_id: Annotated[int | None, Query(description=DEPARTMENT)] = None,
    campaign_id: int | None = None,
    status: Annotated[list[RiskStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
) -> dict:
    return await risks.matrix(
        session,
        department_id=access.department_scope(actor, department_id),
        campaign_id=campaign_id,
        statuses=status,
        now=now,
    )


@router.get(
    "/risks/{risk_id}",
    dependencies=[versions.reads(_RISK)],
    response_model=RiskRead,
    operation_id="getRisk",
    responses=NOT_FOUND,
)
async def get_risk(risk_id: int, session: SessionDep, actor: ActorDep) -> Risk:
    """One risk."""
    await access.require_read(session, actor, RiskSubject.risk, risk_id)
    return await crud.get_or_404(session, Risk, risk_id)


@router.patch(
    "/risks/{risk_id}",
    dependencies=[versions.writes(_RISK)],
    response_model=RiskRead,
    operation_id="updateRisk",
    responses=NOT_FOUND,
)
async def update_risk(risk_id: int, body: RiskUpdate, session: SessionDep, actor: WriterDep, now: NowDep) -> Risk:
    """Change a risk (audited); the level follows likelihood and impact and its history is kept;
    `closed` cancels the due review."""
    await access.require_write(session, actor, RiskSubject.risk, risk_id)
    reject_nulls(
        body.model_dump(exclude_unset=True),
        ("title", "category", "likelihood", "impact", "owner_id", "strategy", "review_every_days", "status"),
    )
    return await risks.update(session, actor=actor, risk_id=risk_id, changes=body, now=now)


@router.get(
    "/risks/{risk_id}/level-history",
    response_model=list[RiskLevelChangeRead],
    operation_id="getRiskLevelHistory",
    responses=NOT_FOUND,
)
async def risk_level_history(risk_id: int, session: SessionDep, actor: ActorDep) -> list:
    """Every change of the risk's level: from, to, when and by whom."""
    await access.require_read(session, actor, RiskSubject.risk, risk_id)
    return await risks.history(session, risk_id)


@router.get(
    "/risks/{risk_id}/reviews",
    response_model=list[RiskReviewRead],
    operation_id="listRiskReviews",
    responses=NOT_FOUND,
)
async def list_risk_reviews(risk_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> list:
    """The risk's reviews: the recorded ones and the one due next, each with its timer."""
    await access.require_read(session, actor, RiskSubject.risk, risk_id)
    rows = await risks.reviews(session, risk_id)
    return await read_with_sla(session, RiskSubject.risk_review, rows, RiskReviewRead, now)


@router.post(
    "/risks/{risk_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=RiskReviewRead,
    operation_id="reviewRisk",
    responses={**NOT_FOUND, **CONFLICT},
)
async def review_risk(
    risk_id: int, body: RiskReviewCreate, session: SessionDep, actor: WriterDep, now: NowDep
) -> RiskReviewRead:
    """Record a review (optionally re-assessing likelihood and impact): the due review's timer is
    met and the next falls due one cadence later."""
    await access.require_write(session, actor, RiskSubject.risk, risk_id)
    review = await risks.record_review(session, actor=actor, risk_id=risk_id, data=body, now=now)
    return (await read_with_sla(session, RiskSubject.risk_review, [review], RiskReviewRead, now))[0]
