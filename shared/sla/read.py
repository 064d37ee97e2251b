"""Read side of the SLA engine: timer summaries for subjects and boards, escalation history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Escalation, SlaTimer, TimerState
from shared.sla import registry
from shared.sla.directory import load_calendars
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


async def summarize(session: AsyncSession, timers: list[SlaTimer], now: datetime) -> list[dict[str, Any]]:
    cals = await load_calendars(session, {t.calendar_id for t in timers})
    return [summary(t, cals.get(t.calendar_id, cals[None]), now) for t in timers]


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
    """Each subject's timers that still tell something: running, paused or met (not cancelled)."""
    timers = list(
        await session.scalars(
            select(SlaTimer)
            .where(
                SlaTimer.subject_type == subject_type,
                SlaTimer.subject_id.in_(list(ids)),
                SlaTimer.state != TimerState.cancelled,
            )
            .order_by(SlaTimer.id)
        )
    )
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for timer, data in zip(timers, await summarize(session, timers, now), strict=True):
        out[timer.subject_id].append(data)
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
