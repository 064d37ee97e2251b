"""Deadline extensions (申请延期): ask for more time on a timed item; the item's manager decides.

A request is an approval of kind `extension` on the item's department: the rule of that kind
chooses the chain (seeded: the department's head), and when nobody can decide that way (no head,
or the head asks for themself) the first active director, else admin, decides. Its approvers run
under the approvers' own SLA, so a forgotten request escalates like any approval.

Approved, the item's own due date (where it has one: `SubjectSpec.due_column`) and each running
timer due before the new deadline move to it. A timer is re-armed the way a moved due date re-arms
it (`timers.supersede`): the old timer is cancelled ("deadline extended by approval #N") and keeps
its breach and its escalations; on the new one, a level that already fired stays fired if its
moment against the new deadline has passed too, and every other level — the breach included —
fires again when the new deadline reaches it. The item's trail says "deadline extended from X to Y
by approval #N". Rejected, nothing moves, and the requester hears the decision with its reason
(`work.decision_made`, as for every approval).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access import policy
from shared.actor import Actor
from shared.approvals import service as approvals
from shared.approvals.hooks import on_approval_decided
from shared.audit import service as audit
from shared.calendar import BusinessCalendar, CalendarError
from shared.clock import Clock
from shared.errors import Conflict, FieldError, InvalidInput, NotFound, must_be_one_of
from shared.models import (
    Approval,
    ApprovalKind,
    ApprovalRule,
    ApprovalStatus,
    EscalationPolicy,
    Role,
    SlaPolicy,
    SlaTimer,
    TimerState,
    User,
)
from shared.org.permissions import require_may_act
from shared.sla import registry, timers
from shared.sla.directory import load_calendars
from shared.sla.registry import SubjectContext, SubjectSpec
from shared.sla.sync import check_due

MAX_DAYS = 366
_AMOUNT = re.compile(
    r"^(?:(?P<d>\d{1,3})(?:d|天|个工作日|工作日))?"
    r"(?:(?P<h>\d{1,4}(?:\.\d+)?)(?:h|小时|个小时))?"
    r"(?:(?P<m>\d{1,5})(?:m|min|分钟))?$"
)
SOURCE_API = "api"


@dataclass(frozen=True)
class Amount:
    """Working time to add: whole working days (same time of day), then working hours and minutes."""

    days: int = 0
    working: timedelta = timedelta(0)

    def after(self, cal: BusinessCalendar, start: datetime) -> datetime:
        due = start
        if self.days:
            # Whole days land on the same time of day; re-counted as working time so that a deadline
            # at a day's end stays at a day's end (Fri 18:00 + 2d: Tue 18:00, not Wed 09:00).
            due = cal.add_working(start, cal.working_between(start, cal.add_working_days(start, self.days)))
        return cal.add_working(due, self.working) if self.working else due


def parse_amount(text: str, field: str = "extend_by") -> Amount:
    """`2d` (working days), `4h`, `30m`, `1d2h` (also 2天, 4小时, 30分钟), case and spaces ignored."""
    m = _AMOUNT.match(re.sub(r"\s+", "", text).lower())
    if m is None or not any(m.groupdict().values()):
        raise InvalidInput.for_field(field, f"{text!r} is not an amount of working time such as 2d, 4h or 1d2h")
    days = int(m["d"] or 0)
    working = timedelta(hours=float(m["h"] or 0), minutes=int(m["m"] or 0))
    if days == 0 and working <= timedelta(0):
        raise InvalidInput.for_field(field, "must be more than zero", "range")
    if days > MAX_DAYS or working > timedelta(days=MAX_DAYS):
        raise InvalidInput.for_field(field, f"at most {MAX_DAYS} working days", "range")
    return Amount(days, working)


# ---- the item -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    spec: SubjectSpec
    ctx: SubjectContext
    trail: tuple[str, int] | None  # the trail item the subject belongs to (name, id)


async def _trail_item(session: AsyncSession, spec: SubjectSpec, subject_id: int) -> tuple[str, int] | None:
    """The item of the permission model this subject belongs to (a task is itself, a collaboration
    occurrence its request)."""
    for link in spec.trail:
        own_id = link.column.class_.id
        if link.column is own_id:
            return str(link.item), subject_id
        item_id = await session.scalar(select(link.column).where(own_id == subject_id))
        if item_id is not None:
            return str(link.item), int(item_id)
    return None


async def _item(session: AsyncSession, actor: Actor, subject_type: str, subject_id: int) -> Item:
    """The subject as the caller may see it: 422 for a type that is not timed, 404 for one they may
    not see (as if it did not exist), 403 for one they see but may not change."""
    spec = registry.find(subject_type)
    if spec is None:
        raise InvalidInput.for_field("subject_type", must_be_one_of(registry.names()))
    ctx = (await spec.load(session, [subject_id])).get(subject_id)
    missing = NotFound(f"{subject_type} {subject_id} does not exist")
    if ctx is None:
        raise missing
    trail = await _trail_item(session, spec, subject_id)
    if trail is not None and trail[0] in policy.RULES:
        await policy.require_write(session, actor, trail[0], trail[1])
    elif not actor.sees_everything:
        raise missing
    await require_may_act(
        session,
        actor,
        who="its assignee or a manager",
        what="ask for more time on it",
        parties=[ctx.assignee_id],
        home=[ctx.department_id],
    )
    return Item(spec, ctx, trail)


async def _timers(session: AsyncSession, item: Item, *, states: tuple[TimerState, ...]) -> list[SlaTimer]:
    """The item's timers in these states, locked: requests and decisions on one item queue up."""
    return list(
        await session.scalars(
            select(SlaTimer)
            .where(
                SlaTimer.subject_type == item.spec.name,
                SlaTimer.subject_id == item.ctx.id,
                SlaTimer.state.in_(states),
            )
            .order_by(SlaTimer.id)
            .with_for_update()
        )
    )


def _state_conflict(item: Item, why: str) -> Conflict:
    label = item.spec.label("en-US").lower()
    return Conflict(f"{label} {item.ctx.id} {why}", errors=[FieldError("subject_id", why, "state")])


async def _running(session: AsyncSession, item: Item) -> list[SlaTimer]:
    """The running timers; 409 naming why there are none (finished, paused, never timed)."""
    spec, status = item.spec, item.ctx.status
    if status in (*spec.default_stop, *spec.default_cancel):
        raise _state_conflict(item, f"is {status}: a finished item needs no more time")
    found = await _timers(session, item, states=(TimerState.running, TimerState.paused))
    running = [t for t in found if t.state == TimerState.running]
    if not running:
        why = "its clock is paused: nothing is due while it is" if found else "has no running deadline"
        raise _state_conflict(item, why)
    return running


async def pending_for(session: AsyncSession, subject_type: str, subject_id: int) -> Approval | None:
    """The item's extension request still waiting for a decision, if any."""
    return (
        await session.scalars(
            select(Approval)
            .where(
                Approval.kind == ApprovalKind.extension,
                Approval.status == ApprovalStatus.pending,
                Approval.details["subject_type"].astext == subject_type,
                Approval.details["subject_id"].as_integer() == subject_id,
            )
            .order_by(Approval.id)
        )
    ).first()


# ---- request ------------------------------------------------------------------------------------


def _wanted(extend_to: datetime | None, extend_by: str | None, reason: str) -> Amount | None:
    """Exactly one of the two, and a reason: every bad field at once."""
    errors = []
    if extend_to is not None and extend_by is not None:
        errors.append(FieldError("extend_by", "give extend_to or extend_by, not both"))
    elif extend_to is None and not (extend_by or "").strip():
        message = "give the new deadline (extend_to) or the working time to add (extend_by)"
        errors += [FieldError("extend_to", message, "missing"), FieldError("extend_by", message, "missing")]
    if extend_to is not None and extend_to.tzinfo is None:
        errors.append(FieldError("extend_to", "must include a timezone, e.g. +08:00"))
    if not (reason or "").strip():
        errors.append(FieldError("reason", "say why more time is needed", "missing"))
    if errors:
        raise InvalidInput.for_fields(errors)
    return parse_amount(extend_by) if extend_by is not None else None


def _local(cal: BusinessCalendar, t: datetime) -> str:
    return t.astimezone(cal.tz).strftime("%Y-%m-%d %H:%M")


async def _fallback_rule(session: AsyncSession, requester_id: int | None) -> ApprovalRule | None:
    """A one-step chain to the first active director (else admin) who is not the requester: the
    item's department has nobody else to decide."""
    for role in (Role.director, Role.admin):
        user_id = await session.scalar(
            select(User.id)
            .where(User.role == role, User.is_active.is_(True), User.id != (requester_id or -1))
            .order_by(User.id)
            .limit(1)
        )
        if user_id is not None:
            step = {"name": "总监 Director" if role == Role.director else "管理员 Admin", "mode": "one"}
            return ApprovalRule(
                name="延期申请 无人可批时 Extension: no department head to decide",
                kind=ApprovalKind.extension,
                steps=[step | {"approvers": [f"user:{user_id}"], "time_limit": None}],
            )
    return None


def _undecidable(exc: Conflict) -> bool:
    """The department's chain resolves to nobody, or to the requester alone (or no rule matches)."""
    return bool(exc.errors) and all(e.type in ("approver", "rule") for e in exc.errors)


async def request_extension(
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    *,
    subject_type: str,
    subject_id: int,
    extend_to: datetime | None,
    extend_by: str | None,
    reason: str,
    source: str = SOURCE_API,
) -> Approval:
    """Ask the item's manager for more time: an approval of kind `extension` whose `details` carry
    the item, its current and requested deadline, the reason and where the request came from."""
    now = clock.now()
    amount = _wanted(extend_to, extend_by, reason)
    item = await _item(session, actor, subject_type, subject_id)
    running = await _running(session, item)
    if (pending := await pending_for(session, item.spec.name, subject_id)) is not None:
        raise Conflict(
            f"extension request #{pending.id} for this item is still pending: wait for its decision or cancel it",
            errors=[FieldError("subject_id", f"extension request #{pending.id} is pending", "duplicate")],
        )
    first = min(running, key=lambda t: t.due_at)  # the deadline the item misses first
    cals = await load_calendars(session, [first.calendar_id])
    due_from = first.due_at
    calendar = cals.get(first.calendar_id, cals[None])
    field = "extend_by" if amount is not None else "extend_to"
    try:
        due_to = amount.after(calendar, due_from) if amount is not None else extend_to
    except (CalendarError, OverflowError):
        raise InvalidInput.for_field(field, "lies beyond the years the calendar covers", "range") from None
    assert due_to is not None
    check_due(due_to, field=field)
    if due_to <= due_from:
        raise InvalidInput.for_field(
            field, f"must be later than the current deadline {_local(calendar, due_from)}", "range"
        )
    ctx = item.ctx
    label = item.spec.label("zh-CN", ctx.tags)
    title = f"延期申请 Extension: {label}「{ctx.title}」{_local(calendar, due_from)} → {_local(calendar, due_to)}"
    details: dict[str, Any] = {
        "subject_type": item.spec.name,
        "subject_id": ctx.id,
        "subject_title": ctx.title,
        "subject_path": ctx.path,
        "calendar_id": first.calendar_id,
        "due_from": due_from.astimezone(calendar.tz).isoformat(),  # on the item's calendar's clock
        "due_to": due_to.astimezone(calendar.tz).isoformat(),
        "extend_to": extend_to.isoformat() if extend_to is not None else None,
        "extend_by": extend_by,
        "reason": reason.strip(),
        "source": source,
        "requested_by": actor.user_id,
    }

    async def ask(rule: ApprovalRule | None = None) -> Approval:
        return await approvals.request_for_item(
            session,
            actor=actor,
            kind=ApprovalKind.extension,
            title=title[:300],
            reason=reason.strip(),
            department_id=ctx.department_id,
            details=details,
            now=now,
            rule=rule,
        )

    try:
        return await ask()
    except Conflict as exc:
        if not _undecidable(exc):
            raise
        fallback = await _fallback_rule(session, actor.user_id)
        if fallback is None:
            raise
        details["fallback"] = exc.detail
        return await ask(fallback)


# ---- decision -----------------------------------------------------------------------------------


@on_approval_decided(ApprovalKind.extension)
async def extension_decided(session: AsyncSession, approval: Approval, now: datetime) -> None:
    """Approved: the item's deadline moves and its timers re-arm (see the module's docstring).
    Rejected: nothing moves (the requester is told by the approval's decision notice)."""
    if approval.status != ApprovalStatus.approved:
        return
    spec = registry.find(str(approval.details.get("subject_type")))
    if spec is None:
        return
    subject_id = int(approval.details["subject_id"])
    ctx = (await spec.load(session, [subject_id])).get(subject_id)
    if ctx is None:
        return  # the item is gone: nothing to move
    item = Item(spec, ctx, await _trail_item(session, spec, subject_id))
    due_from = datetime.fromisoformat(approval.details["due_from"])
    due_to = datetime.fromisoformat(approval.details["due_to"])
    # A paused clock keeps what it had left; it re-arms against the moved due date when it resumes.
    moving = [
        t for t in await _timers(session, item, states=(TimerState.running,)) if t.due_at < due_to and t.policy_id
    ]
    if not moving:
        return  # finished or paused meanwhile, or already due later: the approval changes nothing
    if spec.due_column is not None:
        model = spec.due_column.class_
        await session.execute(update(model).where(model.id == subject_id).values({spec.due_column.key: due_to}))
    extended = replace(ctx, explicit_due_at=due_to)
    cals = await load_calendars(session, [t.calendar_id for t in moving])
    reason = f"deadline extended by approval #{approval.id}"
    for old in moving:
        sla_policy = await session.get(SlaPolicy, old.policy_id)
        if sla_policy is None:
            continue
        escalation = (
            await session.get(EscalationPolicy, sla_policy.escalation_policy_id)
            if sla_policy.escalation_policy_id
            else None
        )
        cal = cals.get(old.calendar_id, cals[None])
        new = timers.supersede(
            session, old, policy=sla_policy, escalation=escalation, ctx=extended, cal=cal, now=now, reason=reason
        )
        if spec.due_column is None:
            # The item states no due date of its own: the timer keeps the item's (none), so the next
            # sync of the item leaves the extended deadline alone.
            new.subject_due_at = ctx.explicit_due_at
    await session.flush()
    if item.trail is not None:
        cal = cals.get(moving[0].calendar_id, cals[None])
        note = f"deadline extended from {_local(cal, due_from)} to {_local(cal, due_to)} by approval #{approval.id}"
        await audit.record(
            session,
            actor=Actor.system(f"approval:{approval.id}"),
            action="deadline.extend",
            entity_type=item.trail[0],
            entity_id=item.trail[1],
            before={"due_at": due_from.isoformat()},
            after={
                "due_at": due_to.isoformat(),
                "approval_id": approval.id,
                "subject_type": spec.name,
                "subject_id": subject_id,
                "source": approval.details.get("source"),
                "note": note,
            },
        )
