"""Feedback and complaint writes; the first-response timer follows every change in the same transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.access import policy as access
from shared.actor import Actor
from shared.errors import InvalidInput
from shared.feedback.schemas import FeedbackCreate, FeedbackResponseCreate, FeedbackUpdate
from shared.feedback.sla import FeedbackSubject
from shared.filters import any_of, contains_text
from shared.models import (
    Campaign,
    Comment,
    Department,
    Feedback,
    FeedbackKind,
    FeedbackSeverity,
    FeedbackStatus,
    User,
)
from shared.notify import arrival
from shared.sla.read import running_late
from shared.sla.sync import sync_timers
from shared.trail import comments as trail


async def _check_references(
    session: AsyncSession, *, campaign_id: int | None, department_id: int | None, owner_id: int | None
) -> None:
    await crud.check_references(
        session,
        {
            "campaign_id": (Campaign, campaign_id),
            "department_id": (Department, department_id),
            "owner_id": (User, owner_id),
        },
    )


async def create_feedback(
    session: AsyncSession,
    *,
    actor: Actor,
    data: FeedbackCreate,
    now: datetime,
    source: str = "api",
    external_id: str | None = None,
) -> Feedback:
    """Record a piece of feedback or a complaint and start its first-response timer.

    The timer starts when it is recorded (`now`); `received_at` is kept for reporting.
    """
    received_at = data.received_at or now
    if received_at > now:
        raise InvalidInput.for_field("received_at", "cannot be in the future")
    await _check_references(
        session, campaign_id=data.campaign_id, department_id=data.department_id, owner_id=data.owner_id
    )
    department_id = data.department_id
    if department_id is None and data.owner_id is not None:
        # The owner's department answers for it on boards unless the caller said otherwise.
        department_id = (await session.get_one(User, data.owner_id)).department_id
    feedback = Feedback(
        **data.model_dump(exclude={"received_at", "department_id"}),
        received_at=received_at,
        department_id=department_id,
        status=FeedbackStatus.new,
        source=source,
        external_id=external_id,
    )
    feedback = await crud.create(session, actor=actor, obj=feedback, entity_type=FeedbackSubject.feedback)
    await sync_timers(session, FeedbackSubject.feedback, [feedback.id], now=now)
    await arrival.feedback_received(session, feedback, now=now)
    return feedback


async def respond(
    session: AsyncSession, *, actor: Actor, feedback_id: int, data: FeedbackResponseCreate, now: datetime
) -> tuple[Feedback, Comment | None]:
    """Answer the customer. The first answer is the first response (it meets the timer); later
    answers are kept as trail comments (returned, so the caller can say so) and never move the
    first-response time."""
    feedback = await crud.get_or_404(session, Feedback, feedback_id, for_update=True)
    comment: Comment | None = None
    if feedback.first_response_at is None:
        changes: dict[str, Any] = {
            "first_response_at": now,
            "first_response_by": actor.user_id,
            "first_response": data.message,
        }
        if feedback.status == FeedbackStatus.new:
            changes["status"] = FeedbackStatus.responded
        feedback = await crud.update(
            session, actor=actor, obj=feedback, changes=changes, entity_type=FeedbackSubject.feedback
        )
    else:  # later replies join the item's trail as comments
        comment = await trail.add_comment(
            session,
            actor=actor,
            subject_type=FeedbackSubject.feedback,
            subject_id=feedback.id,
            body=data.message,
            now=now,
        )
    await sync_timers(session, FeedbackSubject.feedback, [feedback.id], now=now)
    return feedback, comment


async def update_feedback(
    session: AsyncSession, *, actor: Actor, feedback_id: int, changes: FeedbackUpdate, now: datetime
) -> Feedback:
    """Reassign, re-grade or move an item on; its timers follow (a new owner gets the escalations,
    a new severity re-matches the policies, leaving `new` meets the first-response timer)."""
    feedback = await crud.get_or_404(session, Feedback, feedback_id, for_update=True)
    await _check_references(session, campaign_id=None, department_id=changes.department_id, owner_id=changes.owner_id)
    given = changes.model_fields_set
    if "department_id" in given and changes.department_id != feedback.department_id:
        access.require_manages(
            actor, department_id=feedback.department_id, target=changes.department_id, what="move it to a department"
        )
    if "owner_id" in given and changes.owner_id != feedback.owner_id:
        access.require_manages(actor, department_id=feedback.department_id, what="give it another owner")
    values = changes.model_dump(exclude_unset=True)
    if changes.status is not None and changes.status != feedback.status:
        if changes.status == FeedbackStatus.resolved:
            values["resolved_at"] = now
        elif changes.status == FeedbackStatus.responded:
            values["resolved_at"] = None  # reopened: no longer resolved
    feedback = await crud.update(
        session, actor=actor, obj=feedback, changes=values, entity_type=FeedbackSubject.feedback
    )
    await sync_timers(session, FeedbackSubject.feedback, [feedback.id], now=now)
    return feedback


def feedback_filter(
    stmt: Select[Any],
    *,
    kind: FeedbackKind | None = None,
    statuses: Collection[FeedbackStatus] | None = None,
    severity: FeedbackSeverity | None = None,
    department_id: int | None = None,
    owner_id: int | None = None,
    campaign_id: int | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    customer_readable: ColumnElement[bool] | None = None,
    now: datetime,
) -> Select[Any]:
    """The feedback board's filters; `q` searches the content and the customer's name — the name
    only where `customer_readable` holds (a reader who sees it masked cannot search it either)."""
    if kind is not None:
        stmt = stmt.where(Feedback.kind == kind)
    if statuses:
        stmt = stmt.where(any_of(Feedback.status, statuses))
    if q:
        by_name = contains_text(q, Feedback.customer_name)
        if customer_readable is not None:
            by_name = and_(by_name, customer_readable)
        stmt = stmt.where(or_(contains_text(q, Feedback.content), by_name))
    if severity is not None:
        stmt = stmt.where(Feedback.severity == severity)
    if department_id is not None:
        stmt = stmt.where(Feedback.department_id == department_id)
    if owner_id is not None:
        stmt = stmt.where(Feedback.owner_id == owner_id)
    if campaign_id is not None:
        stmt = stmt.where(Feedback.campaign_id == campaign_id)
    if overdue is not None:
        # Overdue: a first-response timer is still running past its deadline.
        late = running_late(FeedbackSubject.feedback, Feedback.id, now)
        stmt = stmt.where(late if overdue else ~late)
    return stmt


async def find_by_external_id(session: AsyncSession, external_id: str) -> Feedback | None:
    return (await session.scalars(select(Feedback).where(Feedback.external_id == external_id))).one_or_none()
