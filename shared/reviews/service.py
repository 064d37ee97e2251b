"""Cross-department reviews: a request names reviewer departments and people, each answers in
its round under its own feedback timer, and the consensus decides (all approve → approved, any
reject → rejected, changes requested → back to the requester, then a new round)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.audit import service as audit
from shared.calendar import CalendarError, Target
from shared.campaigns.guards import require_open_campaign
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from shared.filters import any_of, contains_text
from shared.models import (
    Campaign,
    CampaignStage,
    Department,
    ResponseStatus,
    ReviewDecision,
    ReviewRequest,
    ReviewResponse,
    ReviewStatus,
    Role,
    StageDeliverable,
    User,
)
from shared.notify import arrival
from shared.org.permissions import require_may_act
from shared.org.tokens import require_own_token
from shared.reviews.schemas import ResponseTarget, ReviewAnswer, ReviewCancellation, ReviewCreate, ReviewResubmission
from shared.reviews.sla import ReviewSubject
from shared.sla.read import running_late
from shared.sla.registry import on_campaign_cancelled
from shared.sla.sync import sync_timers

DEFAULT_RESPONSE_TARGET = ResponseTarget(kind="calendar", value="PT24H")
OPEN_STATUSES = (ReviewStatus.in_review, ReviewStatus.changes_requested)


async def _sync(session: AsyncSession, *, review_id: int, response_ids: Iterable[int], now: datetime) -> None:
    await sync_timers(session, ReviewSubject.request, [review_id], now=now)
    await sync_timers(session, ReviewSubject.response, response_ids, now=now)


def _unique_ids(field: str, ids: list[int]) -> list[int]:
    seen: set[int] = set()
    for i in ids:
        if i in seen:
            raise InvalidInput.for_field(field, f"{i} is listed twice")
        seen.add(i)
    return ids


async def _check_exist(session: AsyncSession, model: Any, field: str, ids: list[int]) -> None:
    if missing := await crud.missing_ids(session, model, ids):
        raise InvalidInput.for_field(
            field, f"{model.__name__.lower()} {', '.join(map(str, missing))} does not exist", "reference"
        )


def _parse_response_target(raw: ResponseTarget | None) -> dict[str, str]:
    raw = raw or DEFAULT_RESPONSE_TARGET
    try:
        target = Target.parse(raw.kind, raw.value)
    except CalendarError as exc:
        part = "kind" if exc.field == "kind" else "value"
        raise InvalidInput.for_field(f"response_target.{part}", exc.message) from None
    return {"kind": target.kind.value, "value": target.value}


def _new_round(review: ReviewRequest, now: datetime) -> list[ReviewResponse]:
    return [
        ReviewResponse(
            review_id=review.id,
            round=review.round,
            department_id=r.get("department_id"),
            user_id=r.get("user_id"),
            status=ResponseStatus.pending,
            requested_at=now,
        )
        for r in review.reviewers
    ]


async def _check_deliverable(session: AsyncSession, deliverable_id: int, stage: CampaignStage | None) -> None:
    """A review may point at a deliverable of the stage under review or of an earlier stage of the
    same campaign (the review stage reviews the plan stage's 《活动策划方案》), never another campaign's."""
    row = (
        await session.execute(
            select(CampaignStage.campaign_id, CampaignStage.position)
            .join(StageDeliverable, StageDeliverable.stage_id == CampaignStage.id)
            .where(StageDeliverable.id == deliverable_id)
        )
    ).first()
    if row is None:
        raise InvalidInput.for_field("deliverable_id", f"deliverable {deliverable_id} does not exist", "reference")
    if stage is None:
        raise InvalidInput.for_field("deliverable_id", "a deliverable is reviewed with its campaign and stage_key")
    if row.campaign_id != stage.campaign_id:
        raise InvalidInput.for_field(
            "deliverable_id", f"deliverable {deliverable_id} belongs to another campaign ({row.campaign_id})"
        )
    if row.position > stage.position:
        raise InvalidInput.for_field(
            "deliverable_id", f"deliverable {deliverable_id} belongs to a later stage than {stage.key!r}"
        )


async def request_review(session: AsyncSession, *, actor: Actor, data: ReviewCreate, now: datetime) -> ReviewRequest:
    """Ask departments and/or people to review; round 1 starts now with every reviewer's timer."""
    campaign_id, stage_key, deliverable_id = data.campaign_id, data.stage_key, data.deliverable_id
    department_ids = _unique_ids("reviewer_department_ids", data.reviewer_department_ids)
    user_ids = _unique_ids("reviewer_user_ids", data.reviewer_user_ids)
    if not department_ids and not user_ids:
        raise InvalidInput.for_field("reviewer_department_ids", "name at least one reviewer department or user")
    if stage_key is not None and campaign_id is None:
        raise InvalidInput.for_field("campaign_id", "a stage_key needs the campaign it belongs to")
    if campaign_id is not None and stage_key is None:
        raise InvalidInput.for_field("stage_key", "name the campaign stage under review")
    response_target = _parse_response_target(data.response_target)
    await _check_exist(session, Department, "reviewer_department_ids", department_ids)
    await _check_exist(session, User, "reviewer_user_ids", user_ids)
    if actor.user_id is not None and actor.user_id in user_ids:
        raise InvalidInput.for_field("reviewer_user_ids", "you cannot review your own request")
    inactive = list(await session.scalars(select(User.id).where(User.id.in_(user_ids), User.is_active.is_(False))))
    if inactive:
        raise InvalidInput.for_field("reviewer_user_ids", f"user {inactive[0]} is deactivated")

    campaign: Campaign | None = None
    stage: CampaignStage | None = None
    if campaign_id is not None:
        await crud.check_references(session, {"campaign_id": (Campaign, campaign_id)})
        campaign = await session.get_one(Campaign, campaign_id)
        require_open_campaign(campaign)
        stage = await session.scalar(
            select(CampaignStage).where(CampaignStage.campaign_id == campaign_id, CampaignStage.key == stage_key)
        )
        if stage is None:
            raise InvalidInput.for_field("stage_key", f"campaign {campaign_id} has no stage {stage_key!r}")
    if deliverable_id is not None:
        await _check_deliverable(session, deliverable_id, stage)

    requester = await session.get(User, actor.user_id) if actor.user_id is not None else None
    review = ReviewRequest(
        title=data.title,
        description=data.description,
        campaign_id=campaign_id,
        stage_id=stage.id if stage else None,
        deliverable_id=deliverable_id,
        requester_id=requester.id if requester else None,
        department_id=(requester.department_id if requester else None)
        or (campaign.department_id if campaign else None),
        status=ReviewStatus.in_review,
        round=1,
        reviewers=[{"department_id": d, "user_id": None} for d in department_ids]
        + [{"department_id": None, "user_id": u} for u in user_ids],
        response_target=response_target,
    )
    review = await crud.create(session, actor=actor, obj=review, entity_type=ReviewSubject.request)
    responses = _new_round(review, now)
    session.add_all(responses)
    await session.flush()
    await _sync(session, review_id=review.id, response_ids=[r.id for r in responses], now=now)
    await arrival.review_round_opened(session, [r.id for r in responses], by=actor.user_id, now=now)
    return review


async def _may_answer(session: AsyncSession, actor: Actor, review: ReviewRequest, response: ReviewResponse) -> bool:
    if actor.at_least(Role.admin):
        return True
    if actor.user_id is None or actor.user_id == review.requester_id:
        return False  # four eyes: nobody reviews their own request
    if response.user_id is not None:
        return response.user_id == actor.user_id
    if response.department_id is None:
        return False
    user = await session.get(User, actor.user_id)
    if user is None or not user.is_active:
        return False
    if user.department_id == response.department_id:
        return True
    head = await session.scalar(select(Department.head_user_id).where(Department.id == response.department_id))
    return head == user.id


async def my_response(session: AsyncSession, actor: Actor, review: ReviewRequest) -> ReviewResponse | None:
    """The current round's reviewer row `actor` answers for (the chat's 通过 R7 names only the
    review): a pending one they may answer, else one of theirs already answered (None: they are not
    asked in this round)."""
    rows = list(
        await session.scalars(
            select(ReviewResponse)
            .where(ReviewResponse.review_id == review.id, ReviewResponse.round == review.round)
            .order_by(ReviewResponse.id)
        )
    )
    mine = [r for r in rows if r.user_id is not None and r.user_id == actor.user_id]
    mine += [r for r in rows if r not in mine and await _may_answer(session, actor, review, r)]
    return next((r for r in mine if r.status == ResponseStatus.pending), mine[0] if mine else None)


async def _pending_response(
    session: AsyncSession, actor: Actor, review: ReviewRequest, response_id: int, data: ReviewAnswer
) -> ReviewResponse:
    """The reviewer's row, locked, once the actor may answer for it and it still waits for an answer."""
    response = (
        await session.scalars(
            select(ReviewResponse)
            .where(ReviewResponse.review_id == review.id, ReviewResponse.id == response_id)
            .with_for_update()
        )
    ).first()
    if response is None:
        raise NotFound(f"review {review.id} has no such reviewer")
    if not await _may_answer(session, actor, review, response):
        who = f"department {response.department_id}" if response.department_id else f"user {response.user_id}"
        raise Forbidden(f"only {who} (or an admin) may answer for this reviewer")
    if data.decision != ReviewDecision.approve and not (data.comment or "").strip():
        raise InvalidInput.for_field("comment", f"say why when you {data.decision.value.replace('_', ' ')}")
    if response.status != ResponseStatus.pending or review.status != ReviewStatus.in_review:
        raise Conflict(
            f"this reviewer's round {response.round} answer is {response.status.value}"
            f" and the review is {review.status.value}",
            errors=[FieldError("response", response.status.value, "state")],
        )
    return response


def _decide_round(
    review: ReviewRequest, round_rows: list[ReviewResponse], decision: ReviewDecision, now: datetime
) -> list[ReviewResponse]:
    """Consensus: any reject decides at once (the round's other pending reviewers are cancelled,
    and returned); once everyone answered, all approve → approved, else back with the requester."""
    cancelled = []
    if decision == ReviewDecision.reject:
        review.status, review.decided_at = ReviewStatus.rejected, now
        for other in round_rows:
            if other.status == ResponseStatus.pending:
                other.status = ResponseStatus.cancelled
                cancelled.append(other)
    elif all(r.status == ResponseStatus.answered for r in round_rows):
        if all(r.decision == ReviewDecision.approve for r in round_rows):
            review.status, review.decided_at = ReviewStatus.approved, now
        else:
            review.status = ReviewStatus.changes_requested
    return cancelled


async def answer(
    session: AsyncSession, *, actor: Actor, review_id: int, response_id: int, data: ReviewAnswer, now: datetime
) -> ReviewRequest:
    """One reviewer's answer in the current round; a reject decides at once, the last answer of a
    round decides by consensus."""
    review = await crud.get_or_404(session, ReviewRequest, review_id, for_update=True)
    require_own_token(actor, what="answer a review")
    response = await _pending_response(session, actor, review, response_id, data)
    response.status = ResponseStatus.answered
    response.decision, response.comment = data.decision, data.comment
    response.answered_by, response.answered_at = actor.user_id, now
    round_rows = list(
        await session.scalars(
            select(ReviewResponse)
            .where(ReviewResponse.review_id == review.id, ReviewResponse.round == review.round)
            .with_for_update()
        )
    )
    before = {"status": review.status.value, "round": review.round}
    cancelled = _decide_round(review, round_rows, data.decision, now)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="review.answer",
        entity_type=ReviewSubject.request,
        entity_id=review.id,
        after={
            "round": response.round,
            "response_id": response.id,
            "department_id": response.department_id,
            "user_id": response.user_id,
            "decision": data.decision.value,
            "comment": data.comment,
        },
    )
    if review.status.value != before["status"]:
        await audit.record(
            session,
            actor=actor,
            action="review.decide" if review.status != ReviewStatus.changes_requested else "review.return",
            entity_type=ReviewSubject.request,
            entity_id=review.id,
            before=before,
            after={
                "status": review.status.value,
                "round": review.round,
                "decided_at": review.decided_at.isoformat() if review.decided_at else None,
                "cancelled_response_ids": [r.id for r in cancelled],
            },
        )
    await _sync(session, review_id=review.id, response_ids=[response.id, *(r.id for r in cancelled)], now=now)
    if review.status.value != before["status"]:
        await arrival.review_concluded(session, review, by=actor.user_id, comment=data.comment, now=now)
    return review


async def resubmit(
    session: AsyncSession, *, actor: Actor, review_id: int, data: ReviewResubmission, now: datetime
) -> ReviewRequest:
    """After changes were requested: a new round asks the same reviewers again."""
    review = await crud.get_or_404(session, ReviewRequest, review_id, for_update=True)
    await require_may_act(
        session,
        actor,
        who="the requester or a manager",
        what="resubmit this review",
        parties=[review.requester_id],
        home=[review.department_id],
    )
    if review.status != ReviewStatus.changes_requested:
        raise Conflict(
            f"only a review with changes requested can be resubmitted; this one is {review.status.value}",
            errors=[FieldError("status", review.status.value, "state")],
        )
    before = {"status": review.status.value, "round": review.round}
    review.round += 1
    review.status = ReviewStatus.in_review
    responses = _new_round(review, now)
    session.add_all(responses)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="review.resubmit",
        entity_type=ReviewSubject.request,
        entity_id=review.id,
        before=before,
        after={"status": review.status.value, "round": review.round, "note": data.note},
    )
    await _sync(session, review_id=review.id, response_ids=[r.id for r in responses], now=now)
    await arrival.review_round_opened(session, [r.id for r in responses], by=actor.user_id, now=now)
    return review


async def cancel(
    session: AsyncSession, *, actor: Actor, review_id: int, data: ReviewCancellation, now: datetime
) -> ReviewRequest:
    """Withdraw an open review; its pending reviewers and every timer are cancelled."""
    review = await crud.get_or_404(session, ReviewRequest, review_id, for_update=True)
    await require_may_act(
        session,
        actor,
        who="the requester or a manager",
        what="cancel this review",
        parties=[review.requester_id],
        home=[review.department_id],
    )
    if review.status not in OPEN_STATUSES:
        raise Conflict(
            f"the review is already {review.status.value}", errors=[FieldError("status", review.status.value, "state")]
        )
    before = {"status": review.status.value, "round": review.round}
    review.status = ReviewStatus.cancelled
    pending = list(
        await session.scalars(
            select(ReviewResponse)
            .where(ReviewResponse.review_id == review.id, ReviewResponse.status == ResponseStatus.pending)
            .with_for_update()
        )
    )
    for r in pending:
        r.status = ResponseStatus.cancelled
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="review.cancel",
        entity_type=ReviewSubject.request,
        entity_id=review.id,
        before=before,
        after={
            "status": review.status.value,
            "reason": data.reason,
            "cancelled_response_ids": [r.id for r in pending],
        },
    )
    await _sync(session, review_id=review.id, response_ids=[r.id for r in pending], now=now)
    return review


# ---- read side -------------------------------------------------------------------------------------


async def responses_of(session: AsyncSession, review_ids: list[int]) -> dict[int, list[ReviewResponse]]:
    """Every round's responses of each review, in round then reviewer order."""
    out: dict[int, list[ReviewResponse]] = defaultdict(list)
    if not review_ids:
        return out
    for r in await session.scalars(
        select(ReviewResponse)
        .where(ReviewResponse.review_id.in_(review_ids))
        .order_by(ReviewResponse.review_id, ReviewResponse.round, ReviewResponse.id)
    ):
        out[r.review_id].append(r)
    return out


def review_filter(
    stmt: Select[Any],
    *,
    campaign_id: int | None = None,
    stage_id: int | None = None,
    statuses: Collection[ReviewStatus] | None = None,
    department_id: int | None = None,
    requester_id: int | None = None,
    reviewer_department_id: int | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    now: datetime,
) -> Select[Any]:
    """The review board's filters; `department_id` is the requesting department."""
    if department_id is not None:
        stmt = stmt.where(ReviewRequest.department_id == department_id)
    if campaign_id is not None:
        stmt = stmt.where(ReviewRequest.campaign_id == campaign_id)
    if stage_id is not None:
        stmt = stmt.where(ReviewRequest.stage_id == stage_id)
    if statuses:
        stmt = stmt.where(any_of(ReviewRequest.status, statuses))
    if q:
        stmt = stmt.where(contains_text(q, ReviewRequest.title))
    if requester_id is not None:
        stmt = stmt.where(ReviewRequest.requester_id == requester_id)
    if reviewer_department_id is not None:
        stmt = stmt.where(
            exists().where(
                ReviewResponse.review_id == ReviewRequest.id,
                ReviewResponse.round == ReviewRequest.round,
                ReviewResponse.department_id == reviewer_department_id,
            )
        )
    if overdue is not None:
        # Late: the review's own clock (or the requester's resubmission) or a reviewer's feedback clock.
        late_response = exists().where(
            and_(
                ReviewResponse.review_id == ReviewRequest.id,
                ReviewResponse.status == ResponseStatus.pending,
                running_late(ReviewSubject.response, ReviewResponse.id, now),
            )
        )
        late = or_(running_late(ReviewSubject.request, ReviewRequest.id, now), late_response)
        stmt = stmt.where(late if overdue else ~late)
    return stmt


@on_campaign_cancelled(ReviewSubject.request)
async def cancel_for_campaign(session: AsyncSession, actor: Actor, campaign_id: int, now: datetime, reason: str) -> int:
    """The campaign was cancelled or completed: its open reviews are cancelled (pending reviewers
    and timers too)."""
    ids = list(
        await session.scalars(
            select(ReviewRequest.id).where(
                ReviewRequest.campaign_id == campaign_id,
                ReviewRequest.status.in_((ReviewStatus.in_review, ReviewStatus.changes_requested)),
            )
        )
    )
    for review_id in ids:
        await cancel(session, actor=actor, review_id=review_id, data=ReviewCancellation(reason=reason), now=now)
    return len(ids)
