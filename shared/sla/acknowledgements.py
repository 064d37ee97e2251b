"""Acknowledging an alert (认领): someone says they took a fired level of a timer.

The acknowledgement is recorded once per (timer, level) — who, when, from where — and the level is
added to the timer's `acked_levels`, which the sweep reads on the row it claims anyway: the level's
further repeats are not sent, while later levels still fire (nobody finishing still escalates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.audit import service as audit
from shared.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.models import SlaAcknowledgement, SlaTimer, TimerState, User
from shared.sla.directory import load_calendars
from shared.sla.timers import reschedule

OPEN_STATES = (TimerState.running, TimerState.paused)


@dataclass(frozen=True)
class Acknowledged:
    """One acknowledgement as a message tells it."""

    timer_id: int
    level: int
    user_id: int | None
    user_name: str | None
    source: str
    at: datetime


def fired_levels(timer: SlaTimer) -> set[int]:
    """The levels of this timer that have fired at least once."""
    return {int(key.split(":")[0]) for key in timer.fired or ()}


async def find(session: AsyncSession, timer_id: int, level: int) -> Acknowledged | None:
    row = (
        await session.execute(
            select(SlaAcknowledgement, User.name)
            .outerjoin(User, User.id == SlaAcknowledgement.user_id)
            .where(SlaAcknowledgement.timer_id == timer_id, SlaAcknowledgement.level == level)
        )
    ).first()
    if row is None:
        return None
    ack, name = row
    return Acknowledged(ack.timer_id, ack.level, ack.user_id, name, ack.source, ack.at)


async def latest(session: AsyncSession, subject_type: str, subject_id: int) -> Acknowledged | None:
    """The newest acknowledgement of any of the subject's timers."""
    row = (
        await session.execute(
            select(SlaAcknowledgement, User.name)
            .join(SlaTimer, SlaTimer.id == SlaAcknowledgement.timer_id)
            .outerjoin(User, User.id == SlaAcknowledgement.user_id)
            .where(SlaTimer.subject_type == subject_type, SlaTimer.subject_id == subject_id)
            .order_by(SlaAcknowledgement.at.desc(), SlaAcknowledgement.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    ack, name = row
    return Acknowledged(ack.timer_id, ack.level, ack.user_id, name, ack.source, ack.at)


async def open_level(session: AsyncSession, subject_type: str, subject_id: int) -> tuple[int, int] | None:
    """What `认领 T123` takes: the highest fired, unacknowledged level of the subject's open timers,
    as (timer id, level); None when nothing is left to acknowledge."""
    timers = await session.scalars(
        select(SlaTimer)
        .where(
            SlaTimer.subject_type == subject_type,
            SlaTimer.subject_id == subject_id,
            SlaTimer.state.in_(OPEN_STATES),
        )
        .order_by(SlaTimer.id)
    )
    best: tuple[int, int] | None = None
    for timer in timers:
        left = fired_levels(timer) - set(timer.acked_levels or ())
        if left and (best is None or max(left) > best[1]):
            best = (timer.id, max(left))
    return best


async def acknowledge(
    session: AsyncSession,
    *,
    actor: Actor,
    timer_id: int,
    level: int,
    source: str,
    now: datetime,
    entity: tuple[str, int],
) -> tuple[Acknowledged, bool]:
    """Record that `actor` took `level` of the timer (audited on `entity`, the item whose trail
    shows it). Returns the acknowledgement and whether it is new: a second one returns the first."""
    timer = (await session.scalars(select(SlaTimer).where(SlaTimer.id == timer_id).with_for_update())).first()
    if timer is None:
        raise NotFound(f"timer {timer_id} does not exist")
    if level not in fired_levels(timer):
        raise InvalidInput.for_field("level", f"level {level} of timer {timer_id} has not fired")
    existing = await find(session, timer_id, level)
    if existing is not None:
        return existing, False
    if timer.state not in OPEN_STATES:
        raise Conflict(
            f"timer {timer_id} is {timer.state.value}", errors=[FieldError("timer", timer.state.value, "state")]
        )
    await session.execute(
        insert(SlaAcknowledgement)
        .values(timer_id=timer_id, level=level, user_id=actor.user_id, source=source, at=now)
        .on_conflict_do_nothing(index_elements=["timer_id", "level"])
    )
    timer.acked_levels = sorted({*(timer.acked_levels or ()), level})
    if timer.state == TimerState.running:
        cals = await load_calendars(session, [timer.calendar_id])
        reschedule(timer, cals.get(timer.calendar_id, cals[None]))
    await session.flush()
    kind, item_id = entity
    await audit.record(
        session,
        actor=actor,
        action="sla.acknowledge",
        entity_type=kind,
        entity_id=item_id,
        after={
            "subject_type": timer.subject_type,
            "subject_id": timer.subject_id,
            "timer_id": timer_id,
            "level": level,
            "at": now.isoformat(),
        },
    )
    found = await find(session, timer_id, level)
    assert found is not None
    return found, True
