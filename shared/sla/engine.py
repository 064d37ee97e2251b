"""Firing: the sweep claims due timers (FOR UPDATE SKIP LOCKED), fires every level whose moment
has come, and writes escalation records and outbox rows in the same transaction.

Exactly once: a timer row is locked by one sweeper at a time, each (timer, level, repeat) has a
unique escalation row, and each notification a unique dedupe key — so a second worker, a retry
or a crash-restart is a no-op.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Escalation, EscalationKind, Notification, SlaTimer, TimerState
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.sla.directory import Directory, Person, load_calendars
from shared.sla.levels import Due, pending, user_ids
from shared.sla.recipients import resolve, route
from shared.sla.subjects import SUBJECT_TYPES, SubjectContext
from shared.sla.timers import clockwork, reschedule, timer_levels


@dataclass
class SweepResult:
    claimed: int = 0
    fired: int = 0
    notification_ids: list[int] = field(default_factory=list)


def _payload(
    *,
    ctx: SubjectContext,
    timer: SlaTimer,
    kind: EscalationKind,
    due: Due | None,
    now: datetime,
    people: list[Person],
    records: list[dict[str, Any]],
    notes: list[str],
    public_url: str,
    d: Directory,
) -> dict[str, Any]:
    assignee = d.person(ctx.assignee_id)
    campaign = d.campaign(ctx.campaign_id)
    locale = (people[0].locale if people else None) or (assignee.locale if assignee else None)
    return {
        "kind": kind.value,
        "subject": ctx.as_payload(public_url),
        "timer": {
            "id": timer.id,
            "policy_id": timer.policy_id,
            "started_at": timer.started_at.isoformat(),
            "due_at": timer.due_at.isoformat(),
            "target": {"kind": timer.target_kind, "value": timer.target_value},
        },
        "level": due.level if due else -1,
        "repeat": due.repeat if due else 0,
        "scheduled_at": (due.at if due else now).isoformat(),
        "fired_at": now.isoformat(),
        "late_by_s": round((now - due.at).total_seconds(), 3) if due else 0.0,
        "assignee": assignee.mention() if assignee else None,
        "campaign": {"id": ctx.campaign_id, "name": campaign[0]} if campaign else None,
        "mentions": [p.mention() for p in people],
        "recipients": records,
        "notes": notes,
        "locale": locale,
    }


async def sweep_due_timers(session: AsyncSession, *, now: datetime, batch_size: int, public_url: str) -> SweepResult:
    """Claim up to batch_size due timers and fire what is due. Safe with any number of workers."""
    timers = list(
        await session.scalars(
            select(SlaTimer)
            .where(SlaTimer.state == TimerState.running, SlaTimer.next_fire_at <= now)
            .order_by(SlaTimer.next_fire_at)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    result = SweepResult(claimed=len(timers))
    if not timers:
        return result
    by_type: dict[str, list[int]] = defaultdict(list)
    for t in timers:
        by_type[t.subject_type].append(t.subject_id)
    contexts = {st: await SUBJECT_TYPES[st].load(session, ids) for st, ids in by_type.items()}
    cals = await load_calendars(session, {t.calendar_id for t in timers})
    d = Directory(session)
    await d.load_static()
    ctxs = [c for per_type in contexts.values() for c in per_type.values()]
    await d.prefetch_chain([c.assignee_id for c in ctxs], [c.campaign_id for c in ctxs])
    await d.prefetch_people({u for t in timers for u in user_ids(timer_levels(t))})

    rows: list[dict[str, Any]] = []
    items: dict[tuple[int, int, int], list[OutboxItem]] = {}
    for timer in timers:
        ctx = contexts[timer.subject_type].get(timer.subject_id)
        if ctx is None:  # the subject vanished without telling us: nothing left to chase
            timer.state, timer.cancelled_at, timer.cancel_reason = TimerState.cancelled, now, "subject missing"
            timer.next_fire_at = None
            continue
        cal = cals.get(timer.calendar_id, cals[None])
        levels, cw = timer_levels(timer), clockwork(timer, cal)
        fired = set(timer.fired)
        due_now = [e for e in pending(levels, cw, fired) if e.at <= now]
        if timer.breached_at is None and timer.due_at <= now:
            timer.breached_at = timer.due_at
        latest = {e.level: e for e in due_now}  # sorted by time: the last repeat of each level wins
        beyond_warning = any(e.kind != EscalationKind.warning for e in due_now)
        for e in due_now:
            fired.add(e.key)
            # Catching up after downtime: one message per level (the latest repeat), and no stale
            # warning next to the breach that overtook it. The rows still record every step.
            suppressed = latest[e.level] is not e or (e.kind == EscalationKind.warning and beyond_warning)
            res = resolve(levels[e.level], ctx, d)
            routes = {} if suppressed else route(res, d)
            records = res.as_records()
            rows.append(
                {
                    "timer_id": timer.id,
                    "subject_type": timer.subject_type,
                    "subject_id": timer.subject_id,
                    "level": e.level,
                    "repeat": e.repeat,
                    "kind": e.kind,
                    "scheduled_at": e.at,
                    "fired_at": now,
                    "late_by_s": max(0.0, (now - e.at).total_seconds()),
                    "recipients": records,
                    "notes": res.notes,
                    "suppressed": suppressed,
                    "notification_count": len(routes),
                }
            )
            items[(timer.id, e.level, e.repeat)] = [
                OutboxItem(
                    dedupe_key=f"sla:{timer.id}:{e.level}:{e.repeat}:ch{channel_id}",
                    event_type=f"sla.{e.kind.value}",
                    subject_type=timer.subject_type,
                    subject_id=timer.subject_id,
                    channel_id=channel_id,
                    payload=_payload(
                        ctx=ctx,
                        timer=timer,
                        kind=e.kind,
                        due=e,
                        now=now,
                        people=people,
                        records=records,
                        notes=res.notes,
                        public_url=public_url,
                        d=d,
                    ),
                )
                for channel_id, people in routes.items()
            ]
        timer.fired = sorted(fired)
        reschedule(timer, cal)
    if rows:
        inserted = await session.execute(
            insert(Escalation)
            .on_conflict_do_nothing(index_elements=["timer_id", "level", "repeat"])
            .returning(Escalation.timer_id, Escalation.level, Escalation.repeat),
            rows,
        )
        new_keys = {tuple(r) for r in inserted}
        result.fired = len(new_keys)
        outbox = [item for key in new_keys for item in items.get(key, [])]  # type: ignore[arg-type]
        result.notification_ids = await add_to_outbox(session, outbox, now=now)
    await session.flush()
    return result


async def meet(session: AsyncSession, timer: SlaTimer, *, now: datetime, ctx: SubjectContext, public_url: str) -> None:
    """Stop the clock as met; if any level had fired, tell the same audience it is resolved."""
    timer.state = TimerState.met
    timer.met_at = now
    timer.next_fire_at = None
    fired = list(
        await session.scalars(
            select(Escalation).where(
                Escalation.timer_id == timer.id, Escalation.suppressed.is_(False), Escalation.level >= 0
            )
        )
    )
    if not fired:
        return
    channel_ids = list(
        await session.scalars(
            select(Notification.channel_id).distinct().where(Notification.dedupe_key.like(f"sla:{timer.id}:%"))
        )
    )
    d = Directory(session)
    await d.load_static()
    people_ids = {r["user_id"] for e in fired for r in e.recipients if "user_id" in r}
    await d.prefetch_chain([ctx.assignee_id, *people_ids], [ctx.campaign_id])
    people = [p for p in (d.person(i) for i in sorted(people_ids)) if p]
    records = [{"as": "previously_notified", "user_id": p.id, "name": p.name} for p in people]
    inserted = await session.scalar(
        insert(Escalation)
        .on_conflict_do_nothing(index_elements=["timer_id", "level", "repeat"])
        .values(
            timer_id=timer.id,
            subject_type=timer.subject_type,
            subject_id=timer.subject_id,
            level=-1,
            repeat=0,
            kind=EscalationKind.resolved,
            scheduled_at=now,
            fired_at=now,
            late_by_s=0.0,
            recipients=records,
            notes=[],
            suppressed=False,
            notification_count=len(channel_ids),
        )
        .returning(Escalation.id)
    )
    if inserted is None:
        return
    payload = _payload(
        ctx=ctx,
        timer=timer,
        kind=EscalationKind.resolved,
        due=None,
        now=now,
        people=people,
        records=records,
        notes=[],
        public_url=public_url,
        d=d,
    )
    await add_to_outbox(
        session,
        [
            OutboxItem(
                dedupe_key=f"sla:{timer.id}:resolved:ch{c}",
                event_type="sla.resolved",
                subject_type=timer.subject_type,
                subject_id=timer.subject_id,
                channel_id=c,
                payload=payload,
            )
            for c in channel_ids
            if c in d.channels
        ],
        now=now,
    )
