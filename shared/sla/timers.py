"""Timer lifecycle, run in the same transaction as the subject change that causes it.

start → (pause ↔ resume)* → met | cancelled. Paused time never counts: on resume the remaining
target is re-applied from the resume instant in the target's own kind (calendar seconds, working
seconds, or whole working days plus the remaining part of a day).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import BusinessCalendar, Target, TargetKind
from shared.models import EscalationPolicy, SlaPolicy, SlaTimer, TimerState
from shared.sla.levels import Clockwork, Level, level_moment, levels_from_json, next_fire_at
from shared.sla.registry import SubjectContext

ACTIVE_STATES = (TimerState.running, TimerState.paused)
WORKING_KINDS = (TargetKind.working_hours, TargetKind.working_days)
EXPLICIT_DUE = "due_at"  # a board's target kind for a subject's own due date (see TimerSummary.target)


@lru_cache(maxsize=512)
def _parsed_levels(levels_json: str) -> tuple[Level, ...]:
    return tuple(levels_from_json(json.loads(levels_json)))


def levels_from_text(levels_json: str) -> tuple[Level, ...]:
    """Parse levels straight from their JSON text (cached by that text)."""
    return _parsed_levels(levels_json)


def timer_levels(timer: Any) -> tuple[Level, ...]:
    """Parsed levels, cached by content: every timer of a policy shares one parse."""
    return _parsed_levels(json.dumps(timer.levels, sort_keys=True))


def clockwork(timer: Any, cal: BusinessCalendar) -> Clockwork:
    return Clockwork(cal, timer.target_kind, timer.due_at, timer.target_s)


def target_length(cal: BusinessCalendar, kind: str, start: datetime, due: datetime) -> float:
    if kind in WORKING_KINDS:
        return cal.working_between(start, due).total_seconds()
    return max(0.0, (due - start).total_seconds())


def reschedule(timer: Any, cal: BusinessCalendar, levels: Sequence[Level] | None = None) -> None:
    """Set next_fire_at: the next unfired level's moment, or the breach itself (works on ORM rows
    and on the sweep's plain rows alike)."""
    if timer.state != TimerState.running:
        timer.next_fire_at = None
        return
    timer.next_fire_at = next_fire_at(
        levels if levels is not None else timer_levels(timer),
        clockwork(timer, cal),
        set(timer.fired),
        breached=timer.breached_at is not None,
        acked=timer.acked_levels or (),
    )


def new_timer(
    *,
    policy: SlaPolicy,
    escalation: EscalationPolicy | None,
    ctx: SubjectContext,
    cal: BusinessCalendar,
    now: datetime,
    started_at: datetime | None = None,
    fired: Sequence[str] = (),
    paused_total_s: float = 0.0,
) -> SlaTimer:
    start = started_at or now
    kind, value = ctx.explicit_target or (policy.target_kind, policy.target_value)
    target = Target.parse(kind, value)
    # Time spent paused pushes a computed deadline out (the clock started that much later).
    due = ctx.explicit_due_at or cal.deadline(start + timedelta(seconds=paused_total_s), target)
    timer = SlaTimer(
        subject_type=ctx.type,
        subject_id=ctx.id,
        policy_id=policy.id,
        calendar_id=policy.calendar_id,
        department_id=ctx.department_id,
        target_kind=kind,
        target_value=value,
        subject_due_at=ctx.explicit_due_at,
        target_s=target_length(cal, kind, start, due),
        levels=list(escalation.levels) if escalation else [],
        state=TimerState.running,
        started_at=start,
        due_at=due,
        paused_total_s=paused_total_s,
        fired=list(fired),
        acked_levels=[],
        # When this schedule was set, on the injected clock: a level whose moment had passed by then
        # (an item created overdue, a due date moved into the past) was never missed by the worker.
        created_at=now,
    )
    reschedule(timer, cal)
    return timer


def pause(timer: SlaTimer, cal: BusinessCalendar, now: datetime) -> None:
    """Stop the clock, remembering what is left in the target's own kind. Paused after the
    breach, what is left is negative (how overdue it was): resuming keeps it overdue by as much."""
    if timer.target_kind == TargetKind.working_days and now < timer.due_at:
        days = 0
        while days < 366 and cal.add_working_days(now, days + 1) <= timer.due_at:
            days += 1
        anchor = cal.add_working_days(now, days) if days else now
        timer.remaining_days = days
        timer.remaining_s = cal.working_between(anchor, timer.due_at).total_seconds()
    elif timer.target_kind in WORKING_KINDS:
        timer.remaining_days = 0
        timer.remaining_s = _signed_working(cal, now, timer.due_at)
    else:
        timer.remaining_days = 0
        timer.remaining_s = (timer.due_at - now).total_seconds()
    timer.state = TimerState.paused
    timer.paused_at = now
    timer.next_fire_at = None


def _signed_working(cal: BusinessCalendar, now: datetime, due: datetime) -> float:
    if now <= due:
        return cal.working_between(now, due).total_seconds()
    return -cal.working_between(due, now).total_seconds()


def resume(timer: SlaTimer, cal: BusinessCalendar, now: datetime) -> None:
    """Re-apply the remaining target from `now`."""
    assert timer.paused_at is not None
    remaining = timedelta(seconds=timer.remaining_s or 0.0)
    if timer.target_kind == TargetKind.working_days:
        anchor = cal.add_working_days(now, timer.remaining_days) if timer.remaining_days else now
        timer.due_at = cal.add_working(anchor, remaining) if remaining else anchor
    elif timer.target_kind == TargetKind.working_hours:
        timer.due_at = cal.add_working(now, remaining)
    else:
        timer.due_at = now + remaining
    timer.paused_total_s += (now - timer.paused_at).total_seconds()
    timer.paused_at = None
    timer.remaining_days = timer.remaining_s = None
    timer.state = TimerState.running
    reschedule(timer, cal)


def end_pause(timer: SlaTimer, now: datetime) -> None:
    """A paused timer that ends (met or cancelled) counts its pause up to now."""
    if timer.state == TimerState.paused and timer.paused_at is not None:
        timer.paused_total_s += (now - timer.paused_at).total_seconds()
        timer.paused_at = None
        timer.remaining_days = timer.remaining_s = None


def cancel(timer: SlaTimer, now: datetime, reason: str) -> None:
    end_pause(timer, now)
    timer.state = TimerState.cancelled
    timer.cancelled_at = now
    timer.cancel_reason = reason
    timer.next_fire_at = None


def remaining(timer: SlaTimer, cal: BusinessCalendar, now: datetime) -> float:
    """Seconds left, in the target's own kind (negative once breached); frozen while paused."""
    if timer.state == TimerState.paused:
        return float(timer.remaining_s or 0.0)  # plus remaining_days whole days for working_days targets
    if timer.state != TimerState.running:
        return 0.0
    if timer.target_kind in WORKING_KINDS:
        return _signed_working(cal, now, timer.due_at)
    return (timer.due_at - now).total_seconds()


def countdown(timer: SlaTimer, cal: BusinessCalendar, now: datetime) -> tuple[float, float] | None:
    """Wall-clock and working seconds (on the timer's calendar) from now to the deadline, negative
    past it; a paused clock shows them as they stood when it stopped; None once met or cancelled."""
    if timer.state == TimerState.running:
        at = now
    elif timer.state == TimerState.paused and timer.paused_at is not None:
        at = timer.paused_at
    else:
        return None
    return (timer.due_at - at).total_seconds(), _signed_working(cal, at, timer.due_at)


def shown_target(timer: SlaTimer) -> dict[str, str]:
    """The target a board shows: the subject's own due date when one overrides the policy."""
    if timer.subject_due_at is not None:
        return {"kind": EXPLICIT_DUE, "value": timer.subject_due_at.isoformat()}
    return {"kind": timer.target_kind, "value": timer.target_value}


def supersede(
    session: AsyncSession,
    old: SlaTimer,
    *,
    policy: SlaPolicy,
    escalation: EscalationPolicy | None,
    ctx: SubjectContext,
    cal: BusinessCalendar,
    now: datetime,
    reason: str = "deadline changed",
) -> SlaTimer:
    """The deadline itself changed: re-arm (the new timer is returned; the old one, cancelled with
    `reason`, keeps its breach and escalations). Levels that already fired and would now lie in the
    past stay fired (no burst of stale warnings); the rest fire again against the new deadline."""
    cancel(old, now, reason)

    def arm(fired: Sequence[str] = ()) -> SlaTimer:
        return new_timer(
            policy=policy,
            escalation=escalation,
            ctx=ctx,
            cal=cal,
            now=now,
            started_at=old.started_at,
            fired=fired,
            paused_total_s=old.paused_total_s,
        )

    draft = arm()
    levels, cw = timer_levels(draft), clockwork(draft, cal)
    timer = arm(fired=[k for k in old.fired if _moment(levels, cw, k) <= now])
    session.add(timer)
    return timer


def _moment(levels: Sequence[Level], cw: Clockwork, key: str) -> datetime:
    level, repeat = (int(x) for x in key.split(":"))
    if level >= len(levels):
        return datetime.max.replace(tzinfo=cw.due_at.tzinfo)
    return level_moment(cw, levels[level], repeat)


def summary(timer: Any, cal: BusinessCalendar, now: datetime) -> dict[str, Any]:
    """What a board shows about a timer (an `SlaTimer`, or a row of the columns it reads)."""
    clock = countdown(timer, cal, now)
    if clock is not None and timer.state == TimerState.running and timer.target_kind in WORKING_KINDS:
        left = clock[1]  # what `remaining` would count again: the working seconds from now to the deadline
    else:
        left = remaining(timer, cal, now)
    return {
        "id": timer.id,
        "policy_id": timer.policy_id,
        "state": timer.state.value,
        "target": shown_target(timer),
        "started_at": timer.started_at,
        "due_at": timer.due_at,
        "seconds_to_due": _seconds(clock[0]) if clock else None,
        "working_seconds_left": _seconds(clock[1]) if clock else None,
        "remaining_s": _seconds(left),
        "remaining_days": timer.remaining_days if timer.state == TimerState.paused else None,
        "breached": timer.breached_at is not None
        or (timer.state == TimerState.running and now >= timer.due_at)
        or (timer.state == TimerState.paused and left < 0),
        "breached_at": timer.breached_at,
        "paused": timer.state == TimerState.paused,
        "paused_total_s": round(timer.paused_total_s, 3),
        "met_at": timer.met_at,
        "cancelled_at": timer.cancelled_at,
        "levels_fired": list(timer.fired),
        "next_fire_at": timer.next_fire_at,
        "warnings": estimate_warnings(cal, timer.target_kind, timer.started_at, timer.due_at)
        if timer.state in ACTIVE_STATES
        else [],
    }


def estimate_warnings(cal: BusinessCalendar, kind: str, start: datetime, due: datetime) -> list[dict[str, Any]]:
    """Warnings about estimated statutory data under a deadline; a calendar-time target never
    depends on holidays."""
    if kind == TargetKind.calendar:
        return []
    return cal.estimate_warnings(start, due)


def _seconds(value: float) -> float:
    return round(value, 3) + 0.0  # never -0.0
