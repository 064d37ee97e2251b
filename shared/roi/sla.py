"""ROI estimates as SLA subjects: owed by the campaign's owner, due 15 calendar days before the
campaign starts (their own `due_at`); warn 3 days before, breach → owner + owner's manager, +1 day →
the director. Without a start date nothing is due yet (`undated`: no timer)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.campaigns.sla import CampaignItem
from shared.models import Campaign, User
from shared.roi.models import RoiEstimate, RoiEstimateStatus
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class RoiSubject(StrEnum):
    roi_estimate = "roi_estimate"


UNDATED = "undated"  # not a stored status: owed, but the campaign has no start date to count back from


async def load_roi_estimates(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    rows = await session.execute(
        select(
            RoiEstimate.id,
            RoiEstimate.status,
            RoiEstimate.due_at,
            Campaign.id.label("campaign_id"),
            Campaign.name,
            Campaign.owner_id,
            Campaign.department_id,
            User.department_id.label("owner_department_id"),
        )
        .join(Campaign, Campaign.id == RoiEstimate.campaign_id)
        .outerjoin(User, User.id == Campaign.owner_id)
        .where(RoiEstimate.id.in_(list(ids)))
    )
    out = {}
    for r in rows:
        status = str(r.status)
        if r.status == RoiEstimateStatus.pending and r.due_at is None:
            status = UNDATED
        out[r.id] = SubjectContext(
            type=RoiSubject.roi_estimate,
            id=r.id,
            title=r.name,
            status=status,
            path=f"/api/v1/campaigns/{r.campaign_id}/roi-estimate",
            assignee_id=r.owner_id,
            department_id=r.department_id or r.owner_department_id,
            campaign_id=r.campaign_id,
            explicit_due_at=r.due_at,
            timed=r.due_at is not None,
        )
    return out


ROI_ESCALATION: dict[str, Any] = {
    "name": "大促ROI测算升级 Big-promotion ROI estimate escalation",
    "description": "warn the campaign owner 3 days before; breach → owner + owner's manager; +1 day → director",
    "levels": [
        {"offset": "-P3D", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
        {"offset": "+P1D", "recipients": ["director"]},
    ],
}

register_item(TrailItem(RoiSubject.roi_estimate, RoiEstimate.id, aliases=("roi-estimate",)))
ROI_ESTIMATE = register(
    SubjectSpec(
        type=RoiSubject.roi_estimate,
        load=load_roi_estimates,
        statuses=(*RoiEstimateStatus, UNDATED),
        labels={"zh-CN": "大促 ROI 测算报告", "en-US": "Big-promotion ROI estimate"},
        trail=(
            TrailLink(RoiSubject.roi_estimate, RoiEstimate.id),
            TrailLink(CampaignItem.campaign, RoiEstimate.campaign_id),
        ),
        default_start=(RoiEstimateStatus.pending,),
        default_stop=(RoiEstimateStatus.submitted,),
        default_cancel=(RoiEstimateStatus.cancelled, UNDATED),
        default_policies=(
            (
                ROI_ESCALATION,
                {
                    "name": "大促ROI测算报告时限 Big-promotion ROI estimate deadline",
                    "description": "提前15天提交ROI测算报告: due 15 calendar days before the campaign starts",
                    # Every estimate carries its own due date (counted back from the start date);
                    # the target is what that amounts to, shown when none is set.
                    "target_kind": "calendar",
                    "target_value": "P15D",
                    "start_statuses": [RoiEstimateStatus.pending],
                    "stop_statuses": [RoiEstimateStatus.submitted],
                    "cancel_statuses": [RoiEstimateStatus.cancelled, UNDATED],
                },
            ),
        ),
    )
)
