"""A running campaign's status: hold, resume, cancel. Calls downwards only: the stages (their
timers pause, resume or are cancelled) and, on cancel, every domain that registered how its open
items go with a cancelled campaign (`shared.sla.registry.on_campaign_cancelled`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from shared import (
    crud,
    subjects,  # noqa: F401 — every domain's cascade is registered before a campaign can be cancelled
)
from shared.actor import Actor
from shared.campaigns.sla import CampaignItem
from shared.errors import Conflict, FieldError
from shared.models import Campaign, CampaignStatus, StageStatus
from shared.sla import registry
from shared.sla.sync import sync_timers
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
        await cancel_open_work(session, campaign_id=campaign_id, now=now)
    return campaign


async def cancel_open_work(session: AsyncSession, *, campaign_id: int, now: datetime) -> int:
    """A cancelled campaign leaves nothing chasing anyone: every registered domain cancels its open
    items of the campaign (their timers too), audited as such. Returns how many."""
    actor = Actor.system("campaign-cancelled")
    cancelled = 0
    for _type, cascade in registry.campaign_cascades():
        cancelled += await cascade(session, actor, campaign_id, now)
    return cancelled
