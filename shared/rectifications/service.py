"""Rectification items: create, change, done (the owner), verified (someone else), reopened."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.audit import service as audit
from shared.calendar import CalendarError, Target
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput
from shared.filters import any_of, contains_text
from shared.models import Campaign, User
from shared.org.permissions import may_act, require_may_act
from shared.rectifications.models import Rectification, RectificationStatus
from shared.rectifications.schemas import (
    RectificationCounts,
    RectificationCreate,
    RectificationDeadline,
    RectificationUpdate,
)
from shared.rectifications.sla import RectificationSubject
from shared.sla.read import running_late
from shared.sla.registry import Completion, Done, register_completion
from shared.sla.sync import check_due, sync_timers

ITEM = RectificationSubject.rectification


def parse_deadline(deadline: RectificationDeadline) -> Target:
    """The item's own target, or a 422 naming `deadline.kind` / `deadline.value`."""
    try:
        return Target.parse(deadline.kind, deadline.value, field="value")
    except CalendarError as exc:
        field = exc.field if exc.field in ("kind", "value") else "value"
        raise InvalidInput.for_field(f"deadline.{field}", exc.message) from None


async def create(session: AsyncSession, *, actor: Actor, data: RectificationCreate, now: datetime) -> Rectification:
    """Record an item (the caller is its creator) and start its deadline: its `due_at`, else its
    own `deadline` target, else the policy's."""
    await crud.check_references(
        session, {"owner_id": (User, data.owner_id), "campaign_id": (Campaign, data.campaign_id)}
    )
    check_due(data.due_at)
    if data.due_at is not None and data.deadline is not None:
        raise InvalidInput.for_field("deadline", "give either due_at or deadline, not both")
    values = data.model_dump(exclude={"deadline"})
    if data.deadline is not None:
        target = parse_deadline(data.deadline)
        values |= {"deadline_kind": target.kind.value, "deadline_value": target.value}
    item = Rectification(**values, created_by=actor.user_id, status=RectificationStatus.open)
    item = await crud.create(session, actor=actor, obj=item, entity_type=ITEM)
    await sync_timers(session, ITEM, [item.id], now=now)
    return item


async def _manager_of(session: AsyncSession, user_id: int | None) -> int | None:
    user = await session.get(User, user_id) if user_id is not None else None
    return user.manager_id if user is not None else None


async def _campaign_owner(session: AsyncSession, campaign_id: int | None) -> int | None:
    campaign = await session.get(Campaign, campaign_id) if campaign_id is not None else None
    return campaign.owner_id if campaign is not None else None


async def _verifiers(session: AsyncSession, item: Rectification) -> list[int | None]:
    """Who may verify the owner's work: the campaign's owner and the owner's manager."""
    return [await _campaign_owner(session, item.campaign_id), await _manager_of(session, item.owner_id)]


async def _overseers(session: AsyncSession, item: Rectification) -> list[int | None]:
    """Who checks the owner's work: the creator, the campaign's owner and the owner's manager."""
    return [
        item.created_by,
        await _campaign_owner(session, item.campaign_id),
        await _manager_of(session, item.owner_id),
    ]


async def update(
    session: AsyncSession, *, actor: Actor, item_id: int, changes: RectificationUpdate, now: datetime
) -> Rectification:
    """Change the text, owner or due date (the owner, whoever oversees it, or a manager); the
    deadline follows."""
    item = await crud.get_or_404(session, Rectification, item_id, for_update=True)
    await require_may_act(
        session,
        actor,
        who="the owner, the creator, the campaign owner, the owner's manager or a manager",
        what="change this rectification item",
        parties=[item.owner_id, *await _overseers(session, item)],
    )
    values: dict[str, Any] = changes.model_dump(exclude_unset=True)
    await crud.check_references(session, {"owner_id": (User, values.get("owner_id"))})
    check_due(values.get("due_at"))
    item = await crud.update(session, actor=actor, obj=item, changes=values, entity_type=ITEM)
    await sync_timers(session, ITEM, [item.id], now=now)
    return item


def _require_status(item: Rectification, *wanted: RectificationStatus) -> None:
    if item.status not in wanted:
        raise Conflict(f"the item is {item.status.value}", errors=[FieldError("status", item.status.value, "state")])


async def start(session: AsyncSession, *, actor: Actor, item_id: int, now: datetime) -> Rectification:
    """The owner (or a manager) is on it: in progress, the deadline keeps running."""
    item = await crud.get_or_404(session, Rectification, item_id, for_update=True)
    await require_may_act(session, actor, who="the owner or a manager", what="start this item", parties=[item.owner_id])
    _require_status(item, RectificationStatus.open)
    changes = {"status": RectificationStatus.in_progress}
    item = await crud.update(session, actor=actor, obj=item, changes=changes, entity_type=ITEM)
    await sync_timers(session, ITEM, [item.id], now=now)
    return item


async def mark_done(session: AsyncSession, *, actor: Actor, item_id: int, now: datetime) -> Rectification:
    """The owner (or a manager) says it is fixed: its deadline is met."""
    item = await crud.get_or_404(session, Rectification, item_id, for_update=True)
    await require_may_act(
        session, actor, who="the owner or a manager", what="finish this item", parties=[item.owner_id]
    )
    _require_status(item, RectificationStatus.open, RectificationStatus.in_progress)
    changes = {"status": RectificationStatus.done, "done_at": now}
    item = await crud.update(session, actor=actor, obj=item, changes=changes, entity_type=ITEM)
    await sync_timers(session, ITEM, [item.id], now=now)
    return item


async def verify(session: AsyncSession, *, actor: Actor, item_id: int, now: datetime) -> Rectification:
    """Someone other than the owner — the campaign owner, the owner's manager or a manager —
    confirms the fix."""
    item = await crud.get_or_404(session, Rectification, item_id, for_update=True)
    if actor.user_id is not None and actor.user_id == item.owner_id:
        raise Forbidden("nobody verifies their own rectification item")
    await require_may_act(
        session,
        actor,
        who="the campaign owner, the owner's manager or a manager",
        what="verify this item",
        parties=await _verifiers(session, item),
    )
    _require_status(item, RectificationStatus.done)
    changes = {"status": RectificationStatus.verified, "verified_at": now, "verified_by": actor.user_id}
    item = await crud.update(session, actor=actor, obj=item, changes=changes, entity_type=ITEM)
    await sync_timers(session, ITEM, [item.id], now=now)
    return item


async def reopen(session: AsyncSession, *, actor: Actor, item_id: int, reason: str, now: datetime) -> Rectification:
    """Not fixed after all: back to open with a fresh deadline, the reason on the record."""
    item = await crud.get_or_404(session, Rectification, item_id, for_update=True)
    overseers = await _overseers(session, item)
    if not await may_act(session, actor, parties=[item.owner_id, *overseers]):
        raise Forbidden("only the owner, the creator, the campaign owner, the owner's manager or a manager may reopen")
    _require_status(item, RectificationStatus.done, RectificationStatus.verified)
    before = audit.snapshot(item)
    item.status, item.done_at, item.verified_at, item.verified_by = RectificationStatus.open, None, None, None
    await session.flush()
    await session.refresh(item)  # updated_at, set by the database
    await audit.record(
        session,
        actor=actor,
        action="rectification.reopen",
        entity_type=ITEM,
        entity_id=item.id,
        before=before,
        after={**audit.snapshot(item), "reason": reason},
    )
    await sync_timers(session, ITEM, [item.id], now=now)
    return item


def item_filter(
    stmt: Select[Any],
    *,
    department_id: int | None = None,
    owner_id: int | None = None,
    campaign_id: int | None = None,
    statuses: Collection[RectificationStatus] | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    now: datetime,
) -> Select[Any]:
    """The rectification board's filters. An item's department is its owner's department or its
    campaign's department: either matches."""
    if department_id is not None:
        stmt = stmt.where(
            or_(
                Rectification.owner_id.in_(select(User.id).where(User.department_id == department_id)),
                Rectification.campaign_id.in_(select(Campaign.id).where(Campaign.department_id == department_id)),
            )
        )
    if owner_id is not None:
        stmt = stmt.where(Rectification.owner_id == owner_id)
    if campaign_id is not None:
        stmt = stmt.where(Rectification.campaign_id == campaign_id)
    if statuses:
        stmt = stmt.where(any_of(Rectification.status, statuses))
    if q:
        stmt = stmt.where(contains_text(q, Rectification.title))
    if overdue is not None:
        late = running_late(ITEM, Rectification.id, now)
        stmt = stmt.where(late if overdue else ~late)
    return stmt


async def campaign_counts(session: AsyncSession, *, campaign_id: int, now: datetime) -> RectificationCounts:
    """A campaign's items by status, and how many are overdue (a running timer past its deadline)."""
    await crud.get_or_404(session, Campaign, campaign_id)
    rows = await session.execute(
        select(Rectification.status, func.count())
        .where(Rectification.campaign_id == campaign_id)
        .group_by(Rectification.status)
    )
    by_status = {str(status): count for status, count in rows.all()}
    overdue = await session.scalar(
        select(func.count())
        .select_from(Rectification)
        .where(Rectification.campaign_id == campaign_id, running_late(ITEM, Rectification.id, now))
    )
    return RectificationCounts(
        campaign_id=campaign_id,
        **{s.value: by_status.get(s.value, 0) for s in RectificationStatus},
        overdue=overdue or 0,
    )


async def _complete(session: AsyncSession, actor: Actor, item_id: int, now: datetime) -> None:
    await mark_done(session, actor=actor, item_id=item_id, now=now)


async def _completed(session: AsyncSession, item_id: int) -> Done | None:
    item = await session.get(Rectification, item_id)
    if item is None or item.status not in (RectificationStatus.done, RectificationStatus.verified):
        return None
    who = await audit.who_set(session, entity_type=ITEM, entity_id=item_id, field="status", value="done")
    return Done(by=who[0] if who else None, at=item.done_at)


register_completion(ITEM, Completion(complete=_complete, completed=_completed))
