"""Keeping an item's timers in step with the item: the one call every domain makes after a change.

Run in the same transaction as the change: a subject entering a start status gets a timer per
matching policy, a pause status pauses it, a stop status meets it (with a resolved notice to
everyone alerted), a cancel status or a policy that no longer matches cancels it, and a moved
explicit deadline supersedes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import BusinessCalendar
from shared.errors import InvalidInput
from shared.models import EscalationPolicy, SlaPolicy, SlaTimer, TimerState
from shared.schemas import EARLIEST, LATEST
from shared.sla import registry, timers
from shared.sla.directory import load_calendars
from shared.sla.registry import SubjectContext, matches
from shared.sla.resolution import meet
from shared.sla.timers import ACTIVE_STATES


def check_due(due_at: datetime | None, *, field: str = "due_at") -> None:
    """An item's own deadline must lie in the years the service keeps calendars for, 2000–2099
    (422 naming the field). However far off, it costs a board read no more than a near one: the
    calendar answers from its index (shared/calendar/index.py)."""
    if due_at is not None and not EARLIEST <= due_at < LATEST:
        raise InvalidInput.for_field(field, "must lie between 2000-01-01 and 2100-01-01")


async def sync_timers(
    session: AsyncSession, subject_type: StrEnum, ids: Iterable[int], *, now: datetime, created: bool = False
) -> None:
    """Bring the timers of these subjects (of one registered type) in line with their state.
    `created`: the subjects were created in this transaction — they have no timers to read yet."""
    subject = registry.get(subject_type)
    ids = list(dict.fromkeys(ids))
    if not ids:
        return
    contexts = await subject.load(session, ids)
    # The subjects' open timers (locked), their type's policies with their escalations, and the
    # calendars they name: three statements whatever the number of subjects, read before any change.
    open_timers: dict[int, list[SlaTimer]] = {subject_id: [] for subject_id in ids}
    if not created:
        for timer in await session.scalars(_OPEN_TIMERS, {"type": subject.name, "ids": ids}):
            open_timers[timer.subject_id].append(timer)
    policies: list[tuple[SlaPolicy, EscalationPolicy | None]] = []
    cals: dict[int | None, BusinessCalendar] = {}
    if any(contexts.get(subject_id) is not None for subject_id in ids):
        policies = [(p, e) for p, e in await session.execute(_POLICIES, {"type": subject.name})]
        timers_of_page = [t for found in open_timers.values() for t in found]
        cals = await load_calendars(
            session, [p.calendar_id for p, _ in policies] + [t.calendar_id for t in timers_of_page]
        )
    for subject_id in ids:
        await _sync_one(session, contexts.get(subject_id), open_timers[subject_id], policies, cals, now)


# One statement whatever the number of subjects (an array parameter, not an IN list per length).
_OPEN_TIMERS = (
    select(SlaTimer)
    .where(
        SlaTimer.subject_type == bindparam("type"),
        SlaTimer.subject_id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
        SlaTimer.state.in_(ACTIVE_STATES),
    )
    .order_by(SlaTimer.id)
    .with_for_update()
)
_POLICIES = (
    select(SlaPolicy, EscalationPolicy)
    .outerjoin(EscalationPolicy, EscalationPolicy.id == SlaPolicy.escalation_policy_id)
    .where(SlaPolicy.subject_type == bindparam("type"), SlaPolicy.enabled.is_(True))
    .order_by(SlaPolicy.id)
)


async def _sync_one(
    session: AsyncSession,
    ctx: SubjectContext | None,
    open_timers: list[SlaTimer],
    policies: list[tuple[SlaPolicy, EscalationPolicy | None]],
    cals: dict[int | None, BusinessCalendar],
    now: datetime,
) -> None:
    if ctx is None:
        for timer in open_timers:
            timers.cancel(timer, now, "subject deleted")
        await session.flush()
        return
    enabled = {p.id for p, _ in policies}
    active: dict[int, SlaTimer] = {}
    for timer in open_timers:
        if timer.policy_id is None or timer.policy_id not in enabled:
            # Its policy was disabled or deleted: nothing will ever meet it. Stop it now, visibly.
            timers.cancel(timer, now, "policy disabled" if timer.policy_id is not None else "policy deleted")
        else:
            active[timer.policy_id] = timer
    for policy, escalation in policies:
        found = active.get(policy.id)
        applies = matches(policy.conditions or {}, ctx)
        status = ctx.status
        if found is None:
            cal = cals.get(policy.calendar_id, cals[None])
            if applies and ctx.timed and status in policy.start_statuses:
                session.add(timers.new_timer(policy=policy, escalation=escalation, ctx=ctx, cal=cal, now=now))
            continue
        timer, cal = found, cals.get(found.calendar_id, cals[None])
        if status in (policy.cancel_statuses or []):
            timers.cancel(timer, now, f"subject {status}")
        elif not applies:
            timers.cancel(timer, now, "policy no longer matches")
        elif status in policy.stop_statuses:
            await meet(session, timer, now=now, ctx=ctx)
        elif status in (policy.pause_statuses or []):
            if timer.state == TimerState.running:
                timers.pause(timer, cal, now)
        else:
            if timer.state == TimerState.paused:
                timers.resume(timer, cal, now)
            timer.department_id = ctx.department_id
            if ctx.explicit_due_at != timer.subject_due_at:
                timers.supersede(session, timer, policy=policy, escalation=escalation, ctx=ctx, cal=cal, now=now)
    await session.flush()
