"""A campaign's status: plan, start, hold, resume, cancel, complete (a campaign without a workflow)
and completion through the last gate — the only ways it changes (a PATCH cannot set it). Calls
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
from shared.approvals.hooks import on_approval_decided
from shared.archive import Disposal
from shared.campaigns.guards import sign_off_required
from shared.campaigns.sla import CampaignItem
from shared.errors import Conflict, FieldError
from shared.goals.guards import require_approved_plan
from shared.models import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Campaign,
    CampaignStage,
    CampaignStatus,
    StageStatus,
    Task,
)
from shared.roi import service as roi
from shared.sla import registry
from shared.sla.sync import sync_timers
from shared.tasks.service import archive_tasks
from shared.tasks.sla import TaskSubject
from shared.workflow import stages
from shared.workflow.sla import StageSubject


class CampaignAction(StrEnum):
    plan = "plan"
    start = "start"
    hold = "hold"
    resume = "resume"
    cancel = "cancel"
    complete = "complete"


# action → (the statuses it applies to, the status it leads to)
TRANSITIONS: dict[CampaignAction, tuple[tuple[CampaignStatus, ...], CampaignStatus]] = {
    CampaignAction.plan: ((CampaignStatus.draft,), CampaignStatus.planned),
    CampaignAction.start: ((CampaignStatus.draft, CampaignStatus.planned), CampaignStatus.active),
    CampaignAction.hold: ((CampaignStatus.active,), CampaignStatus.on_hold),
    CampaignAction.resume: ((CampaignStatus.on_hold,), CampaignStatus.active),
    CampaignAction.cancel: (
        (CampaignStatus.draft, CampaignStatus.planned, CampaignStatus.active, CampaignStatus.on_hold),
        CampaignStatus.cancelled,
    ),
    CampaignAction.complete: ((CampaignStatus.active,), CampaignStatus.completed),
}
# A workflow's stages start and complete the campaign through their gates.
WORKFLOW_ONLY = (CampaignAction.hold, CampaignAction.resume, CampaignAction.cancel)
RUNNING = (CampaignStatus.active, CampaignStatus.on_hold)


async def _require_signed_off(session: AsyncSession, campaign: Campaign) -> None:
    """A draft leaves draft — after which its budget changes only through a budget_change approval
    (双签) — once its campaign approval is approved, when a campaign approval rule is in force.
    Without this, editing a draft's budget and setting it active would skip every signature."""
    if campaign.status != CampaignStatus.draft or not await sign_off_required(session):
        return
    approved = await session.scalar(
        select(Approval.id)
        .where(
            Approval.campaign_id == campaign.id,
            Approval.kind == ApprovalKind.campaign,
            Approval.status == ApprovalStatus.approved,
        )
        .limit(1)
    )
    if approved is None:
        raise Conflict(
            "a draft campaign leaves draft once approved: request an approval of kind campaign (requestApproval)",
            errors=[FieldError("approval", "no approved campaign approval", "approval")],
        )


@on_approval_decided(ApprovalKind.campaign)
async def _campaign_approved(session: AsyncSession, approval: Approval, now: datetime) -> None:
    """An approved campaign approval signs off its draft: the campaign becomes planned."""
    if approval.status != ApprovalStatus.approved or approval.campaign_id is None:
        return
    campaign = await session.get(Campaign, approval.campaign_id, with_for_update=True)
    if campaign is not None and campaign.status == CampaignStatus.draft:
        await crud.update(
            session,
            actor=Actor.system("campaign-approved"),
            obj=campaign,
            changes={"status": CampaignStatus.planned},
            entity_type=CampaignItem.campaign,
        )


async def change_status(
    session: AsyncSession, *, actor: Actor, campaign_id: int, action: CampaignAction, now: datetime
) -> Campaign:
    """plan and start (a draft only once approved; a campaign serving a quarterly goal only once that
    plan is approved), hold (the active stage's timer pauses), resume (it runs on), cancel (every
    open stage and its timer is cancelled, and the campaign's open work with it), complete (a
    campaign without a workflow; one with a workflow completes through its last gate)."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    if campaign.template_id is not None and action not in WORKFLOW_ONLY:
        raise Conflict(
            f"this campaign runs on a workflow: its stages' gates {action.value} it",
            errors=[FieldError("campaign", "workflow", "state")],
        )
    sources, target = TRANSITIONS[action]
    if campaign.status not in sources:
        raise Conflict(
            f"cannot {action.value} a campaign that is {campaign.status.value}",
            errors=[FieldError("campaign", campaign.status.value, "state")],
        )
    if target in RUNNING and campaign.status not in RUNNING:
        await require_approved_plan(session, campaign.goal_id)
    if action in (CampaignAction.plan, CampaignAction.start):
        await _require_signed_off(session, campaign)
    all_stages = await stages.stages_of(session, campaign_id)
    if action == CampaignAction.cancel:
        for s in all_stages:
            if s.status in (StageStatus.active, StageStatus.pending):
                s.status, s.exited_at = StageStatus.cancelled, now if s.status == StageStatus.active else None
    campaign = await crud.update(
        session, actor=actor, obj=campaign, changes={"status": target}, entity_type=CampaignItem.campaign
    )
    await sync_timers(session, StageSubject.stage, [s.id for s in all_stages if s.entered_at is not None], now=now)
    if action in (CampaignAction.cancel, CampaignAction.complete):
        await close_open_work(session, campaign_id=campaign_id, now=now, outcome=target)
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
