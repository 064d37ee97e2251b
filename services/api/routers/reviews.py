"""Cross-department reviews (跨部门评审): rounds, per-reviewer deadlines, consensus."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import Query, status
from sqlalchemy import select

from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut, TextQ
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from services.api.sla_state import SlaIndex
from shared import crud
from shared.access import policy as access
from shared.campaigns.sla import CampaignItem
from shared.models import ReviewRequest, ReviewStatus
from shared.pagination import paginate
from shared.reviews import service as reviews
from shared.reviews.schemas import (
    ResponseRead,
    ReviewAnswer,
    ReviewCancellation,
    ReviewCreate,
    ReviewRead,
    ReviewResubmission,
    RoundRead,
)
from shared.reviews.sla import ReviewSubject

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["reviews"])

Responses = dict[int | str, dict[str, Any]]
MISSING = cast(Responses, NOT_FOUND)
MISSING_OR_CONFLICT = cast(Responses, {**NOT_FOUND, **CONFLICT})


async def _read_page(session: SessionDep, rows: list[ReviewRequest], now: datetime) -> list[ReviewRead]:
    ids = [r.id for r in rows]
    responses = await reviews.responses_of(session, ids)
    sla = await SlaIndex.load_types(
        session,
        {ReviewSubject.request: ids, ReviewSubject.response: [x.id for rs in responses.values() for x in rs]},
        now,
    )
    review_sla, response_sla = sla[ReviewSubject.request], sla[ReviewSubject.response]
    out = []
    for review in rows:
        rounds: dict[int, list[ResponseRead]] = {}
        for x in responses.get(review.id, []):
            rounds.setdefault(x.round, []).append(response_sla.read(ResponseRead, x))
        rounds_read = [RoundRead(round=n, responses=rs) for n, rs in sorted(rounds.items())]
        out.append(review_sla.read(ReviewRead, review, rounds=rounds_read))
    return out


async def _one(session: SessionDep, review: ReviewRequest, now: datetime) -> ReviewRead:
    await session.refresh(review)
    return (await _read_page(session, [review], now))[0]


@router.post("/reviews", status_code=status.HTTP_201_CREATED, response_model=ReviewRead, operation_id="createReview")
async def create_review(
    body: ReviewCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> ReviewRead:
    """Ask departments and/or people to review (a campaign stage, a deliverable, or anything);
    round 1 starts now, each reviewer under their own feedback timer, the review under its own."""
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    review = await reviews.request_review(session, actor=actor, data=body, now=now)
    return await _one(session, review, now)


@router.get("/reviews", response_model=PageOut[ReviewRead], operation_id="listReviews")
async def list_reviews(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    campaign_id: int | None = None,
    stage_id: int | None = None,
    status: Annotated[list[ReviewStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    department_id: Annotated[int | None, Query(description="the requesting department")] = None,
    requester_id: int | None = None,
    reviewer_department_id: Annotated[
        int | None, Query(description="reviews asking this department in their current round")
    ] = None,
    overdue: Annotated[
        bool | None, Query(description="the review, its resubmission or a pending reviewer is past due")
    ] = None,
    q: TextQ = None,
) -> dict:
    """List reviews; each carries its rounds and SLA state."""
    stmt = reviews.review_filter(
        access.visible(select(ReviewRequest), actor),
        campaign_id=campaign_id,
        stage_id=stage_id,
        statuses=status,
        department_id=department_id,
        requester_id=requester_id,
        reviewer_department_id=reviewer_department_id,
        overdue=overdue,
        q=q,
        now=now,
    )
    page = await paginate(session, stmt, ReviewRequest.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.get("/reviews/{review_id}", response_model=ReviewRead, operation_id="getReview", responses=MISSING)
async def get_review(review_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> ReviewRead:
    """One review with every round's answers and all its timers."""
    await access.require_read(session, actor, ReviewSubject.request, review_id)
    return (await _read_page(session, [await crud.get_or_404(session, ReviewRequest, review_id)], now))[0]


@router.post(
    "/reviews/{review_id}/responses/{response_id}",
    response_model=ReviewRead,
    operation_id="answerReview",
    responses=MISSING_OR_CONFLICT,
)
async def answer_review(
    review_id: int,
    response_id: int,
    body: ReviewAnswer,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
) -> ReviewRead:
    """Answer for one reviewer (the named person, anyone in the reviewing department, or an
    admin): approve, request changes or reject. A reject decides at once; the round's last answer
    decides by consensus. 409 if this reviewer already answered or the round is over."""
    await access.require_write(session, actor, ReviewSubject.request, review_id)
    review = await reviews.answer(
        session, actor=actor, review_id=review_id, response_id=response_id, data=body, now=now
    )
    return await _one(session, review, now)


@router.post(
    "/reviews/{review_id}/resubmit",
    response_model=ReviewRead,
    operation_id="resubmitReview",
    responses=MISSING_OR_CONFLICT,
)
async def resubmit_review(
    review_id: int,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
    body: ReviewResubmission | None = None,
) -> ReviewRead:
    """After changes were requested: start the next round with the same reviewers (requester or manager)."""
    await access.require_write(session, actor, ReviewSubject.request, review_id)
    review = await reviews.resubmit(
        session, actor=actor, review_id=review_id, data=body or ReviewResubmission(), now=now
    )
    return await _one(session, review, now)


@router.post(
    "/reviews/{review_id}/cancel",
    response_model=ReviewRead,
    operation_id="cancelReview",
    responses=MISSING_OR_CONFLICT,
)
async def cancel_review(
    review_id: int,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
    body: ReviewCancellation | None = None,
) -> ReviewRead:
    """Withdraw an open review (requester or manager); pending reviewers and all timers are cancelled."""
    await access.require_write(session, actor, ReviewSubject.request, review_id)
    review = await reviews.cancel(session, actor=actor, review_id=review_id, data=body or ReviewCancellation(), now=now)
    return await _one(session, review, now)
