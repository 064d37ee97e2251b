"""What a campaign's state allows, checked by every domain that hangs work on a campaign."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, FieldError
from shared.models import ApprovalKind, ApprovalRule, Campaign, CampaignStatus

CLOSED = (CampaignStatus.cancelled, CampaignStatus.completed)


def require_open_campaign(campaign: Campaign) -> None:
    """New reviews, approvals, collaboration requests … only for a campaign still under way."""
    if campaign.status in CLOSED:
        raise Conflict(
            f"the campaign is {campaign.status.value}",
            errors=[FieldError("campaign_id", campaign.status.value, "state")],
        )


def require_running(campaign: Campaign) -> None:
    """Stage work (advancing, entering) only while the campaign is neither held nor closed."""
    if campaign.status == CampaignStatus.on_hold:
        raise Conflict("the campaign is on hold: resume it first", errors=[FieldError("campaign", "on hold", "state")])
    if campaign.status in CLOSED:
        raise Conflict(
            f"the campaign is {campaign.status.value}", errors=[FieldError("campaign", campaign.status.value, "state")]
        )


async def sign_off_required(session: AsyncSession) -> bool:
    """A campaign approval rule is in force: a draft leaves draft only once its campaign approval is
    approved (and a new campaign starts as a draft)."""
    rule = await session.scalar(
        select(ApprovalRule.id).where(ApprovalRule.kind == ApprovalKind.campaign, ApprovalRule.enabled).limit(1)
    )
    return rule is not None
