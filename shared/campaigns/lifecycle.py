"""A running campaign's status: hold, resume, cancel, and completion through the last gate. Calls
downwards only: the stages (their timers pause, resume, are met or cancelled) and, on cancel or
completion, every domain that registered how its open items go with a closed campaign
(`shared.sla.registry.on_campaign_cancelled`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import (
    archive,
    crud,
    subjects,  # noqa: F401 — every domain's cascade is registered before a campaign can be cancelled
)
from shared.actor import Actor
from shared.archive import Disposal
from shared.campaigns.sla import CampaignItem
from shared.errors import Conflict, FieldError
from shared.models import Campaign, CampaignStage, CampaignStatus, StageStatus, Task
from shared.roi import service as roi
from shared.sla import registry
from shared.sla.sync import sync_timers
from shared.tasks.service import archive_tasks
from shared.tasks.sla import TaskSubject
from shared.workflow import stages
from shared.workflow.sla import StageSubject


class CampaignAction(StrEnum):
    hold = "hold"
    resume = "resume"
    cancel = "cancel"


# action → (the statuses it applies to, the status it leads to)
TRANSITIONS: dict[CampaignAction, tuple[tuple[CampaignStatus, ...], CampaignStatus]] = {
    CampaignAction.hold: ((CampaignStatus.active,), CampaignStatus.on_hold),
    CampaignAction.resume: ((CampaignStatus.on_hold,), CampaignStatus.active),
    CampaignAction.cancel: (
        (CampaignStatus.active, CampaignStatus.on_hold, CampaignStatus.planned),
        CampaignStatus.cancelled,
    ),
}


async def change_status(
    session: AsyncSession, *, actor: Actor, campaign_id: int, action: CampaignAction, now: datetime
) -> Campaign:
    """hold (the active stage's timer pauses), resume (it runs on), cancel (every open stage and
    its timer is cancelled, and the campaign's open work with it)."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    if campaign.template_id is None:
        raise Conflict("this campaign runs on no template", errors=[FieldError("campaign", "no workflow", "state")])
    sources, target = TRANSITIONS[action]
    if campaign.status not in sources:
        raise Conflict(
            f"cannot {action.value} a campaign that is {campaign.status.value}",
            errors=[FieldError("campaign", campaign.status.value, "state")],
        )
    all_stages = await stages.stages_of(session, campaign_id)
    if action == CampaignAction.cancel:
        for s in all_stages:
            if s.status in (StageStatus.active, StageStatus.pending):
                s.status, s.exited_at = StageStatus.cancelled, now if s.status == StageStatus.active else None
    campaign = await crud.update(
        session, actor=actor, obj=campaign, changes={"status": target}, entity_type=CampaignItem.campaign
    )
    await sync_timers(session, StageSubject.stage, [s.id for s in all_stages if s.entered_at is not None], now=now)
    if action == CampaignAction.cancel:
        await close_open_work(session, campaign_id=campaign_id, now=now, outcome=CampaignStatus.cancelled)
    return campaign


async def advance(
    session: AsyncSession, *, actor: Actor, campaign_id: int, key: str, now: datetime
) -> tuple[CampaignStage, CampaignStage | None]:
    """Leave stage `key` through its gate (`shared.workflow.stages.advance`); leaving the last one
    completes the campaign, and then nothing of it keeps running: its open items are closed."""
    left, entered = await stages.advance(session, actor=actor, campaign_id=campaign_id, key=key, now=now)
    if entered is None:
        await close_open_work(session, campaign_id=campaign_id, now=now, outcome=CampaignStatus.completed)
    return left, entered


async def close_open_work(session: AsyncSession, *, campaign_id: int, now: datetime, outcome: CampaignStatus) -> int:
    """A cancelled or completed campaign leaves nothing chasing anyone: every registered domain
    cancels its open items of the campaign (their timers too), audited as such. Returns how many."""
    actor = Actor.system(f"campaign-{outcome.value}")
    closed = 0
    for _type, cascade in registry.campaign_cascades():
        closed += await cascade(session, actor, campaign_id, now, f"campaign {outcome.value}")
    return closed


async def remove_campaign(session: AsyncSession, *, actor: Actor, campaign_id: int, now: datetime) -> Disposal:
    """DELETE a campaign (`shared.archive`). A bare draft is deleted with its stages (their timers
    and its ROI estimate's stop). One with history is archived: first cancelled like `cancel` —
    every open stage, task, review, approval and collaboration request of it, timers too — then its
    tasks and itself are archived, so nothing of it escalates and the boards no longer show it."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    history = await archive.history_of(session, CampaignItem.campaign, campaign_id)
    all_stages = await stages.stages_of(session, campaign_id)
    timed = [s.id for s in all_stages if s.entered_at is not None]
    if not history:
        estimates = await roi.ids_for_campaign(session, campaign_id)
        await archive.remove(
            session, actor=actor, obj=campaign, entity_type=CampaignItem.campaign, now=now, history=history
        )
        await sync_timers(session, StageSubject.stage, timed, now=now)  # the stages went with it
        await sync_timers(session, roi.ITEM, estimates, now=now)
        return Disposal.deleted
    if campaign.archived_at is not None:
        return Disposal.archived
    for s in all_stages:
        if s.status in (StageStatus.active, StageStatus.pending):
            s.status, s.exited_at = StageStatus.cancelled, now if s.status == StageStatus.active else None
    if campaign.status not in (CampaignStatus.completed, CampaignStatus.cancelled):
        await crud.update(
            session,
            actor=actor,
            obj=campaign,
            changes={"status": CampaignStatus.cancelled},
            entity_type=CampaignItem.campaign,
        )
    await sync_timers(session, StageSubject.stage, timed, now=now)
    await close_open_work(session, campaign_id=campaign_id, now=now, outcome=CampaignStatus.cancelled)
    tasks = list(
        await session.scalars(
            select(Task).where(Task.campaign_id == campaign_id, Task.archived_at.is_(None)).order_by(Task.id)
        )
    )
    await archive_tasks(session, actor=actor, tasks=tasks, now=now, history=[f"campaign {campaign_id} archived"])
    await archive.archive(
        session, actor=actor, obj=campaign, entity_type=CampaignItem.campaign, now=now, history=history
    )
    return Disposal.archived


async def restore_campaign(session: AsyncSession, *, actor: Actor, campaign_id: int) -> Campaign:
    """Bring an archived campaign back to the boards, with the tasks archived along with it. What
    archiving cancelled stays cancelled (a restored campaign is a record, not a running one)."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    if campaign.archived_at is None:
        return campaign
    tasks = await session.scalars(
        select(Task)
        .where(Task.campaign_id == campaign_id, Task.archived_at == campaign.archived_at)
        .order_by(Task.id)
        .with_for_update()
    )
    for task in tasks:
        await archive.restore(session, actor=actor, obj=task, entity_type=TaskSubject.task)
    await archive.restore(session, actor=actor, obj=campaign, entity_type=CampaignItem.campaign)
    await session.refresh(campaign)
    return campaign
