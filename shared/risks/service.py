"""The risk register: raise, change and close risks (audited, level history kept), review them by
their cadence (a timed `risk_review`), tell the director at once when one is raised to high, and
count them on the 3 × 3 matrix.

The level comes from the matrix, never from the caller: score high = 3, medium = 2, low = 1;
likelihood × impact ≥ 6 → high (high×high, high×medium, medium×high), 3–4 → medium (high×low,
medium×medium, low×high), ≤ 2 → low (medium×low, low×medium, low×low)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.audit import service as audit
from shared.errors import Conflict, FieldError
from shared.filters import any_of, contains_text
from shared.models import Campaign, User
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.org.permissions import require_may_act
from shared.risks.models import Grade, ReviewStatus, Risk, RiskLevelChange, RiskReview, RiskStatus
from shared.risks.schemas import RiskCreate, RiskReviewCreate, RiskUpdate
from shared.risks.sla import RiskSubject
from shared.sla.directory import Directory
from shared.sla.read import running_late
from shared.sla.recipients import Resolution, route
from shared.sla.registry import on_campaign_cancelled
from shared.sla.sync import sync_timers

ITEM = RiskSubject.risk
REVIEW = RiskSubject.risk_review
RAISED_HIGH = "risk.raised_high"
SCORE = {Grade.high: 3, Grade.medium: 2, Grade.low: 1}
GRADES = (Grade.high, Grade.medium, Grade.low)


def level_of(likelihood: Grade, impact: Grade) -> Grade:
    """The 3 × 3 matrix (see the module's docstring)."""
    score = SCORE[likelihood] * SCORE[impact]
    return Grade.high if score >= 6 else Grade.medium if score >= 3 else Grade.low


async def _record_level(
    session: AsyncSession, risk: Risk, before: Grade | None, *, actor: Actor, now: datetime
) -> None:
    """Keep the level's history; a raise to high tells the director at once (once per raise)."""
    if before == risk.level:
        return
    change = RiskLevelChange(risk_id=risk.id, from_level=before, to_level=risk.level, at=now, by=actor.user_id)
    session.add(change)
    await session.flush()
    if risk.level == Grade.high:
        await _alert_director(session, risk, change, now=now)


async def _alert_director(session: AsyncSession, risk: Risk, change: RiskLevelChange, *, now: datetime) -> list[int]:
    """The director (the owner's manager's manager, else the owner's department head) hears it in
    their department's channels; the dedupe key names the level change, so each raise is sent once."""
    d = Directory(session)
    await d.load_static()
    await d.prefetch_chain([risk.owner_id], [risk.campaign_id])
    owner = d.person(risk.owner_id)
    director_id = d.manager_of(d.manager_of(risk.owner_id))
    if director_id is not None:
        await d.prefetch_people([director_id])
    director = d.person(director_id) or d.department_head(owner.department_id if owner else None)
    res = Resolution()
    if director is not None:
        res.add("director", director)
    department_id = owner.department_id if owner is not None else None
    items = [
        OutboxItem(
            dedupe_key=f"risk:{risk.id}:high:{change.id}:ch{channel_id}",
            event_type=RAISED_HIGH,
            subject_type=ITEM,
            subject_id=risk.id,
            channel_id=channel_id,
            payload={
                "risk": {"id": risk.id, "title": risk.title, "category": risk.category.value},
                "from_level": change.from_level.value if change.from_level else None,
                "level": risk.level.value,
                "likelihood": risk.likelihood.value,
                "impact": risk.impact.value,
                "path": f"/api/v1/risks/{risk.id}",
                "mentions": [p.mention() for p in people],
                "locale": people[0].locale if people else None,
                "fired_at": now.isoformat(),
            },
        )
        for channel_id, people in route(res, d, department_id).items()
    ]
    return await add_to_outbox(session, items, now=now)


async def _arm_review(session: AsyncSession, risk: Risk, *, now: datetime) -> None:
    review = RiskReview(risk_id=risk.id, status=ReviewStatus.due)
    session.add(review)
    await session.flush()
    await sync_timers(session, REVIEW, [review.id], now=now)


async def _due_reviews(session: AsyncSession, risk_id: int) -> list[RiskReview]:
    return list(
        await session.scalars(
            select(RiskReview)
            .where(RiskReview.risk_id == risk_id, RiskReview.status == ReviewStatus.due)
            .order_by(RiskReview.id)
            .with_for_update()
        )
    )


async def create(session: AsyncSession, *, actor: Actor, data: RiskCreate, now: datetime) -> Risk:
    """Raise a risk: its level from the matrix, its first review due one cadence from now."""
    await crud.check_references(
        session, {"owner_id": (User, data.owner_id), "campaign_id": (Campaign, data.campaign_id)}
    )
    risk = Risk(
        **data.model_dump(),
        level=level_of(data.likelihood, data.impact),
        status=RiskStatus.open,
        created_by=actor.user_id,
    )
    risk = await crud.create(session, actor=actor, obj=risk, entity_type=ITEM)
    await _record_level(session, risk, None, actor=actor, now=now)
    await _arm_review(session, risk, now=now)
    return risk


async def _require_party(session: AsyncSession, actor: Actor, risk: Risk, what: str) -> None:
    await require_may_act(
        session,
        actor,
        who="the owner, the creator, the owner's manager or a manager",
        what=what,
        parties=[risk.owner_id, risk.created_by, await _manager_of(session, risk.owner_id)],
    )


async def _manager_of(session: AsyncSession, user_id: int | None) -> int | None:
    user = await session.get(User, user_id) if user_id is not None else None
    return user.manager_id if user is not None else None


async def update(session: AsyncSession, *, actor: Actor, risk_id: int, changes: RiskUpdate, now: datetime) -> Risk:
    """Change a risk; the level follows likelihood and impact; closing it cancels its due review,
    reopening it arms a new one."""
    risk = await crud.get_or_404(session, Risk, risk_id, for_update=True)
    await _require_party(session, actor, risk, "change this risk")
    values: dict[str, Any] = changes.model_dump(exclude_unset=True)
    await crud.check_references(session, {"owner_id": (User, values.get("owner_id"))})
    before_level, before_status = risk.level, risk.status
    likelihood = values.get("likelihood", risk.likelihood)
    impact = values.get("impact", risk.impact)
    values["level"] = level_of(likelihood, impact)
    risk = await crud.update(session, actor=actor, obj=risk, changes=values, entity_type=ITEM)
    await _record_level(session, risk, before_level, actor=actor, now=now)
    due = await _due_reviews(session, risk.id)
    if risk.status == RiskStatus.closed:
        for review in due:
            review.status = ReviewStatus.cancelled
        await session.flush()
    elif before_status == RiskStatus.closed and not due:
        await _arm_review(session, risk, now=now)
    await sync_timers(session, REVIEW, [r.id for r in due], now=now)
    return risk


@on_campaign_cancelled(REVIEW)
async def close_for_campaign(session: AsyncSession, actor: Actor, campaign_id: int, now: datetime, reason: str) -> int:
    """The campaign was cancelled or completed: its open risks are closed (audited) and their due
    reviews cancelled, so nobody is reminded to review a risk of work that is over. A closed risk
    can be reopened by PATCH like any other."""
    risks = list(
        await session.scalars(
            select(Risk)
            .where(Risk.campaign_id == campaign_id, Risk.status != RiskStatus.closed)
            .order_by(Risk.id)
            .with_for_update()
        )
    )
    due: list[RiskReview] = []
    for risk in risks:
        await crud.update(session, actor=actor, obj=risk, changes={"status": RiskStatus.closed}, entity_type=ITEM)
        for review in await _due_reviews(session, risk.id):
            review.status = ReviewStatus.cancelled
            due.append(review)
    await session.flush()
    await sync_timers(session, REVIEW, [r.id for r in due], now=now)
    return len(risks)


async def record_review(
    session: AsyncSession, *, actor: Actor, risk_id: int, data: RiskReviewCreate, now: datetime
) -> RiskReview:
    """The owner (or whoever oversees the risk) reviews it: the due review is met, likelihood and
    impact may be re-assessed, and the next review falls due one cadence later."""
    risk = await crud.get_or_404(session, Risk, risk_id, for_update=True)
    await _require_party(session, actor, risk, "review this risk")
    if risk.status == RiskStatus.closed:
        raise Conflict("the risk is closed", errors=[FieldError("status", risk.status.value, "state")])
    reassessed = {k: v for k, v in {"likelihood": data.likelihood, "impact": data.impact}.items() if v is not None}
    if reassessed:
        before = risk.level
        level = level_of(reassessed.get("likelihood", risk.likelihood), reassessed.get("impact", risk.impact))
        risk = await crud.update(
            session, actor=actor, obj=risk, changes={**reassessed, "level": level}, entity_type=ITEM
        )
        await _record_level(session, risk, before, actor=actor, now=now)
    due = await _due_reviews(session, risk.id)
    review = due[0] if due else RiskReview(risk_id=risk.id)
    review.status, review.note, review.reviewed_at, review.reviewed_by = (
        ReviewStatus.done,
        data.note,
        now,
        actor.user_id,
    )
    if not due:
        session.add(review)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="risk.review",
        entity_type=ITEM,
        entity_id=risk.id,
        before=None,
        after=audit.snapshot(review),
    )
    await sync_timers(session, REVIEW, [review.id], now=now)
    await _arm_review(session, risk, now=now)
    await session.refresh(review)
    return review


def risk_filter(
    stmt: Select[Any],
    *,
    department_id: int | None = None,
    owner_id: int | None = None,
    campaign_id: int | None = None,
    statuses: Collection[RiskStatus] | None = None,
    levels: Collection[Grade] | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    now: datetime,
) -> Select[Any]:
    """The risk board's filters. A risk's department is its owner's or its campaign's: either
    matches. Overdue: its review is past due."""
    if department_id is not None:
        stmt = stmt.where(
            or_(
                Risk.owner_id.in_(select(User.id).where(User.department_id == department_id)),
                Risk.campaign_id.in_(select(Campaign.id).where(Campaign.department_id == department_id)),
            )
        )
    if owner_id is not None:
        stmt = stmt.where(Risk.owner_id == owner_id)
    if campaign_id is not None:
        stmt = stmt.where(Risk.campaign_id == campaign_id)
    if statuses:
        stmt = stmt.where(any_of(Risk.status, statuses))
    if levels:
        stmt = stmt.where(any_of(Risk.level, levels))
    if q:
        stmt = stmt.where(contains_text(q, Risk.title))
    if overdue is not None:
        late = Risk.id.in_(select(RiskReview.risk_id).where(running_late(REVIEW, RiskReview.id, now)))
        stmt = stmt.where(late if overdue else ~late)
    return stmt


async def matrix(
    session: AsyncSession,
    *,
    department_id: int | None = None,
    campaign_id: int | None = None,
    statuses: Collection[RiskStatus] | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The 3 × 3 grid: per (likelihood, impact) cell its level, count and risk ids (counted in SQL)."""
    cells_of = cast("Select[Any]", select(Risk.likelihood, Risk.impact, func.array_agg(Risk.id.distinct())))
    stmt = risk_filter(
        cells_of,
        department_id=department_id,
        campaign_id=campaign_id,
        statuses=statuses,
        now=now,
    ).group_by(Risk.likelihood, Risk.impact)
    found = {(r[0], r[1]): sorted(r[2]) for r in await session.execute(stmt)}
    cells = [
        {
            "likelihood": lk,
            "impact": im,
            "level": level_of(lk, im),
            "count": len(found.get((lk, im), [])),
            "risk_ids": found.get((lk, im), []),
        }
        for lk in GRADES
        for im in GRADES
    ]
    return {"cells": cells, "total": sum(c["count"] for c in cells)}


async def history(session: AsyncSession, risk_id: int) -> list[RiskLevelChange]:
    await crud.get_or_404(session, Risk, risk_id)
    return list(
        await session.scalars(
            select(RiskLevelChange).where(RiskLevelChange.risk_id == risk_id).order_by(RiskLevelChange.id)
        )
    )


async def reviews(session: AsyncSession, risk_id: int) -> list[RiskReview]:
    await crud.get_or_404(session, Risk, risk_id)
    return list(await session.scalars(select(RiskReview).where(RiskReview.risk_id == risk_id).order_by(RiskReview.id)))
