"""A campaign on a template: its stages, their gates, deliverables and checklists, hold / resume
/ cancel — every change brings the stage SLA timers along in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.audit import service as audit
from shared.campaigns.guards import require_running
from shared.campaigns.sla import CampaignItem
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from shared.models import (
    OPEN_TASK_STATUSES,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Campaign,
    CampaignStage,
    CampaignStatus,
    Department,
    OpenTasksAtCompletion,
    ResponseStatus,
    ReviewRequest,
    ReviewResponse,
    ReviewStatus,
    Role,
    SlaTimer,
    StageDeliverable,
    StageStatus,
    Task,
    TimerState,
    User,
    WorkflowTemplate,
)
from shared.notify import arrival
from shared.rectifications.models import Rectification, RectificationSource
from shared.reviews.sla import ReviewSubject
from shared.roi import service as roi
from shared.sla.sync import sync_timers
from shared.workflow import cycle
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
    await cycle.record_entry(session, stages[0])
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


@dataclass
class GateFacts:
    """What the gates read from data, by stage id: the conditions still unmet (the review or
    approval the stage requires, the next stage's entry approval, a big promotion's ROI estimate,
    derived checklist items, the last stage's open tasks) and each derived checklist item's state,
    as a stage shows it."""

    unmet: dict[int, list[FieldError]]
    derived: dict[int, dict[str, dict[str, Any]]]


async def _latest_reviews(session: AsyncSession, stage_ids: list[int]) -> dict[int, ReviewRequest]:
    latest: dict[int, ReviewRequest] = {}
    if stage_ids:
        for r in await session.scalars(
            select(ReviewRequest)
            .where(ReviewRequest.stage_id.in_(stage_ids), ReviewRequest.status != ReviewStatus.cancelled)
            .order_by(ReviewRequest.id)
        ):
            latest[r.stage_id] = r  # type: ignore[index]
    return latest


async def _approval_waits(session: AsyncSession, stage_ids: list[int]) -> dict[int, str | None]:
    """Each stage's latest stage approval: None once approved through every step, else why not."""
    approvals: dict[int, Approval] = {}
    if stage_ids:
        for a in await session.scalars(
            select(Approval)
            .where(
                Approval.stage_id.in_(stage_ids),
                Approval.kind == ApprovalKind.stage,
                Approval.status != ApprovalStatus.cancelled,
            )
            .order_by(Approval.id)
        ):
            approvals[a.stage_id] = a  # type: ignore[index]
    out: dict[int, str | None] = {}
    for stage_id in stage_ids:
        approval = approvals.get(stage_id)
        if approval is None:
            out[stage_id] = "no approval requested yet"
        elif approval.status == ApprovalStatus.rejected:
            why = f": {approval.decision_reason}" if approval.decision_reason else ""
            out[stage_id] = f"approval #{approval.id} was rejected{why}"
        elif approval.status != ApprovalStatus.approved:
            out[stage_id] = f"approval #{approval.id} is still pending"
        else:
            out[stage_id] = None
    return out


def _review_wait(review: ReviewRequest | None) -> str | None:
    if review is None:
        return "no cross-department review requested yet"
    if review.status == ReviewStatus.rejected:
        return f"review #{review.id} was rejected"
    if review.status != ReviewStatus.approved:
        return f"review #{review.id} round {review.round} is {review.status.value}"
    return None


async def _reviews_on_time(session: AsyncSession, reviews: list[ReviewRequest], now: datetime) -> dict[int, str | None]:
    """`review_on_time`, by review id: None when every reviewer answered within its own feedback
    timer, else who was late (or who has not answered yet)."""
    late: dict[int, list[str]] = {r.id: [] for r in reviews}
    waiting: dict[int, int] = dict.fromkeys(late, 0)
    if reviews:
        rows = await session.execute(
            select(
                ReviewResponse.review_id,
                ReviewResponse.round,
                ReviewResponse.status,
                func.coalesce(Department.name, User.name).label("reviewer"),
                SlaTimer.state,
                SlaTimer.due_at,
                SlaTimer.met_at,
                SlaTimer.breached_at,
            )
            .join(
                SlaTimer, (SlaTimer.subject_type == ReviewSubject.response) & (SlaTimer.subject_id == ReviewResponse.id)
            )
            .outerjoin(Department, Department.id == ReviewResponse.department_id)
            .outerjoin(User, User.id == ReviewResponse.user_id)
            .where(ReviewResponse.review_id.in_(list(late)))
            .order_by(ReviewResponse.round, ReviewResponse.id)
        )
        for r in rows:
            was_late = (
                r.breached_at is not None
                or (r.met_at is not None and r.met_at > r.due_at)
                or (r.state == TimerState.running and r.due_at <= now)
            )
            if was_late:
                name = f"{r.reviewer} (round {r.round})"
                if name not in late[r.review_id]:
                    late[r.review_id].append(name)
            elif r.status == ResponseStatus.pending:
                waiting[r.review_id] += 1
    out: dict[int, str | None] = {}
    for review in reviews:
        if late[review.id]:
            out[review.id] = f"answered late in review #{review.id}: {', '.join(late[review.id])}"
        elif waiting[review.id]:
            out[review.id] = f"review #{review.id}: {waiting[review.id]} reviewer(s) have not answered yet"
        else:
            out[review.id] = None
    return out


async def _open_tasks(session: AsyncSession, campaign_ids: list[int]) -> dict[int, list[Task]]:
    out: dict[int, list[Task]] = {c: [] for c in campaign_ids}
    if campaign_ids:
        for task in await session.scalars(
            select(Task)
            .where(Task.campaign_id.in_(campaign_ids), Task.status.in_(OPEN_TASK_STATUSES))
            .order_by(Task.id)
        ):
            out[task.campaign_id].append(task)  # type: ignore[index]
    return out


def _derived_item(
    stage: CampaignStage, item: dict[str, Any], review: ReviewRequest | None, on_time: dict[int, str | None]
) -> tuple[dict[str, Any], FieldError | None]:
    """A derived checklist item (today only `review_on_time`, from the stage's latest review): how
    it shows, and what it leaves unmet unless a manager waived it."""
    why = on_time[review.id] if review is not None else "no cross-department review requested yet"
    mark = stage.checklist.get(item["key"]) or {}
    waived = bool(mark.get("waived"))
    shown = {
        "done": why is None,
        "derived": item["derived"],
        "why": why or f"every reviewer of review #{review.id if review else ''} answered in time",
        "waived": mark if waived else None,
    }
    if why is None or waived:
        return shown, None
    return shown, FieldError(f"checklist.{item['key']}", f"{item['text']}: {why}", "gate")


async def _retrospective_items(session: AsyncSession, campaign_ids: set[int]) -> dict[int, int]:
    """How many rectification items each campaign's retrospective produced (every status counts:
    rectification items cannot be cancelled)."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(Rectification.campaign_id, func.count())
        .where(
            Rectification.campaign_id.in_(sorted(campaign_ids)),
            Rectification.source == RectificationSource.retrospective,
        )
        .group_by(Rectification.campaign_id)
    )
    return {campaign_id: count for campaign_id, count in rows.all() if campaign_id is not None}


async def gate_facts(session: AsyncSession, stages: list[CampaignStage], now: datetime) -> GateFacts:
    """Everything the gates of these stages read from data, in a few queries for the whole page."""
    facts = GateFacts(unmet={s.id: [] for s in stages}, derived={s.id: {} for s in stages})
    if not stages:
        return facts
    campaign_ids = sorted({s.campaign_id for s in stages})
    siblings = list(await session.scalars(select(CampaignStage).where(CampaignStage.campaign_id.in_(campaign_ids))))
    by_place = {(s.campaign_id, s.position): s for s in siblings}
    last = {c: max(s.position for s in siblings if s.campaign_id == c) for c in campaign_ids}
    following = {s.id: by_place.get((s.campaign_id, s.position + 1)) for s in stages}

    wants_review = [s for s in stages if s.spec.get("requires") == "review"]
    derives = [s for s in stages if any(i.get("derived") for i in s.spec.get("checklist", []))]
    reviews = await _latest_reviews(session, sorted({s.id for s in wants_review + derives}))
    on_time = await _reviews_on_time(session, list(reviews.values()), now)
    approval_of = {s.id for s in stages if s.spec.get("requires") == "approval"}
    approval_of |= {n.id for n in following.values() if n is not None and n.spec.get("requires_approval_to_enter")}
    approvals = await _approval_waits(session, sorted(approval_of))
    wait_for_tasks = {
        row.id
        for row in await session.execute(
            select(Campaign.id)
            .join(WorkflowTemplate, WorkflowTemplate.id == Campaign.template_id)
            .where(
                Campaign.id.in_(campaign_ids),
                WorkflowTemplate.open_tasks_at_completion == OpenTasksAtCompletion.wait,
            )
        )
    }
    open_tasks = await _open_tasks(
        session, sorted({s.campaign_id for s in stages if s.position == last[s.campaign_id]} & wait_for_tasks)
    )
    roi_missing = await roi.missing(session, {s.campaign_id for s in stages if s.spec.get("requires_roi_estimate")})
    retro_items = await _retrospective_items(
        session, {s.campaign_id for s in stages if s.spec.get("min_rectifications")}
    )

    for stage in stages:
        unmet = facts.unmet[stage.id]
        if stage.spec.get("requires") == "review" and (why := _review_wait(reviews.get(stage.id))):
            unmet.append(FieldError("review", why, "gate"))
        if stage.spec.get("requires") == "approval" and (why := approvals[stage.id]):
            unmet.append(FieldError("approval", why, "gate"))
        nxt = following[stage.id]
        if nxt is not None and nxt.spec.get("requires_approval_to_enter") and (why := approvals[nxt.id]):
            unmet.append(
                FieldError(
                    f"entry_approval.{nxt.key}", f"stage {nxt.key!r} is entered only once approved: {why}", "gate"
                )
            )
        if stage.spec.get("requires_roi_estimate") and (why := roi_missing.get(stage.campaign_id)):
            unmet.append(FieldError(roi.ITEM.value, why, "gate"))
        wanted = stage.spec.get("min_rectifications") or 0
        if (have := retro_items.get(stage.campaign_id, 0)) < wanted:
            unmet.append(
                FieldError(
                    "rectifications",
                    f"{wanted - have} more rectification item(s) from the retrospective needed "
                    f"({have} of {wanted} recorded)",
                    "gate",
                )
            )
        for item in stage.spec.get("checklist", []):
            if item.get("derived"):
                shown, error = _derived_item(stage, item, reviews.get(stage.id), on_time)
                facts.derived[stage.id][item["key"]] = shown
                unmet.extend([error] if error else [])
        for task in open_tasks.get(stage.campaign_id, []) if stage.position == last[stage.campaign_id] else []:
            unmet.append(
                FieldError(f"tasks.{task.id}", f"open task #{task.id} {task.title!r} is {task.status.value}", "gate")
            )
    return facts


def gate(
    stage: CampaignStage, deliverables: list[StageDeliverable], facts: list[FieldError] | None = None
) -> list[FieldError]:
    """What still stands between this stage and the next: what the data says (`gate_facts`), every
    required deliverable attached, and every checklist item ticked (derived items come with the facts)."""
    unmet: list[FieldError] = list(facts or [])
    attached = {d.deliverable_key for d in deliverables}
    for item in stage.spec.get("deliverables", []):
        if item["key"] not in attached:
            unmet.append(FieldError(f"deliverables.{item['key']}", f"missing deliverable {item['name']}", "gate"))
    for item in stage.spec.get("checklist", []):
        if not item.get("derived") and not (stage.checklist.get(item["key"]) or {}).get("done"):
            unmet.append(FieldError(f"checklist.{item['key']}", f"not ticked: {item['text']}", "gate"))
    return unmet


async def advance(
    session: AsyncSession, *, actor: Actor, campaign_id: int, key: str, now: datetime
) -> tuple[CampaignStage, CampaignStage | None]:
    """Leave stage `key` through its gate (409 listing every unmet condition), meeting its timer,
    and enter the next stage with its own timer; after the last, the campaign is completed (its
    open work is closed by `shared.campaigns.lifecycle.advance`, which calls this)."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    stage = await get_stage(session, campaign_id, key, for_update=True)
    require_running(campaign)
    if stage.status != StageStatus.active:
        raise Conflict(
            f"stage {key!r} is {stage.status.value}, not the active stage",
            errors=[FieldError("stage", stage.status.value, "state")],
        )
    facts = await gate_facts(session, [stage], now)
    unmet = gate(stage, (await deliverables_of(session, [stage.id]))[stage.id], facts.unmet[stage.id])
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
    await cycle.record_exit(session, stage)
    if following is not None:
        await cycle.record_entry(session, following)
    else:
        await cycle.record_completion(session, campaign, started_at=stages[0].entered_at, now=now)
    await session.flush()
    await arrival.stage_left(session, campaign, stage, following, by=actor.user_id, now=now)
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


def _require_waiver(actor: Actor, item_key: str, rule: str, data: ChecklistTick) -> None:
    """A derived item is what the data says: it is never ticked, only waived by a manager who says why."""
    if not data.waive:
        raise Conflict.on_input(
            f"checklist item {item_key!r} is derived from data ({rule}) and cannot be ticked by hand; "
            "a manager may waive it (waive: true, with a note)",
            "done",
            f"derived from {rule}",
            "derived",
        )
    if not actor.at_least(Role.manager):
        raise Forbidden(f"only a manager may waive the derived checklist item {item_key!r}")
    if not (data.note or "").strip():
        raise InvalidInput.for_field("note", "say why the item is waived", "missing")


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
    item = next((i for i in stage.spec.get("checklist", []) if i["key"] == item_key), None)
    if item is None:
        raise NotFound(f"stage {key!r} has no checklist item {item_key!r}")
    checklist = dict(stage.checklist)
    mark = {"note": data.note, "by": actor.user_id, "at": now.isoformat()}
    if rule := item.get("derived"):
        _require_waiver(actor, item_key, rule, data)
        checklist[item_key] = {"waived": data.done, **mark}
    elif data.waive:
        raise InvalidInput.for_field("waive", "only a derived item is waived; tick this one with done")
    else:
        checklist[item_key] = {"done": data.done, **mark}
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
