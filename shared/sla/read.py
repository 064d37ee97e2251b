"""Read side of the SLA engine: timer summaries for subjects and boards, escalation history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Executable, Select, and_, any_, bindparam, exists, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.models import Calendar, Escalation, SlaTimer, TimerState
from shared.sla import registry
from shared.sla.directory import DEFAULT_CALENDAR, calendar_fingerprint, calendars_by_fingerprint
from shared.sla.registry import SubjectContext
from shared.sla.timers import summary


def running_late(subject_type: str, subject_id: Any, now: datetime) -> ColumnElement[bool]:
    """The subject has a running timer past its deadline: what every board's `overdue` means
    (one index probe on (subject_type, subject_id))."""
    return exists().where(
        SlaTimer.subject_type == subject_type,
        SlaTimer.subject_id == subject_id,
        SlaTimer.state == TimerState.running,
        SlaTimer.due_at <= now,
    )


# A timer's calendar: its own, else the default one (else the built-in CN office hours).
_CAL = aliased(Calendar)
_TIMER_CALENDAR = or_(_CAL.id == SlaTimer.calendar_id, and_(SlaTimer.calendar_id.is_(None), _CAL.is_default))
# What a board shows about a timer (shared.sla.timers.summary), and its calendar's id and fingerprint:
# not the levels, the policy's snapshot, nor the bookkeeping columns.
_SUMMARY_COLUMNS = (
    SlaTimer.id,
    SlaTimer.subject_id,
    SlaTimer.policy_id,
    SlaTimer.state,
    SlaTimer.target_kind,
    SlaTimer.target_value,
    SlaTimer.subject_due_at,
    SlaTimer.started_at,
    SlaTimer.due_at,
    SlaTimer.paused_at,
    SlaTimer.paused_total_s,
    SlaTimer.remaining_days,
    SlaTimer.remaining_s,
    SlaTimer.met_at,
    SlaTimer.breached_at,
    SlaTimer.cancelled_at,
    SlaTimer.fired,
    SlaTimer.next_fire_at,
    _CAL.id.label("calendar_row_id"),
    calendar_fingerprint(_CAL).label("calendar_fingerprint"),
)


# One statement whatever the page's length: an array parameter per type, not an IN list per length
# (each length would be another prepared statement on every pooled connection).
def _subjects_timers(types: int) -> Executable:
    """The timers of a page's subjects of `types` types (a review and its reviewers: two)."""
    return (
        select(SlaTimer.subject_type, *_SUMMARY_COLUMNS)
        .outerjoin(_CAL, _TIMER_CALENDAR)
        .where(
            or_(
                *(
                    and_(
                        SlaTimer.subject_type == bindparam(f"type_{n}"),
                        SlaTimer.subject_id == any_(bindparam(f"ids_{n}", type_=ARRAY(BigInteger))),
                    )
                    for n in range(types)
                )
            ),
            SlaTimer.state != TimerState.cancelled,
        )
        .order_by(SlaTimer.id)
    )


_SUBJECTS_TIMERS = {n: _subjects_timers(n) for n in (1, 2, 3)}


async def _calendars_of(session: AsyncSession, rows: Iterable[Any]) -> dict[str | None, Any]:
    """Each row's calendar by its fingerprint (None: no calendar row, the built-in default)."""
    wanted = {r.calendar_fingerprint: r.calendar_row_id for r in rows if r.calendar_fingerprint is not None}
    cals: dict[str | None, Any] = {None: DEFAULT_CALENDAR}
    cals.update(await calendars_by_fingerprint(session, wanted))
    return cals


# The calendars a page of timers names, and the default one: built once, the ids an array parameter.
_CALENDARS_NAMED = select(
    Calendar.id.label("calendar_row_id"),
    calendar_fingerprint().label("calendar_fingerprint"),
    Calendar.is_default,
).where((Calendar.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))) | Calendar.is_default)


async def summarize(session: AsyncSession, timers: list[SlaTimer], now: datetime) -> list[dict[str, Any]]:
    """What a board shows about each of a page of timers (the calendars named by one small query)."""
    ids = list({t.calendar_id for t in timers if t.calendar_id is not None})
    rows = list(await session.execute(_CALENDARS_NAMED, {"ids": ids}))
    cals = await _calendars_of(session, rows)
    by_id = {r.calendar_row_id: cals.get(r.calendar_fingerprint, DEFAULT_CALENDAR) for r in rows}
    default = next((by_id[r.calendar_row_id] for r in rows if r.is_default), DEFAULT_CALENDAR)
    return [summary(t, by_id.get(t.calendar_id, default), now) for t in timers]


async def subjects_of(session: AsyncSession, timers: Iterable[SlaTimer]) -> dict[tuple[str, int], SubjectContext]:
    """The subjects of a page of timers (title, path …), through each type's registered loader: one
    call per type, not per row. A subject that no longer exists is simply absent."""
    by_type: dict[str, set[int]] = defaultdict(set)
    for t in timers:
        by_type[t.subject_type].add(t.subject_id)
    found: dict[tuple[str, int], SubjectContext] = {}
    for subject_type, ids in by_type.items():
        spec = registry.find(subject_type)
        if spec is None:  # a type no domain declares any more: its old timers stay listable
            continue
        found.update({(subject_type, i): ctx for i, ctx in (await spec.load(session, ids)).items()})
    return found


async def subject_summaries(
    session: AsyncSession, subject_type: str, ids: Iterable[int], now: datetime
) -> dict[int, list[dict[str, Any]]]:
    """Each subject's timers that still tell something: running, paused or met (not cancelled).
    One query for the page, calendars included (read only when this process has not seen them)."""
    return (await summaries_by_type(session, {subject_type: ids}, now)).get(str(subject_type), {})


async def summaries_by_type(
    session: AsyncSession, wanted: Mapping[str, Iterable[int]], now: datetime
) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """`subject_summaries` for subjects of several types (an item and its nested ones) in one query."""
    pages = {str(t): list(ids) for t, ids in wanted.items()}
    pages = {t: ids for t, ids in pages.items() if ids}
    if not pages:
        return {}
    stmt = _SUBJECTS_TIMERS[len(pages)] if len(pages) in _SUBJECTS_TIMERS else _subjects_timers(len(pages))
    params: dict[str, Any] = {}
    for n, (subject_type, ids) in enumerate(pages.items()):
        params[f"type_{n}"], params[f"ids_{n}"] = subject_type, ids
    rows = list(await session.execute(stmt, params))
    cals = await _calendars_of(session, rows)
    out: dict[str, dict[int, list[dict[str, Any]]]] = {t: defaultdict(list) for t in pages}
    for row in rows:
        data = summary(row, cals.get(row.calendar_fingerprint, DEFAULT_CALENDAR), now)
        out[row.subject_type][row.subject_id].append(data)
    return out


def timer_filter(
    stmt: Select[Any],
    *,
    state: TimerState | None,
    department_id: int | None,
    breached: bool | None,
    subject_type: str | None,
    subject_id: int | None,
    policy_id: int | None,
    now: datetime,
) -> Select[Any]:
    if state is not None:
        stmt = stmt.where(SlaTimer.state == state)
    if department_id is not None:
        stmt = stmt.where(SlaTimer.department_id == department_id)
    if subject_type is not None:
        stmt = stmt.where(SlaTimer.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(SlaTimer.subject_id == subject_id)
    if policy_id is not None:
        stmt = stmt.where(SlaTimer.policy_id == policy_id)
    is_breached = SlaTimer.breached_at.is_not(None) | (
        (SlaTimer.state == TimerState.running) & (SlaTimer.due_at <= now)
    )
    if breached is True:
        stmt = stmt.where(is_breached)
    elif breached is False:
        stmt = stmt.where(~is_breached)
    return stmt


def escalation_filter(
    stmt: Select[Any], *, subject_type: str | None, subject_id: int | None, timer_id: int | None
) -> Select[Any]:
    if subject_type is not None:
        stmt = stmt.where(Escalation.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(Escalation.subject_id == subject_id)
    if timer_id is not None:
        stmt = stmt.where(Escalation.timer_id == timer_id)
    return stmt
