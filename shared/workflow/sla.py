"""Campaign stages as SLA subjects: the active stage runs against its template's time limit; the
active stage of a campaign on hold reads as `on_hold` (paused)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.campaigns.sla import CampaignItem
from shared.models import Campaign, CampaignStage, CampaignStatus, StageStatus, User
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class StageSubject(StrEnum):
    stage = "campaign_stage"


ON_HOLD = "on_hold"  # not a stored status: the active stage of a campaign on hold


async def load_stages(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """A campaign's stage: owned by its owner, in the campaign's department, timed by its
    template's time limit."""
    rows = await session.execute(
        select(
            CampaignStage.id,
            CampaignStage.key,
            CampaignStage.name,
            CampaignStage.status,
            CampaignStage.owner_id,
            CampaignStage.spec,
            Campaign.id.label("campaign_id"),
            Campaign.name.label("campaign_name"),
            Campaign.status.label("campaign_status"),
            Campaign.department_id,
            User.department_id.label("owner_department_id"),
        )
        .join(Campaign, Campaign.id == CampaignStage.campaign_id)
        .outerjoin(User, User.id == CampaignStage.owner_id)
        .where(CampaignStage.id.in_(list(ids)))
    )
    out = {}
    for r in rows:
        status = str(r.status)
        if r.status == StageStatus.active and r.campaign_status == CampaignStatus.on_hold:
            status = ON_HOLD
        limit = (r.spec or {}).get("time_limit")
        out[r.id] = SubjectContext(
            type=StageSubject.stage,
            id=r.id,
            title=f"{r.campaign_name} · {r.name}",
            status=status,
            path=f"/api/v1/campaigns/{r.campaign_id}/stages/{r.key}",
            assignee_id=r.owner_id,
            department_id=r.department_id or r.owner_department_id,
            campaign_id=r.campaign_id,
            explicit_target=(limit["kind"], limit["value"]) if limit else None,
            timed=limit is not None,
        )
    return out


# Stages: warn at 80 %, breach → stage owner + manager, +8 working hours → director.
DEFAULT_STAGE_ESCALATION: dict[str, Any] = {
    "name": "阶段默认升级 Campaign stage default escalation",
    "description": "warn at 80 %; breach → stage owner + manager; +8 working hours → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
        {"offset": "+PT8H", "recipients": ["director", "campaign_owner"]},
    ],
}
DEFAULT_STAGE_POLICY: dict[str, Any] = {
    "name": "活动阶段时限 Campaign stage time limit",
    "description": "the active stage of every campaign, against its template's time limit; on hold pauses",
    "conditions": {},
    "target_kind": "working_days",
    "target_value": "3",
    "start_statuses": ["active"],
    "pause_statuses": ["on_hold"],
    "stop_statuses": ["done"],
    "cancel_statuses": ["cancelled"],
}

register_item(TrailItem(StageSubject.stage, CampaignStage.id, aliases=("stage",)))  # /campaigns/{id}/stages
STAGE = register(
    SubjectSpec(
        type=StageSubject.stage,
        load=load_stages,
        statuses=(*StageStatus, ON_HOLD),
        labels={"zh-CN": "活动阶段", "en-US": "Campaign stage"},
        trail=(
            TrailLink(StageSubject.stage, CampaignStage.id),
            TrailLink(CampaignItem.campaign, CampaignStage.campaign_id),
        ),
        default_start=(StageStatus.active,),
        default_pause=(ON_HOLD,),
        default_stop=(StageStatus.done,),
        default_cancel=(StageStatus.cancelled,),
        default_policies=((DEFAULT_STAGE_ESCALATION, DEFAULT_STAGE_POLICY),),
    )
)
