"""Campaigns: owner, department, budget and dates."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import archive, crud
from shared.access import policy as access
from shared.actor import Actor
from shared.archive import archived_filter
from shared.campaigns.guards import sign_off_required
from shared.campaigns.schemas import CampaignCreate, CampaignUpdate
from shared.campaigns.sla import CampaignItem
from shared.errors import Conflict, InvalidInput, NotFound
from shared.filters import any_of, contains_text
from shared.goals.guards import require_approved_plan
from shared.goals.models import Goal
from shared.models import (
    ApprovalKind,
    ApprovalRule,
    Campaign,
    CampaignStage,
    CampaignStatus,
    Department,
    StageStatus,
    User,
)
from shared.org.permissions import require_may_act
from shared.roi import service as roi
from shared.sla.read import running_late
from shared.workflow import stages, templates
from shared.workflow.sla import StageSubject

# A campaign under way: starting one (or linking one under way to a goal) needs an approved plan.
RUNNING = (CampaignStatus.active, CampaignStatus.on_hold)


def _check_dates(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise InvalidInput.for_field("end_date", "must not be before start_date", "range")


async def create_campaign(session: AsyncSession, *, actor: Actor, data: CampaignCreate, now: datetime) -> Campaign:
    """Create a campaign; the owner defaults to the caller. With `template_key` it runs on that
    template's current version: its stages are created and the first starts now, under SLA."""
    owner_id = data.owner_id if data.owner_id is not None else actor.user_id
    if data.status != CampaignStatus.draft and data.template_key is None and await sign_off_required(session):
        raise InvalidInput.for_field(
            "status",
            "a new campaign is a draft while a campaign approval rule is in force: it leaves draft once its "
            "campaign approval is approved (changeCampaignState: plan, start)",
        )
    department_id = data.department_id if "department_id" in data.model_fields_set else actor.department_id
    access.require_department(actor, department_id)
    _check_dates(data.start_date, data.end_date)
    await crud.check_references(
        session,
        {
            "owner_id": (User, owner_id),
            "department_id": (Department, department_id),
            "goal_id": (Goal, data.goal_id),
        },
    )
    template = None
    if data.template_key is not None:
        try:
            template = await templates.current(session, data.template_key)
        except NotFound:
            raise InvalidInput.for_field("template_key", f"no workflow template {data.template_key!r}") from None
    elif data.stage_owners:
        raise InvalidInput.for_field("stage_owners", "needs a template_key")
    if template is not None or data.status in RUNNING:
        await require_approved_plan(session, data.goal_id)
    campaign = Campaign(
        **data.model_dump(exclude={"owner_id", "department_id", "template_key", "stage_owners"}),
        owner_id=owner_id,
        department_id=department_id,
    )
    campaign = await crud.create(session, actor=actor, obj=campaign, entity_type=CampaignItem.campaign)
    if template is not None:
        await stages.start_workflow(
            session,
            actor=actor,
            campaign=campaign,
            template=template,
            stage_owners=data.stage_owners,
            now=now,
        )
        await session.flush()
        await session.refresh(campaign)
    await roi.follow_campaign(session, actor=actor, campaign=campaign, now=now)
    return campaign


async def update_campaign(
    session: AsyncSession, *, actor: Actor, campaign_id: int, changes: CampaignUpdate, now: datetime
) -> Campaign:
    """Change a campaign; a big promotion's ROI estimate follows (flagged, start date moved,
    unflagged, cancelled)."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    archive.require_live(campaign, CampaignItem.campaign)
    given = changes.model_fields_set
    if "status" in given:
        raise InvalidInput.for_field(
            "status",
            "is changed by the campaign's actions, not here: POST /api/v1/campaigns/{id}/plan, start, hold, "
            "resume, cancel or complete (changeCampaignState) — they run its approvals and cascades",
        )
    _guard_protected_fields(actor, campaign, changes)
    if "is_big_promotion" in given and changes.is_big_promotion and not campaign.is_big_promotion:
        # adds work for the owner: the owner may take it on
        await require_may_act(
            session,
            actor,
            who="the campaign owner or a manager",
            what="flag it as a big promotion",
            parties=[campaign.owner_id],
        )
    if (
        "budget" in given
        and changes.budget != campaign.budget
        and campaign.status != CampaignStatus.draft
        and await session.scalar(
            select(ApprovalRule.id).where(ApprovalRule.kind == ApprovalKind.budget_change, ApprovalRule.enabled)
        )
        is not None
    ):
        raise Conflict.on_input(
            "a budget change needs its approval: request an approval of kind budget_change (createApproval)",
            "budget",
            "changed through a budget_change approval",
            "approval",
        )
    _check_dates(
        changes.start_date if "start_date" in given else campaign.start_date,
        changes.end_date if "end_date" in given else campaign.end_date,
    )
    await crud.check_references(
        session,
        {
            "owner_id": (User, changes.owner_id),
            "department_id": (Department, changes.department_id),
            "goal_id": (Goal, changes.goal_id),
        },
    )
    if campaign.status in RUNNING and "goal_id" in given and changes.goal_id != campaign.goal_id:
        await require_approved_plan(session, changes.goal_id)
    campaign = await crud.update(
        session,
        actor=actor,
        obj=campaign,
        changes=changes.model_dump(exclude_unset=True),
        entity_type=CampaignItem.campaign,
    )
    await roi.follow_campaign(session, actor=actor, campaign=campaign, now=now)
    return campaign


def _guard_protected_fields(actor: Actor, campaign: Campaign, changes: CampaignUpdate) -> None:
    """The fields that decide who approves it and where it belongs: its department, owner and major
    flag change only by a manager of its department (of both, for a move) or a director; a big
    promotion is unflagged likewise (its plan waits for the ROI estimate)."""
    given = changes.model_fields_set
    if "department_id" in given and changes.department_id != campaign.department_id:
        access.require_manages(
            actor, department_id=campaign.department_id, target=changes.department_id, what="move it to a department"
        )
    if "owner_id" in given and changes.owner_id != campaign.owner_id:
        access.require_manages(actor, department_id=campaign.department_id, what="give it another owner")
    if "is_major" in given and changes.is_major != campaign.is_major:
        access.require_manages(
            actor, department_id=campaign.department_id, what="flag or unflag it as major (it decides who approves it)"
        )
    if "is_big_promotion" in given and campaign.is_big_promotion and not changes.is_big_promotion:
        access.require_manages(
            actor,
            department_id=campaign.department_id,
            what="unflag a big promotion (it drops the ROI estimate its plan waits for)",
        )


def campaign_filter(
    stmt: Select[Any],
    *,
    statuses: Collection[CampaignStatus] | None = None,
    owner_id: int | None = None,
    department_id: int | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    archived: bool = False,
    now: datetime,
) -> Select[Any]:
    """The campaign board's filters; overdue means the stage it is in has passed its time limit.
    Archived campaigns only with `archived=True`."""
    stmt = archived_filter(stmt, Campaign, archived)
    if statuses:
        stmt = stmt.where(any_of(Campaign.status, statuses))
    if owner_id is not None:
        stmt = stmt.where(Campaign.owner_id == owner_id)
    if department_id is not None:
        stmt = stmt.where(Campaign.department_id == department_id)
    if q:
        stmt = stmt.where(contains_text(q, Campaign.name))
    if overdue is not None:
        late = exists().where(
            CampaignStage.campaign_id == Campaign.id,
            CampaignStage.status == StageStatus.active,
            running_late(StageSubject.stage, CampaignStage.id, now),
        )
        stmt = stmt.where(late if overdue else ~late)
    return stmt


async def current_stages(session: AsyncSession, campaign_ids: list[int]) -> dict[int, CampaignStage]:
    """The stage each campaign is in (its active stage); campaigns without one are left out."""
    if not campaign_ids:
        return {}
    rows = await session.scalars(
        select(CampaignStage)
        .where(CampaignStage.campaign_id.in_(campaign_ids), CampaignStage.status == StageStatus.active)
        .order_by(CampaignStage.campaign_id, CampaignStage.position)
    )
    out: dict[int, CampaignStage] = {}
    for stage in rows:
        out.setdefault(stage.campaign_id, stage)
    return out
