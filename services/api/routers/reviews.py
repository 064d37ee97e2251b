"""Cross-department reviews (跨部门评审): rounds, per-reviewer deadlines, consensus."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, status
from pydantic import Field
from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, ReadModel, WriteModel
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.sla_state import SlaIndex
from shared import crud
from shared.models import ResponseStatus, ReviewDecision, ReviewRequest, ReviewStatus
from shared.pagination import paginate
from shared.reviews import service as reviews
from shared.reviews.sla import ReviewSubject
from shared.sla.schemas import TimerSummary

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["reviews"])

Responses = dict[int | str, dict[str, Any]]
MISSING = cast(Responses, NOT_FOUND)
MISSING_OR_CONFLICT = cast(Responses, {**NOT_FOUND, **CONFLICT})

Ids = Annotated[list[int], Field(max_length=50)]
Comment = Annotated[str, Field(max_length=20_000)]


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


class AnswerCreate(WriteModel):
    decision: ReviewDecision
    comment: Comment | None = Field(default=None, description="required to request changes or reject")


class ResubmitBody(WriteModel):
    note: Comment | None = Field(default=None, description="what changed since the last round")


class CancelBody(WriteModel):
    reason: Comment | None = None


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


async def _read_page(session: SessionDep, rows: list[ReviewRequest], now: datetime) -> list[ReviewRead]:
    ids = [r.id for r in rows]
    responses = await reviews.responses_of(session, ids)
    response_sla = await SlaIndex.load(
        session, ReviewSubject.response, [x.id for rs in responses.values() for x in rs], now
    )
    review_sla = await SlaIndex.load(session, ReviewSubject.request, ids, now)
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
    review = await reviews.request_review(session, actor=actor, data=body.model_dump(), now=now)
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
    status: ReviewStatus | None = None,
    department_id: Annotated[int | None, Query(description="the requesting department")] = None,
    requester_id: int | None = None,
    reviewer_department_id: Annotated[
        int | None, Query(description="reviews asking this department in their current round")
    ] = None,
    overdue: Annotated[
        bool | None, Query(description="the review, its resubmission or a pending reviewer is past due")
    ] = None,
) -> dict:
    """List reviews; each carries its rounds and SLA state."""
    stmt = reviews.review_filter(
        select(ReviewRequest),
        campaign_id=campaign_id,
        stage_id=stage_id,
        status=status,
        department_id=department_id,
        requester_id=requester_id,
        reviewer_department_id=reviewer_department_id,
        overdue=overdue,
        now=now,
    )
    page = await paginate(session, stmt, ReviewRequest.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.get("/reviews/{review_id}", response_model=ReviewRead, operation_id="getReview", responses=MISSING)
async def get_review(review_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> ReviewRead:
    """One review with every round's answers and all its timers."""
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
    body: AnswerCreate,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
) -> ReviewRead:
    """Answer for one reviewer (the named person, anyone in the reviewing department, or an
    admin): approve, request changes or reject. A reject decides at once; the round's last answer
    decides by consensus. 409 if this reviewer already answered or the round is over."""
    review = await reviews.answer(
        session,
        actor=actor,
        review_id=review_id,
        response_id=response_id,
        decision=body.decision,
        comment=body.comment,
        now=now,
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
    body: ResubmitBody | None = None,
) -> ReviewRead:
    """After changes were requested: start the next round with the same reviewers (requester or manager)."""
    review = await reviews.resubmit(
        session,
        actor=actor,
        review_id=review_id,
        note=body.note if body else None,
        now=now,
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
    body: CancelBody | None = None,
) -> ReviewRead:
    """Withdraw an open review (requester or manager); pending reviewers and all timers are cancelled."""
    review = await reviews.cancel(
        session,
        actor=actor,
        review_id=review_id,
        reason=body.reason if body else None,
        now=now,
    )
    return await _one(session, review, now)
