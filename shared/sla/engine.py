"""Firing: the sweep claims due timers (FOR UPDATE SKIP LOCKED), fires every level whose moment
has come, and writes escalation records and outbox rows in the same transaction.

Exactly once: a timer row is locked by one sweeper at a time, each (timer, level, repeat) has a
unique escalation row, and each notification a unique dedupe key — so a second worker, a retry
or a crash-restart is a no-op.
"""

from __future__ import annotations

import logging
import typing
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, Text, bindparam, cast, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import jsontext, subjects  # noqa: F401 — every subject type registered before the sweep loads one
from shared.calendar import BusinessCalendar, CalendarError
from shared.db import RawSelect, copy_rows, driver_connection
from shared.models import Escalation, EscalationKind, SlaTimer, TimerState
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.sla import registry
from shared.sla.directory import Directory, Person, load_calendars
from shared.sla.levels import Due, Level, pending, user_ids
from shared.sla.recipients import resolve, route
from shared.sla.registry import SubjectContext
from shared.sla.resolution import EventPayloads
from shared.sla.timers import clockwork, levels_from_text

log = logging.getLogger(__name__)
CALENDAR_RETRY = timedelta(minutes=5)


@dataclass
class SweepResult:
    claimed: int = 0
    fired: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # levels this sweep recorded, by kind
    notification_ids: list[int] = field(default_factory=list)
    channel_ids: set[int] = field(default_factory=set)  # whose queues got new rows


@dataclass(slots=True)
class TimerRow:
    """A claimed timer as plain data: the hot path skips ORM identity tracking and flush."""

    id: int
    subject_type: str
    subject_id: int
    policy_id: int | None
    calendar_id: int | None
    target_kind: str
    target_value: str
    target_s: float
    levels: str  # JSON text, as claimed
    state: TimerState
    started_at: datetime
    due_at: datetime
    breached_at: datetime | None
    fired: list[str]
    next_fire_at: datetime | None
    created_at: datetime  # when this schedule was set (see timers.new_timer)
    acked_levels: list[int]  # acknowledged levels: their repeats are not sent (shared.sla.acknowledgements)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None


_T = typing.cast(Table, SlaTimer.__table__)
_ROW_FIELDS = [f for f in TimerRow.__dataclass_fields__]
# levels and fired come back as JSON text: the levels text is the parse-cache key as it stands, so
# 10 000 timers of one policy cost one parse, not 10 000 decodes and re-encodes. The columns are
# TimerRow's fields in order, read straight from the driver.
_CLAIM = RawSelect(
    select(*(cast(_T.c[f], Text).label(f) if f in ("levels", "fired") else _T.c[f] for f in _ROW_FIELDS))
    .where(_T.c.state == TimerState.running.value, _T.c.next_fire_at <= bindparam("now"))
    .order_by(_T.c.next_fire_at)
    .limit(bindparam("batch"))
    .with_for_update(skip_locked=True)
)
# An escalation row as the sweep writes it: a tuple in this order (recipients and notes as JSON text).
_ESCALATION_COLUMNS = (
    "timer_id",
    "subject_type",
    "subject_id",
    "level",
    "repeat",
    "kind",
    "scheduled_at",
    "fired_at",
    "late_by_s",
    "recipients",
    "notes",
    "suppressed",
    "notification_count",
)
_RECIPIENTS, _NOTES = _ESCALATION_COLUMNS.index("recipients"), _ESCALATION_COLUMNS.index("notes")


def _claimed(row: Any) -> TimerRow:
    timer = TimerRow(*row)
    timer.state = TimerState(timer.state)
    timer.fired = jsontext.loads(row.fired)
    return timer


def _key(row: tuple[Any, ...]) -> tuple[int, int, int]:
    """An escalation row's unique key: (timer, level, repeat)."""
    return row[0], row[3], row[4]


async def _save(session: AsyncSession, timers: list[TimerRow], now: datetime) -> None:
    """One set-based UPDATE for the whole batch (unnest of arrays), not one statement per timer."""
    apg = await driver_connection(session)
    await apg.execute(
        """UPDATE sla_timers AS t
           SET fired = v.fired::jsonb, next_fire_at = v.next_fire_at, breached_at = v.breached_at,
               state = v.state, cancelled_at = v.cancelled_at, cancel_reason = v.cancel_reason, updated_at = $8
           FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::varchar[],
                       $6::timestamptz[], $7::varchar[])
                AS v(id, fired, next_fire_at, breached_at, state, cancelled_at, cancel_reason)
           WHERE t.id = v.id""",
        [t.id for t in timers],
        [jsontext.dumps(t.fired) for t in timers],
        [t.next_fire_at for t in timers],
        [t.breached_at for t in timers],
        [t.state.value for t in timers],
        [t.cancelled_at for t in timers],
        [t.cancel_reason for t in timers],
        now,
    )


async def _record_escalations(session: AsyncSession, rows: list[tuple[Any, ...]]) -> int:
    """Write the batch's escalation rows; returns how many are new. COPY when no key exists yet,
    else INSERT … ON CONFLICT DO NOTHING, so a level that somehow fired already stays single."""
    if await copy_rows(session, "escalations", _ESCALATION_COLUMNS, rows):
        return len(rows)
    values = [
        dict(zip(_ESCALATION_COLUMNS, r, strict=True))
        | {"recipients": jsontext.loads(r[_RECIPIENTS]), "notes": jsontext.loads(r[_NOTES])}
        for r in rows
    ]
    table = typing.cast(Table, Escalation.__table__)
    conn = await session.connection()
    inserted = await conn.execute(
        insert(table).on_conflict_do_nothing(index_elements=["timer_id", "level", "repeat"]).returning(table.c.id),
        values,
    )
    return len(inserted.all())


async def _keys_recorded_now(
    session: AsyncSession, rows: list[tuple[Any, ...]], now: datetime
) -> set[tuple[int, int, int]]:
    """After a conflict: the (timer, level, repeat) keys this sweep wrote (fired_at == now)."""
    table = typing.cast(Table, Escalation.__table__)
    conn = await session.connection()
    found = await conn.execute(
        select(table.c.timer_id, table.c.level, table.c.repeat).where(
            table.c.timer_id.in_({r[0] for r in rows}), table.c.fired_at == now
        )
    )
    return {(a, b, c) for a, b, c in found}


@dataclass
class _Reach:
    """Whom one level reaches from one anchor (assignee, department, campaign), and where."""

    records: list[dict[str, Any]]
    notes: list[str]
    routes: dict[int, list[Person]]  # channel id -> the people mentioned there
    mentions: dict[int, list[dict[str, Any]]]  # channel id -> those people's mentions
    records_json: str
    notes_json: str


@dataclass
class _Batch:
    """What firing one claimed batch needs, loaded once: subjects, calendars, people and channels."""

    contexts: dict[str, dict[int, SubjectContext]]
    cals: dict[int | None, BusinessCalendar]
    directory: Directory
    payloads: EventPayloads
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # escalation rows to write (_ESCALATION_COLUMNS)
    items: dict[tuple[int, int, int], list[OutboxItem]] = field(default_factory=dict)  # by (timer, level, repeat)
    # A level reaches the same people from the same anchor: resolved and routed once per batch, by
    # (levels text, level, assignee, department, campaign, suppressed).
    reached: dict[tuple[str, int, int | None, int | None, int | None, bool], _Reach] = field(default_factory=dict)
    plans: dict[tuple[Any, ...], _Plan] = field(default_factory=dict)


async def _load_batch(
    session: AsyncSession, timers: list[TimerRow], parsed: dict[int, tuple[Level, ...]], now: datetime
) -> _Batch:
    by_type: dict[str, list[int]] = defaultdict(list)
    for t in timers:
        by_type[t.subject_type].append(t.subject_id)
    contexts = {st: await registry.get(st).load(session, ids) for st, ids in by_type.items()}
    cals = await load_calendars(session, {t.calendar_id for t in timers})
    d = Directory(session)
    await d.load_static()
    ctxs = [c for per_type in contexts.values() for c in per_type.values()]
    await d.prefetch_chain([c.assignee_id for c in ctxs], [c.campaign_id for c in ctxs])
    await d.prefetch_people({u for levels in parsed.values() for u in user_ids(levels)})
    return _Batch(contexts, cals, d, EventPayloads(d, now))


def _fire(batch: _Batch, timer: TimerRow, levels: Sequence[Level], now: datetime) -> None:
    """Fire every level of one timer whose moment has come (records and outbox items go into the
    batch) and set the timer's next look."""
    ctx = batch.contexts[timer.subject_type].get(timer.subject_id)
    if ctx is None:  # the subject vanished without telling us: nothing left to chase
        timer.state, timer.cancelled_at, timer.cancel_reason = TimerState.cancelled, now, "subject missing"
        timer.next_fire_at = None
        return
    try:
        plan = _plan(batch, timer, levels, now)
    except CalendarError as exc:
        # One timer's schedule cannot be computed (say its calendar lost all working time):
        # it must not hold up the batch. Look again later, loudly.
        log.error("sla timer %s: cannot schedule (%s); retrying in %s", timer.id, exc, CALENDAR_RETRY)
        timer.next_fire_at = now + CALENDAR_RETRY
        return
    if timer.breached_at is None and timer.due_at <= now:
        timer.breached_at = timer.due_at
    speaking = _speaking(plan.due_now, timer.created_at)
    for e in plan.due_now:
        # Several due at once: one message per level, and no stale warning next to the breach that
        # overtook it. The rows still record every step.
        suppressed = speaking[e.level] is not e or (e.kind == EscalationKind.warning and plan.beyond_warning)
        _record(batch, timer, ctx, levels[e.level], e, suppressed=suppressed, now=now)
    timer.fired = plan.fired
    timer.next_fire_at = plan.next_fire_at


@dataclass(frozen=True)
class _Plan:
    """What a timer's schedule says at `now`: the levels due, what is fired after them, the next look."""

    due_now: list[Due]
    beyond_warning: bool  # something other than a warning is due
    fired: list[str]
    next_fire_at: datetime | None


def _plan(batch: _Batch, timer: TimerRow, levels: Sequence[Level], now: datetime) -> _Plan:
    """The timer's plan, computed once per batch for every timer on the same schedule (levels,
    calendar, target, deadline, fired so far): timers that fall due together mostly share one."""
    key = (
        timer.levels,
        timer.calendar_id,
        timer.target_kind,
        timer.target_s,
        timer.due_at,
        tuple(timer.fired),
        tuple(timer.acked_levels),
    )
    found = batch.plans.get(key)
    if found is not None:
        return found
    cal = batch.cals.get(timer.calendar_id, batch.cals[None])
    fired = set(timer.fired)
    upcoming = pending(levels, clockwork(timer, cal), fired, until=now, acked=timer.acked_levels)
    due_now = [e for e in upcoming if e.at <= now]
    # What is left holds each level's next moment after now: the earliest is the next look,
    # unless the breach itself comes first.
    later = [e.at for e in upcoming if e.at > now][:1]
    if timer.due_at > now:
        later.append(timer.due_at)
    found = batch.plans[key] = _Plan(
        due_now,
        any(e.kind != EscalationKind.warning for e in due_now),
        sorted(fired | {e.key for e in due_now}),
        min(later, default=None),
    )
    return found


def _speaking(due_now: Sequence[Due], set_at: datetime) -> dict[int, Due]:
    """Which firing of each level sends its message when several are due at once. After downtime,
    the latest repeat the worker missed. Moments that had passed when the timer was set were never
    missed — the item was created overdue, or its due date moved into the past — so a level with
    only such moments speaks with its first firing, unnumbered, not as "reminder #3" of reminders
    nobody sent."""
    speaking: dict[int, Due] = {}
    for e in due_now:  # in time order
        if e.level not in speaking or not e.passed_before(set_at):
            speaking[e.level] = e
    return speaking


def _reach(batch: _Batch, timer: TimerRow, ctx: SubjectContext, level: Level, e: Due, *, suppressed: bool) -> _Reach:
    key = (timer.levels, e.level, ctx.assignee_id, ctx.department_id, ctx.campaign_id, suppressed)
    found = batch.reached.get(key)
    if found is None:
        d = batch.directory
        res = resolve(level, ctx, d)
        records = res.as_records()
        routes = {} if suppressed else route(res, d, ctx.department_id)  # may add notes
        mentions = {channel_id: batch.payloads.mentions(people) for channel_id, people in routes.items()}
        found = _Reach(records, res.notes, routes, mentions, jsontext.dumps(records), jsontext.dumps(res.notes))
        batch.reached[key] = found
    return found


def _record(
    batch: _Batch, timer: TimerRow, ctx: SubjectContext, level: Level, e: Due, *, suppressed: bool, now: datetime
) -> None:
    """One fired level: its escalation record, and (unless suppressed) a message per channel."""
    reach = _reach(batch, timer, ctx, level, e, suppressed=suppressed)
    kind = e.kind.value
    batch.rows.append(
        (
            timer.id,
            timer.subject_type,
            timer.subject_id,
            e.level,
            e.repeat,
            kind,
            e.at,
            now,
            e.late_by_s(set_at=timer.created_at, now=now),
            reach.records_json,
            reach.notes_json,
            suppressed,
            len(reach.routes),
        )
    )
    batch.items[(timer.id, e.level, e.repeat)] = [
        OutboxItem(
            dedupe_key=f"sla:{timer.id}:{e.level}:{e.repeat}:ch{channel_id}",
            event_type=f"sla.{kind}",
            subject_type=timer.subject_type,
            subject_id=timer.subject_id,
            channel_id=channel_id,
            payload=batch.payloads.build(
                ctx=ctx,
                timer=timer,
                kind=e.kind,
                due=e,
                people=people,
                records=reach.records,
                notes=reach.notes,
                mentions=reach.mentions[channel_id],
            ),
        )
        for channel_id, people in reach.routes.items()
    ]


async def sweep_due_timers(session: AsyncSession, *, now: datetime, batch_size: int) -> SweepResult:
    """Claim up to batch_size due timers and fire what is due. Safe with any number of workers."""
    timers = [_claimed(row) for row in await _CLAIM.fetch(session, now=now, batch=batch_size)]
    parsed = {t.id: levels_from_text(t.levels) for t in timers}
    result = SweepResult(claimed=len(timers))
    if not timers:
        return result
    batch = await _load_batch(session, timers, parsed, now)
    for timer in timers:
        _fire(batch, timer, parsed[timer.id], now)
    await _save(session, timers, now)
    if batch.rows:
        # Only levels whose escalation row this sweep wrote send messages: a row another worker (or
        # an earlier crash-restart) already wrote means its messages are in the outbox already.
        result.fired = await _record_escalations(session, batch.rows)
        new_keys = (
            {_key(r) for r in batch.rows}
            if result.fired == len(batch.rows)
            else await _keys_recorded_now(session, batch.rows, now)
        )
        result.kinds.update(r[5] for r in batch.rows if _key(r) in new_keys)
        outbox = [item for key in new_keys for item in batch.items.get(key, [])]
        result.notification_ids = await add_to_outbox(session, outbox, now=now)
        result.channel_ids = {item.channel_id for item in outbox}
    await session.flush()
    return result
