"""Stage and campaign cycle times in working days, stored when the item is entered or left so the
process analytics aggregate them in SQL (holiday arithmetic cannot run there cheaply).

A *working day* is the calendar's standard working day: the length of its `workday_hours` (the
hours of a make-up workday; 9 h for the default 09:00–18:00). A stage is measured on its calendar —
the calendar of its SLA timer (its policy's), else the default calendar; a campaign on the default
calendar, from its first stage's entry to its completion.

- `cycle_wd` = working time inside [entered, left) ÷ the standard working day. Time on hold counts:
  the cycle is what the campaign waited, while the stage's SLA timer pauses (so a stage held past its
  limit reads as over it here although its timer was met).
- `limit_wd` (at entry) = working time between the entry and the deadline the stage's time limit
  sets from it, in the same unit: `working_days: N` is N whatever the hour of entry; `working_hours`
  is its hours ÷ the working day; `calendar` (wall-clock) and `daily_at` count the working time the
  deadline actually leaves, so a 7-day limit over National Day is worth less than 7 working days.
  NULL when the stage has no time limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import BusinessCalendar, Target
from shared.models import Campaign, CampaignStage, SlaTimer
from shared.sla.directory import load_calendars
from shared.workflow.sla import StageSubject

PLACES = Decimal("0.001")


def working_day(cal: BusinessCalendar) -> timedelta:
    """The calendar's standard working day: the length of its workday hours."""
    return timedelta(minutes=sum(end - start for start, end in cal.workday_hours))


def working_days_between(cal: BusinessCalendar, start: datetime, end: datetime) -> Decimal:
    """Working time in [start, end) in standard working days, to three places."""
    ratio = cal.working_between(start, end) / working_day(cal)
    return Decimal(ratio).quantize(PLACES)


def limit_in_working_days(cal: BusinessCalendar, limit: dict[str, Any] | None, entered_at: datetime) -> Decimal | None:
    """A stage's time limit in standard working days, as it stood at entry (None: no limit)."""
    if not limit:
        return None
    target = Target.parse(limit["kind"], limit["value"])
    if target.days:
        return Decimal(target.days).quantize(PLACES)
    return working_days_between(cal, entered_at, cal.deadline(entered_at, target))


async def stage_calendar(session: AsyncSession, stage_id: int) -> BusinessCalendar:
    """The calendar the stage is timed on: its latest SLA timer's, else the default calendar."""
    calendar_id = await session.scalar(
        select(SlaTimer.calendar_id)
        .where(SlaTimer.subject_type == StageSubject.stage, SlaTimer.subject_id == stage_id)
        .order_by(SlaTimer.id.desc())
        .limit(1)
    )
    return (await load_calendars(session, [calendar_id]))[calendar_id]


async def record_entry(session: AsyncSession, stage: CampaignStage) -> None:
    """Store the stage's limit in working days (call after its timer is started)."""
    if stage.entered_at is None:
        return
    cal = await stage_calendar(session, stage.id)
    stage.limit_wd = limit_in_working_days(cal, stage.spec.get("time_limit"), stage.entered_at)


async def record_exit(session: AsyncSession, stage: CampaignStage) -> None:
    """Store the stage's cycle in working days once it is left."""
    if stage.entered_at is None or stage.exited_at is None:
        return
    cal = await stage_calendar(session, stage.id)
    stage.cycle_wd = working_days_between(cal, stage.entered_at, stage.exited_at)


async def record_completion(
    session: AsyncSession, campaign: Campaign, *, started_at: datetime | None, now: datetime
) -> None:
    """A campaign completed now: when, and its cycle in working days on the default calendar."""
    campaign.completed_at = now
    if started_at is not None:
        default = (await load_calendars(session, []))[None]
        campaign.cycle_wd = working_days_between(default, started_at, now)
