"""Collaboration requests and their occurrences.

A request names the matter, who asks (initiating department), who collaborates, who owes the
answer (owner) and by when. Any SLA target kind works as its feedback deadline; `daily_at` makes
it recurring: one occurrence per working day of the request's calendar, each under SLA as subject
`collaboration`. The worker opens each working day's occurrence when that day's working time begins.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit, crud
from shared.actor import Actor
from shared.calendar import BusinessCalendar, Target, TargetKind
from shared.calendar.core import SEARCH_LIMIT_DAYS, CalendarError
from shared.campaigns.guards import require_open_campaign
from shared.collaboration.schemas import (
    CollaborationCreate,
    CollaborationDeadline,
    CollaborationUpdate,
    OccurrenceCompletion,
)
from shared.collaboration.sla import CollaborationSubject
from shared.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.filters import any_of, contains_text
from shared.models import (
    Calendar,
    Campaign,
    CollaborationOccurrence,
    CollaborationRequest,
    CollaborationStatus,
    Department,
    OccurrenceStatus,
    User,
)
from shared.notify import arrival
from shared.org.permissions import require_may_act
from shared.sla.directory import load_calendars
from shared.sla.read import running_late
from shared.sla.registry import Completion, Done, on_campaign_cancelled, register_completion
from shared.sla.sync import sync_timers

MAX_CATCH_UP = 31  # occurrences one request may open per worker call (catch-up after downtime)
RETRY_LATER = timedelta(minutes=5)  # a request whose calendar cannot be scheduled is looked at again
log = logging.getLogger(__name__)
WORKER = Actor.system("worker")


# ---- calendar helpers ----------------------------------------------------------------------------
def _midnight(cal: BusinessCalendar, day: date) -> datetime:
    return datetime.combine(day, time(0), cal.tz)  # type: ignore[attr-defined]


def _occurrence_due(cal: BusinessCalendar, day: date, target: Target) -> datetime:
    """A recurring request's deadline on working day `day` (that day's local `daily_at` time).

    Counted from the day's local midnight rather than from when the occurrence opened, so a
    deadline earlier than the start of working time still falls on its own day."""
    return cal.deadline(_midnight(cal, day), target)


def _first_recurring_day(cal: BusinessCalendar, now: datetime, target: Target) -> date:
    """The first working day whose deadline is still ahead of `now` (today if before 17:00)."""
    day = cal.local_date(now)
    for _ in range(SEARCH_LIMIT_DAYS):
        if cal.is_working_day(day) and _occurrence_due(cal, day, target) >= now:
            return day
        day += timedelta(days=1)
    raise CalendarError("calendar", "no working time within three years")


def _next_opening(cal: BusinessCalendar, day: date) -> datetime:
    """The start of working time of the first working day after `day`."""
    return cal.roll_forward(_midnight(cal, day + timedelta(days=1)))


async def _calendar(session: AsyncSession, calendar_id: int | None) -> BusinessCalendar:
    cals = await load_calendars(session, [calendar_id])
    return cals.get(calendar_id, cals[None])


def _target(request: CollaborationRequest) -> Target:
    return Target.parse(request.deadline_kind, request.deadline_value)


def is_recurring(request: CollaborationRequest) -> bool:
    return request.deadline_kind == TargetKind.daily_at


# ---- validation ------------------------------------------------------------------------------------
def parse_deadline(deadline: CollaborationDeadline) -> Target:
    """The deadline as a Target, or a 422 naming `deadline.kind` / `deadline.value`."""
    try:
        return Target.parse(deadline.kind, deadline.value, field="value")
    except CalendarError as exc:
        field = exc.field if exc.field in ("kind", "value") else "value"
        raise InvalidInput.for_field(f"deadline.{field}", exc.message) from None


async def _check_departments(session: AsyncSession, ids: list[int]) -> list[int]:
    field = "collaborating_department_ids"
    if not ids:
        raise InvalidInput.for_field(field, "name at least one collaborating department")
    if len(set(ids)) != len(ids):
        raise InvalidInput.for_field(field, "departments must be distinct")
    if missing := await crud.missing_ids(session, Department, ids):
        raise InvalidInput.for_field(field, f"department(s) {missing} do not exist", "reference")
    return list(ids)


async def _check_owner(session: AsyncSession, owner_id: int | None) -> int:
    if owner_id is None:
        raise InvalidInput.for_field("owner_id", "a request needs an owner (who owes the answer)")
    active = await session.scalar(select(User.is_active).where(User.id == owner_id))
    if active is None:
        raise InvalidInput.for_field("owner_id", f"user {owner_id} does not exist", "reference")
    if not active:
        raise InvalidInput.for_field("owner_id", f"user {owner_id} is deactivated")
    return owner_id


# ---- writes ----------------------------------------------------------------------------------------
async def create_request(
    session: AsyncSession, *, actor: Actor, data: CollaborationCreate, now: datetime
) -> CollaborationRequest:
    """Create a request and open its first occurrence (the only one for a one-off), under SLA."""
    target = parse_deadline(data.deadline)
    departments = await _check_departments(session, data.collaborating_department_ids)
    owner_id = await _check_owner(session, data.owner_id)
    initiating = data.initiating_department_id
    if initiating is None and actor.user_id is not None:
        initiating = await session.scalar(select(User.department_id).where(User.id == actor.user_id))
    await crud.check_references(
        session,
        {
            "initiating_department_id": (Department, initiating),
            "campaign_id": (Campaign, data.campaign_id),
            "calendar_id": (Calendar, data.calendar_id),
        },
    )
    if data.campaign_id is not None:
        require_open_campaign(await session.get_one(Campaign, data.campaign_id))
    cal = await _calendar(session, data.calendar_id)
    request = CollaborationRequest(
        matter=data.matter,
        content=data.content,
        initiating_department_id=initiating,
        collaborating_department_ids=departments,
        owner_id=owner_id,
        requester_id=actor.user_id,
        campaign_id=data.campaign_id,
        calendar_id=data.calendar_id,
        deadline_kind=target.kind.value,
        deadline_value=target.value,
        status=CollaborationStatus.open,
    )
    if target.kind == TargetKind.daily_at:
        day = _first_recurring_day(cal, now, target)
        due = _occurrence_due(cal, day, target)
        request.next_occurrence_at = _next_opening(cal, day)
    else:
        due = cal.deadline(now, target)
        day = cal.local_date(due)
    session.add(request)
    await session.flush()
    occurrence = CollaborationOccurrence(
        request_id=request.id, occurrence_date=day, status=OccurrenceStatus.open, opened_at=now, due_at=due
    )
    session.add(occurrence)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="collaboration.create",
        entity_type=CollaborationSubject.request,
        entity_id=request.id,
        after={**audit.snapshot(request), "occurrence": audit.snapshot(occurrence)},
    )
    await sync_timers(session, CollaborationSubject.occurrence, [occurrence.id], now=now)
    await arrival.collaboration_created(session, request, occurrence.id, now=now)
    return request


async def _request_for_write(session: AsyncSession, request_id: int) -> CollaborationRequest:
    return await crud.get_or_404(session, CollaborationRequest, request_id, for_update=True)


async def _require_party(session: AsyncSession, actor: Actor, request: CollaborationRequest, *, what: str) -> None:
    """Requester, owner, managers and members of the initiating department may steer a request."""
    await require_may_act(
        session,
        actor,
        who="the requester, the owner, the initiating department or a manager",
        what=f"{what} this request",
        parties=[request.requester_id, request.owner_id],
        departments=[request.initiating_department_id],
        home=[request.initiating_department_id],
    )


def _require_open(request: CollaborationRequest) -> None:
    if request.status != CollaborationStatus.open:
        raise Conflict(
            f"collaboration request {request.id} is {request.status.value}",
            errors=[FieldError("status", f"is {request.status.value}, not open", "state")],
        )


async def _open_occurrences(session: AsyncSession, request_id: int) -> list[CollaborationOccurrence]:
    return list(
        await session.scalars(
            select(CollaborationOccurrence)
            .where(
                CollaborationOccurrence.request_id == request_id,
                CollaborationOccurrence.status == OccurrenceStatus.open,
            )
            .order_by(CollaborationOccurrence.id)
            .with_for_update()
        )
    )


async def update_request(
    session: AsyncSession,
    *,
    actor: Actor,
    request_id: int,
    changes: CollaborationUpdate,
    now: datetime,
) -> CollaborationRequest:
    """Change the matter, content or owner; open occurrences' timers follow a new owner."""
    request = await _request_for_write(session, request_id)
    await _require_party(session, actor, request, what="change")
    values = changes.model_dump(exclude_unset=True)
    if "owner_id" in values:
        values["owner_id"] = await _check_owner(session, changes.owner_id)
    before = audit.snapshot(request)
    for key, value in values.items():
        setattr(request, key, value)
    await session.flush()
    after = audit.snapshot(request)
    if before != after:
        await audit.record(
            session,
            actor=actor,
            action="collaboration.update",
            entity_type=CollaborationSubject.request,
            entity_id=request.id,
            before=before,
            after=after,
        )
        for occurrence in await _open_occurrences(session, request.id):
            await sync_timers(session, CollaborationSubject.occurrence, [occurrence.id], now=now)
    return request


async def complete_occurrence(
    session: AsyncSession,
    *,
    actor: Actor,
    request_id: int,
    occurrence_id: int,
    data: OccurrenceCompletion,
    now: datetime,
) -> CollaborationRequest:
    """Deliver one occurrence (meets its timer); delivering a one-off closes the request."""
    request = await _request_for_write(session, request_id)
    occurrence = (
        await session.scalars(
            select(CollaborationOccurrence)
            .where(CollaborationOccurrence.id == occurrence_id, CollaborationOccurrence.request_id == request.id)
            .with_for_update()
        )
    ).one_or_none()
    if occurrence is None:
        raise NotFound(f"occurrence {occurrence_id} of collaboration request {request_id} does not exist")
    await require_may_act(
        session,
        actor,
        who="the owner, a member of a collaborating department or a manager",
        what="answer",
        parties=[request.owner_id],
        departments=request.collaborating_department_ids or [],
    )
    if occurrence.status != OccurrenceStatus.open:
        raise Conflict(
            f"occurrence {occurrence.id} is {occurrence.status.value}",
            errors=[FieldError("status", f"is {occurrence.status.value}, not open", "state")],
        )
    before = audit.snapshot(occurrence)
    occurrence.status = OccurrenceStatus.done
    occurrence.done_at = now
    occurrence.done_by = actor.user_id
    occurrence.note = data.note
    if not is_recurring(request) and request.status == CollaborationStatus.open:
        request.status = CollaborationStatus.closed
        request.closed_at = now
        request.next_occurrence_at = None
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="collaboration.done",
        entity_type=CollaborationSubject.request,
        entity_id=request.id,
        before={"occurrence": before},
        after={"occurrence": audit.snapshot(occurrence), "status": request.status.value},
    )
    await sync_timers(session, CollaborationSubject.occurrence, [occurrence.id], now=now)
    return request


async def _finish(
    session: AsyncSession,
    *,
    actor: Actor,
    request_id: int,
    status: CollaborationStatus,
    now: datetime,
) -> CollaborationRequest:
    request = await _request_for_write(session, request_id)
    verb = "close" if status == CollaborationStatus.closed else "cancel"
    await _require_party(session, actor, request, what=verb)
    _require_open(request)
    before = audit.snapshot(request)
    request.status = status
    request.closed_at = now
    request.next_occurrence_at = None
    cancelled = await _open_occurrences(session, request.id)
    for occurrence in cancelled:
        occurrence.status = OccurrenceStatus.cancelled
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action=f"collaboration.{verb}",
        entity_type=CollaborationSubject.request,
        entity_id=request.id,
        before=before,
        after={**audit.snapshot(request), "cancelled_occurrence_ids": [o.id for o in cancelled]},
    )
    for occurrence in cancelled:
        await sync_timers(session, CollaborationSubject.occurrence, [occurrence.id], now=now)
    return request


async def close_request(session: AsyncSession, *, actor: Actor, request_id: int, now: datetime) -> CollaborationRequest:
    """Stop a request: no more occurrences; open ones are cancelled (their timers too)."""
    return await _finish(session, actor=actor, request_id=request_id, status=CollaborationStatus.closed, now=now)


async def cancel_request(
    session: AsyncSession, *, actor: Actor, request_id: int, now: datetime
) -> CollaborationRequest:
    """Withdraw a request: it and its open occurrences are cancelled."""
    return await _finish(
        session,
        actor=actor,
        request_id=request_id,
        status=CollaborationStatus.cancelled,
        now=now,
    )


# ---- the worker ------------------------------------------------------------------------------------
async def _open_for(session: AsyncSession, request: CollaborationRequest, cal: Any, now: datetime) -> int:
    target = _target(request)
    opened = 0
    for _ in range(MAX_CATCH_UP):
        opened_at = request.next_occurrence_at
        if opened_at is None or opened_at > now:
            break
        # Deadlines come from the working day itself, never from when this worker got to it.
        day = cal.local_date(opened_at)
        occurrence_id = await session.scalar(
            pg_insert(CollaborationOccurrence)
            .values(
                request_id=request.id,
                occurrence_date=day,
                status=OccurrenceStatus.open,
                opened_at=opened_at,
                due_at=_occurrence_due(cal, day, target),
            )
            .on_conflict_do_nothing(index_elements=["request_id", "occurrence_date"])
            .returning(CollaborationOccurrence.id)
        )
        if occurrence_id is not None:
            opened += 1
            await audit.record(
                session,
                actor=WORKER,
                action="collaboration.occurrence_open",
                entity_type=CollaborationSubject.request,
                entity_id=request.id,
                after={"occurrence_id": occurrence_id, "occurrence_date": day.isoformat()},
            )
            await sync_timers(session, CollaborationSubject.occurrence, [occurrence_id], now=now)
        request.next_occurrence_at = _next_opening(cal, day)
    await session.flush()
    return opened


async def open_due_occurrences(session: AsyncSession, *, now: datetime, batch_size: int = 100) -> int:
    """Open the occurrences of recurring requests whose working day has begun; returns how many.

    Safe to run concurrently and twice: requests are claimed with SKIP LOCKED and an occurrence is
    unique per (request, working day). A worker that was down catches up (each missed day with its
    own deadline), at most MAX_CATCH_UP occurrences per request per call."""
    requests = list(
        await session.scalars(
            select(CollaborationRequest)
            .where(
                CollaborationRequest.status == CollaborationStatus.open,
                CollaborationRequest.next_occurrence_at.is_not(None),
                CollaborationRequest.next_occurrence_at <= now,
            )
            .order_by(CollaborationRequest.next_occurrence_at)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    if not requests:
        return 0
    cals = await load_calendars(session, {r.calendar_id for r in requests})
    opened = 0
    for request in requests:
        request_id = request.id  # read before a rolled-back savepoint expires the row's attributes
        try:
            # One request whose calendar cannot be scheduled must not hold up the others.
            async with session.begin_nested():
                opened += await _open_for(session, request, cals.get(request.calendar_id, cals[None]), now)
        except CalendarError as exc:
            log.error("collaboration request %s: cannot open occurrences (%s); retrying later", request_id, exc)
            request.next_occurrence_at = now + RETRY_LATER
    await session.flush()
    return opened


# ---- reads -----------------------------------------------------------------------------------------
def request_filter(
    stmt: Select[Any],
    *,
    department_id: int | None = None,
    initiating_department_id: int | None = None,
    collaborating_department_id: int | None = None,
    owner_id: int | None = None,
    statuses: Collection[CollaborationStatus] | None = None,
    campaign_id: int | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    now: datetime,
) -> Select[Any]:
    """The collaboration board's filters; `department_id` matches the initiating department or
    one of the collaborating ones."""
    if department_id is not None:
        stmt = stmt.where(
            or_(
                CollaborationRequest.initiating_department_id == department_id,
                CollaborationRequest.collaborating_department_ids.contains([department_id]),
            )
        )
    if initiating_department_id is not None:
        stmt = stmt.where(CollaborationRequest.initiating_department_id == initiating_department_id)
    if collaborating_department_id is not None:
        stmt = stmt.where(CollaborationRequest.collaborating_department_ids.contains([collaborating_department_id]))
    if owner_id is not None:
        stmt = stmt.where(CollaborationRequest.owner_id == owner_id)
    if statuses:
        stmt = stmt.where(any_of(CollaborationRequest.status, statuses))
    if q:
        stmt = stmt.where(contains_text(q, CollaborationRequest.matter))
    if campaign_id is not None:
        stmt = stmt.where(CollaborationRequest.campaign_id == campaign_id)
    if overdue is not None:
        breached = exists().where(
            CollaborationOccurrence.request_id == CollaborationRequest.id,
            CollaborationOccurrence.status == OccurrenceStatus.open,
            running_late(CollaborationSubject.occurrence, CollaborationOccurrence.id, now),
        )
        stmt = stmt.where(breached if overdue else ~breached)
    return stmt


async def recent_occurrences(
    session: AsyncSession, request_ids: list[int], *, limit: int = 30
) -> dict[int, list[CollaborationOccurrence]]:
    """Each request's most recent occurrences (newest first)."""
    out: dict[int, list[CollaborationOccurrence]] = {i: [] for i in request_ids}
    for request_id in request_ids:
        out[request_id] = list(
            await session.scalars(
                select(CollaborationOccurrence)
                .where(CollaborationOccurrence.request_id == request_id)
                .order_by(CollaborationOccurrence.occurrence_date.desc(), CollaborationOccurrence.id.desc())
                .limit(limit)
            )
        )
    return out


@on_campaign_cancelled(CollaborationSubject.occurrence)
async def cancel_for_campaign(session: AsyncSession, actor: Actor, campaign_id: int, now: datetime, reason: str) -> int:
    """The campaign was cancelled or completed: its open collaboration requests are cancelled (and
    their occurrences; the audit names the system actor, e.g. campaign-completed)."""
    ids = list(
        await session.scalars(
            select(CollaborationRequest.id).where(
                CollaborationRequest.campaign_id == campaign_id, CollaborationRequest.status == CollaborationStatus.open
            )
        )
    )
    for request_id in ids:
        await cancel_request(session, actor=actor, request_id=request_id, now=now)
    return len(ids)


async def _complete(session: AsyncSession, actor: Actor, occurrence_id: int, now: datetime) -> None:
    request_id = await session.scalar(
        select(CollaborationOccurrence.request_id).where(CollaborationOccurrence.id == occurrence_id)
    )
    if request_id is None:
        raise NotFound(f"occurrence {occurrence_id} does not exist")
    await complete_occurrence(
        session, actor=actor, request_id=request_id, occurrence_id=occurrence_id, data=OccurrenceCompletion(), now=now
    )


async def _completed(session: AsyncSession, occurrence_id: int) -> Done | None:
    occurrence = await session.get(CollaborationOccurrence, occurrence_id)
    if occurrence is None or occurrence.status != OccurrenceStatus.done:
        return None
    return Done(by=occurrence.done_by, at=occurrence.done_at)


register_completion(CollaborationSubject.occurrence, Completion(complete=_complete, completed=_completed))
