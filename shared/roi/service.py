"""ROI estimates before big promotions: follow the campaign (flagged, start date moved, unflagged,
cancelled), take the report, and tell the planning gate whether it is in."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.campaigns.guards import CLOSED, require_open_campaign
from shared.errors import InvalidInput, NotFound
from shared.filters import any_of
from shared.models import Campaign
from shared.org.permissions import require_may_act
from shared.roi.models import RoiEstimate, RoiEstimateStatus
from shared.roi.schemas import RoiEstimateSubmit
from shared.roi.sla import RoiSubject
from shared.sla.directory import load_calendars
from shared.sla.read import running_late
from shared.sla.registry import on_campaign_cancelled
from shared.sla.sync import check_due, sync_timers

ITEM = RoiSubject.roi_estimate
LEAD = timedelta(days=15)  # 大促活动需提前15天提交ROI测算报告 (seed 003)
ROI_REPORT = "大促 ROI 测算报告 ROI estimate"


def deadline(start_date: date, tz: ZoneInfo) -> datetime:
    """00:00 (org time) 15 calendar days before the start date: 15 whole days remain to prepare."""
    return datetime.combine(start_date - LEAD, time(0), tz)


async def _org_tz(session: AsyncSession) -> ZoneInfo:
    return (await load_calendars(session, []))[None].tz  # the default working calendar's timezone


async def estimate_of(session: AsyncSession, campaign_id: int, *, for_update: bool = False) -> RoiEstimate | None:
    stmt = select(RoiEstimate).where(RoiEstimate.campaign_id == campaign_id)
    return (await session.scalars(stmt.with_for_update() if for_update else stmt)).first()


async def _schedule(session: AsyncSession, campaign: Campaign, now: datetime) -> dict[str, Any]:
    """The deadline for the campaign's start date as it stands; a start date less than 15 days
    away makes it due at once (now), and says so."""
    if campaign.start_date is None:
        return {"start_date": None, "due_at": None, "due_at_once": False}
    due = deadline(campaign.start_date, await _org_tz(session))
    check_due(due, field="start_date")
    if due <= now:
        return {"start_date": campaign.start_date, "due_at": now, "due_at_once": True}
    return {"start_date": campaign.start_date, "due_at": due, "due_at_once": False}


async def follow_campaign(session: AsyncSession, *, actor: Actor, campaign: Campaign, now: datetime) -> None:
    """After a campaign is created or changed: a big promotion that is still open owes an ROI
    estimate (created, or revived when it had been cancelled); a moved start date moves a pending
    estimate's deadline (its timer re-arms); unflagged or closed, a pending estimate is cancelled."""
    row = await estimate_of(session, campaign.id, for_update=True)
    owed = campaign.is_big_promotion and campaign.status not in CLOSED
    if row is None and not owed:
        return
    if row is None:
        row = RoiEstimate(
            campaign_id=campaign.id, status=RoiEstimateStatus.pending, **await _schedule(session, campaign, now)
        )
        row = await crud.create(session, actor=actor, obj=row, entity_type=ITEM)
    elif not owed:
        if row.status == RoiEstimateStatus.pending:
            cancelled = {"status": RoiEstimateStatus.cancelled}
            await crud.update(session, actor=actor, obj=row, changes=cancelled, entity_type=ITEM)
    elif row.status == RoiEstimateStatus.cancelled:
        changes = {"status": RoiEstimateStatus.pending, **await _schedule(session, campaign, now)}
        await crud.update(session, actor=actor, obj=row, changes=changes, entity_type=ITEM)
    elif row.status == RoiEstimateStatus.pending and row.start_date != campaign.start_date:
        moved = await _schedule(session, campaign, now)
        await crud.update(session, actor=actor, obj=row, changes=moved, entity_type=ITEM)
    await sync_timers(session, ITEM, [row.id], now=now)


async def get_for_campaign(session: AsyncSession, campaign_id: int) -> RoiEstimate:
    """The campaign's ROI estimate (404 when the campaign was never flagged as a big promotion)."""
    row = await estimate_of(session, campaign_id)
    if row is None:
        await crud.get_or_404(session, Campaign, campaign_id)
        raise NotFound(f"campaign {campaign_id} is not a big promotion: it owes no ROI estimate")
    return row


async def submit(
    session: AsyncSession, *, actor: Actor, campaign_id: int, data: RoiEstimateSubmit, now: datetime
) -> RoiEstimate:
    """The campaign's owner (or a manager) hands in the ROI report: its deadline is met. Handing it
    in again revises the figures (the trail keeps each version)."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    row = await get_for_campaign(session, campaign_id)
    await require_may_act(
        session,
        actor,
        who="the campaign owner or a manager",
        what="submit its ROI estimate",
        parties=[campaign.owner_id],
    )
    require_open_campaign(campaign)
    if row.status == RoiEstimateStatus.cancelled:
        raise NotFound(f"campaign {campaign_id} is no longer a big promotion: it owes no ROI estimate")
    if urlsplit(data.document_url).scheme not in ("http", "https") or not urlsplit(data.document_url).netloc:
        raise InvalidInput.for_field("document_url", "must be an http(s) URL")
    changes: dict[str, Any] = {**data.model_dump(), "status": RoiEstimateStatus.submitted}
    if row.status != RoiEstimateStatus.submitted:
        changes |= {"submitted_at": now, "submitted_by": actor.user_id}
    row = await crud.update(session, actor=actor, obj=row, changes=changes, entity_type=ITEM)
    await sync_timers(session, ITEM, [row.id], now=now)
    return row


@on_campaign_cancelled(ITEM)
async def cancel_for_campaign(session: AsyncSession, actor: Actor, campaign_id: int, now: datetime, reason: str) -> int:
    """The campaign was cancelled or completed: an estimate still owed is owed no more."""
    row = await estimate_of(session, campaign_id, for_update=True)
    if row is None or row.status != RoiEstimateStatus.pending:
        return 0
    await crud.update(session, actor=actor, obj=row, changes={"status": RoiEstimateStatus.cancelled}, entity_type=ITEM)
    await sync_timers(session, ITEM, [row.id], now=now)
    return 1


async def ids_for_campaign(session: AsyncSession, campaign_id: int) -> list[int]:
    """Its estimate's id, if any (a deleted campaign takes the estimate along: its timer must stop)."""
    return list(await session.scalars(select(RoiEstimate.id).where(RoiEstimate.campaign_id == campaign_id)))


async def missing(session: AsyncSession, campaign_ids: Collection[int]) -> dict[int, str]:
    """For the planning gate: the big promotions among these campaigns whose ROI estimate is not
    in, and why (campaigns not flagged are left out)."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(Campaign.id, RoiEstimate.status, RoiEstimate.due_at)
        .outerjoin(RoiEstimate, RoiEstimate.campaign_id == Campaign.id)
        .where(Campaign.id.in_(list(campaign_ids)), Campaign.is_big_promotion)
    )
    tz = await _org_tz(session)
    out = {}
    for r in rows:
        if r.status != RoiEstimateStatus.submitted:
            due = f" (due {r.due_at.astimezone(tz).isoformat()})" if r.due_at is not None else ""
            out[r.id] = f"a big promotion: its {ROI_REPORT} is not submitted yet{due}; submit it (submitRoiEstimate)"
    return out


def estimate_filter(
    stmt: Select[Any],
    *,
    department_id: int | None = None,
    owner_id: int | None = None,
    statuses: Collection[RoiEstimateStatus] | None = None,
    overdue: bool | None = None,
    now: datetime,
) -> Select[Any]:
    """The ROI-estimate board's filters: the campaign's department and owner, status, overdue."""
    if department_id is not None or owner_id is not None:
        campaigns = select(Campaign.id)
        if department_id is not None:
            campaigns = campaigns.where(Campaign.department_id == department_id)
        if owner_id is not None:
            campaigns = campaigns.where(Campaign.owner_id == owner_id)
        stmt = stmt.where(RoiEstimate.campaign_id.in_(campaigns))
    if statuses:
        stmt = stmt.where(any_of(RoiEstimate.status, statuses))
    if overdue is not None:
        late = running_late(ITEM, RoiEstimate.id, now)
        stmt = stmt.where(late if overdue else ~late)
    return stmt
