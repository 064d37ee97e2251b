"""A campaign on a template: its stages, their gates, deliverables and checklists, hold / resume
/ cancel — every change brings the stage SLA timers along in the same transaction."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.audit import service as audit
from shared.campaigns.guards import require_running
from shared.campaigns.sla import CampaignItem
from shared.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.models import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Campaign,
    CampaignStage,
    CampaignStatus,
    ReviewRequest,
    ReviewStatus,
    StageDeliverable,
    StageStatus,
    User,
    WorkflowTemplate,
)
from shared.sla.sync import sync_timers
from shared.workflow.schemas import ChecklistTick, DeliverableCreate, StageUpdate
from shared.workflow.sla import StageSubject


async def start_workflow(
    session: AsyncSession,
    *,
    actor: Actor,
    campaign: Campaign,
    template: WorkflowTemplate,
    stage_owners: dict[str, int],
    now: datetime,
) -> list[CampaignStage]:
    """Instantiate the template's stages on the campaign; the first starts now, with its timer."""
    keys = {s["key"] for s in template.stages}
    for key, user_id in stage_owners.items():
        if key not in keys:
            raise InvalidInput.for_field(f"stage_owners.{key}", f"the template has no stage {key!r}")
        await crud.check_references(session, {f"stage_owners.{key}": (User, user_id)})
    campaign.template_id = template.id
    campaign.status = CampaignStatus.active
    stages = [
        CampaignStage(
            campaign_id=campaign.id,
            key=spec["key"],
            position=i,
            name=spec["name"],
            name_en=spec.get("name_en"),
            spec=spec,
            owner_id=stage_owners.get(spec["key"], campaign.owner_id),
            status=StageStatus.active if i == 0 else StageStatus.pending,
            checklist={},
            entered_at=now if i == 0 else None,
        )
        for i, spec in enumerate(template.stages)
    ]
    session.add_all(stages)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="workflow.start",
        entity_type=CampaignItem.campaign,
        entity_id=campaign.id,
        before=None,
        after={"template": template.key, "version": template.version, "stage": stages[0].key},
    )
    await sync_timers(session, StageSubject.stage, [stages[0].id], now=now)
    return stages


async def stages_of(session: AsyncSession, campaign_id: int) -> list[CampaignStage]:
    return list(
        await session.scalars(
            select(CampaignStage).where(CampaignStage.campaign_id == campaign_id).order_by(CampaignStage.position)
        )
    )


async def deliverables_of(session: AsyncSession, stage_ids: list[int]) -> dict[int, list[StageDeliverable]]:
    out: dict[int, list[StageDeliverable]] = {i: [] for i in stage_ids}
    for d in await session.scalars(
        select(StageDeliverable).where(StageDeliverable.stage_id.in_(stage_ids)).order_by(StageDeliverable.id)
    ):
        out[d.stage_id].append(d)
    return out


async def get_stage(session: AsyncSession, campaign_id: int, key: str, *, for_update: bool = False) -> CampaignStage:
    stmt = select(CampaignStage).where(CampaignStage.campaign_id == campaign_id, CampaignStage.key == key)
    if for_update:
        stmt = stmt.with_for_update()
    stage = (await session.scalars(stmt)).first()
    if stage is None:
        await crud.get_or_404(session, Campaign, campaign_id)
        raise NotFound(f"campaign {campaign_id} has no stage {key!r}")
    return stage


async def sign_offs(session: AsyncSession, stages: list[CampaignStage]) -> dict[int, list[FieldError]]:
    """What a stage's `requires` still waits for: its latest review approved by consensus, or its
    latest stage approval through every step. A rejection blocks the gate and says why."""
    out: dict[int, list[FieldError]] = {s.id: [] for s in stages}
    wants_review = [s.id for s in stages if s.spec.get("requires") == "review"]
    wants_approval = [s.id for s in stages if s.spec.get("requires") == "approval"]
    if wants_review:
        latest: dict[int, ReviewRequest] = {}
        for r in await session.scalars(
            select(ReviewRequest)
            .where(ReviewRequest.stage_id.in_(wants_review), ReviewRequest.status != ReviewStatus.cancelled)
            .order_by(ReviewRequest.id)
        ):
            latest[r.stage_id] = r  # type: ignore[index]
        for stage_id in wants_review:
            review = latest.get(stage_id)
            if review is None:
                out[stage_id].append(FieldError("review", "no cross-department review requested yet", "gate"))
            elif review.status == ReviewStatus.rejected:
                out[stage_id].append(FieldError("review", f"review #{review.id} was rejected", "gate"))
            elif review.status != ReviewStatus.approved:
                out[stage_id].append(
                    FieldError("review", f"review #{review.id} round {review.round} is {review.status.value}", "gate")
                )
    if wants_approval:
        approvals: dict[int, Approval] = {}
        for a in await session.scalars(
            select(Approval)
            .where(
                Approval.stage_id.in_(wants_approval),
                Approval.kind == ApprovalKind.stage,
                Approval.status != ApprovalStatus.cancelled,
            )
            .order_by(Approval.id)
        ):
            approvals[a.stage_id] = a  # type: ignore[index]
        for stage_id in wants_approval:
            approval = approvals.get(stage_id)
            if approval is None:
                out[stage_id].append(FieldError("approval", "no approval requested yet", "gate"))
            elif approval.status == ApprovalStatus.rejected:
                why = f": {approval.decision_reason}" if approval.decision_reason else ""
                out[stage_id].append(FieldError("approval", f"approval #{approval.id} was rejected{why}", "gate"))
            elif approval.status != ApprovalStatus.approved:
                out[stage_id].append(FieldError("approval", f"approval #{approval.id} is still pending", "gate"))
    return out


def gate(
    stage: CampaignStage, deliverables: list[StageDeliverable], sign_off: list[FieldError] | None = None
) -> list[FieldError]:
    """What still stands between this stage and the next: every required deliverable attached,
    every checklist item ticked, and the review or approval it requires given."""
    unmet: list[FieldError] = list(sign_off or [])
    attached = {d.deliverable_key for d in deliverables}
    for item in stage.spec.get("deliverables", []):
        if item["key"] not in attached:
            unmet.append(FieldError(f"deliverables.{item['key']}", f"missing deliverable {item['name']}", "gate"))
    for item in stage.spec.get("checklist", []):
        if not (stage.checklist.get(item["key"]) or {}).get("done"):
            unmet.append(FieldError(f"checklist.{item['key']}", f"not ticked: {item['text']}", "gate"))
    return unmet


async def advance(
    session: AsyncSession, *, actor: Actor, campaign_id: int, key: str, now: datetime
) -> tuple[CampaignStage, CampaignStage | None]:
    """Leave stage `key` through its gate (409 listing every unmet condition), meeting its timer,
    and enter the next stage with its own timer; after the last, the campaign is completed."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    stage = await get_stage(session, campaign_id, key, for_update=True)
    require_running(campaign)
    if stage.status != StageStatus.active:
        raise Conflict(
            f"stage {key!r} is {stage.status.value}, not the active stage",
            errors=[FieldError("stage", stage.status.value, "state")],
        )
    unmet = gate(
        stage, (await deliverables_of(session, [stage.id]))[stage.id], (await sign_offs(session, [stage]))[stage.id]
    )
    if unmet:
        raise Conflict(f"stage {key!r} cannot be left yet: {len(unmet)} condition(s) unmet", errors=unmet)
    stages = await stages_of(session, campaign_id)
    following = next((s for s in stages if s.position == stage.position + 1), None)
    stage.status, stage.exited_at = StageStatus.done, now
    if following is not None:
        following.status, following.entered_at = StageStatus.active, now
    else:
        campaign.status = CampaignStatus.completed
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="stage.advance",
        entity_type=CampaignItem.campaign,
        entity_id=campaign_id,
        before={"stage": key},
        after={"stage": following.key if following else None, "status": campaign.status.value},
    )
    await sync_timers(session, StageSubject.stage, [stage.id] + ([following.id] if following else []), now=now)
    return stage, following


async def add_deliverable(
    session: AsyncSession, *, actor: Actor, campaign_id: int, key: str, data: DeliverableCreate, now: datetime
) -> StageDeliverable:
    stage = await get_stage(session, campaign_id, key, for_update=True)
    wanted = {d["key"] for d in stage.spec.get("deliverables", [])}
    if data.deliverable_key is not None and data.deliverable_key not in wanted:
        raise InvalidInput.for_field(
            "deliverable_key",
            f"stage {key!r} expects {', '.join(sorted(wanted)) or 'no named deliverables'}",
        )
    if data.url and urlsplit(data.url).scheme not in ("http", "https"):
        raise InvalidInput.for_field("url", "must be an http(s) URL")
    row = StageDeliverable(stage_id=stage.id, added_by=actor.user_id, added_at=now, **data.model_dump())
    return await crud.create(session, actor=actor, obj=row, entity_type="stage_deliverable")


async def tick(
    session: AsyncSession,
    *,
    actor: Actor,
    campaign_id: int,
    key: str,
    item_key: str,
    data: ChecklistTick,
    now: datetime,
) -> CampaignStage:
    stage = await get_stage(session, campaign_id, key, for_update=True)
    items = {i["key"] for i in stage.spec.get("checklist", [])}
    if item_key not in items:
        raise NotFound(f"stage {key!r} has no checklist item {item_key!r}")
    checklist = dict(stage.checklist)
    checklist[item_key] = {"done": data.done, "note": data.note, "by": actor.user_id, "at": now.isoformat()}
    return await crud.update(
        session, actor=actor, obj=stage, changes={"checklist": checklist}, entity_type=StageSubject.stage
    )


async def set_owner(
    session: AsyncSession,
    *,
    actor: Actor,
    campaign_id: int,
    key: str,
    changes: StageUpdate,
    now: datetime,
) -> CampaignStage:
    """Reassign a stage; a running timer follows (escalations go to the new owner's chain)."""
    stage = await get_stage(session, campaign_id, key, for_update=True)
    await crud.check_references(session, {"owner_id": (User, changes.owner_id)})
    stage = await crud.update(
        session, actor=actor, obj=stage, changes={"owner_id": changes.owner_id}, entity_type=StageSubject.stage
    )
    if stage.entered_at is not None:
        await sync_timers(session, StageSubject.stage, [stage.id], now=now)
    return stage


def cycle_seconds(stage: CampaignStage, now: datetime) -> float | None:
    """Calendar time spent in the stage so far (or in all, once left)."""
    if stage.entered_at is None:
        return None
    return ((stage.exited_at or now) - stage.entered_at).total_seconds()
