"""Workflow templates and the stages of campaigns that run on them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, status
from sqlalchemy import Select, select

from services.api import versions
from services.api.common import CursorQ, LimitQ, PageOut, page_out
from services.api.deps import ActorDep, ManagerDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from services.api.sla_state import SlaIndex
from shared.access import policy as access
from shared.campaigns import lifecycle
from shared.campaigns.lifecycle import CampaignAction
from shared.campaigns.sla import CampaignItem
from shared.models import CampaignStage, StageDeliverable, WorkflowTemplate
from shared.pagination import paginate
from shared.workflow import stages as workflow
from shared.workflow import templates
from shared.workflow.schemas import (
    AdvanceRead,
    ChecklistTick,
    DeliverableCreate,
    DeliverableRead,
    StageRead,
    StageUpdate,
    TemplateCreate,
    TemplateRead,
    TemplateVersionCreate,
)
from shared.workflow.sla import StageSubject

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES)


def _template_version(params: Mapping[str, Any]) -> Select[int, datetime] | None:
    """A template's version: its current version's row, or the one `?version=` reads."""
    stmt = select(WorkflowTemplate.id, WorkflowTemplate.updated_at).where(WorkflowTemplate.key == params.get("key"))
    if "version" not in params:
        return stmt.where(WorkflowTemplate.is_current)
    try:
        return stmt.where(WorkflowTemplate.version == int(params["version"]))
    except ValueError:
        return None


_STAGE = versions.row(CampaignStage, campaign_id="campaign_id", key="key")  # where its version (ETag) is


# ---- templates -----------------------------------------------------------------------------------


@router.post(
    "/workflow-templates",
    status_code=status.HTTP_201_CREATED,
    response_model=TemplateRead,
    tags=["workflow"],
    operation_id="createWorkflowTemplate",
    responses=CONFLICT,
)
async def create_template(body: TemplateCreate, session: SessionDep, actor: ManagerDep) -> WorkflowTemplate:
    """Create a template (version 1). Validation errors name the stage and field, e.g.
    `body.stages[2].time_limit.value`."""
    return await templates.create_template(session, actor=actor, data=body)


@router.get(
    "/workflow-templates",
    response_model=PageOut[TemplateRead],
    tags=["workflow"],
    operation_id="listWorkflowTemplates",
)
async def list_templates(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    all_versions: Annotated[bool, Query(description="every version, not only the current ones")] = False,
) -> dict[str, Any]:
    """Templates (their current versions unless `all_versions`), oldest first."""
    stmt = select(WorkflowTemplate)
    if not all_versions:
        stmt = stmt.where(WorkflowTemplate.is_current)
    return page_out(await paginate(session, stmt, WorkflowTemplate.id, limit=limit, cursor=cursor), TemplateRead)


@router.get(
    "/workflow-templates/{key}",
    dependencies=[versions.reads(_template_version)],
    response_model=TemplateRead,
    tags=["workflow"],
    operation_id="getWorkflowTemplate",
    responses=NOT_FOUND,
)
async def get_template(
    key: str,
    session: SessionDep,
    actor: ActorDep,
    version: Annotated[int | None, Query(ge=1, description="a past version; default the current one")] = None,
) -> WorkflowTemplate:
    """One template version."""
    return await (templates.version(session, key, version) if version else templates.current(session, key))


@router.put(
    "/workflow-templates/{key}",
    dependencies=[versions.writes(_template_version)],
    response_model=TemplateRead,
    tags=["workflow"],
    operation_id="publishWorkflowTemplateVersion",
    responses=NOT_FOUND,
)
async def publish_version(
    key: str, body: TemplateVersionCreate, session: SessionDep, actor: ManagerDep
) -> WorkflowTemplate:
    """Publish a new version (fields left out are kept). Campaigns already running keep the version
    they started on."""
    return await templates.publish_version(session, actor=actor, key=key, data=body)


# ---- stages --------------------------------------------------------------------------------------
async def _read_page(session: SessionDep, rows: list[CampaignStage], now: datetime) -> list[StageRead]:
    ids = [s.id for s in rows]
    files = await workflow.deliverables_of(session, ids)
    sla = await SlaIndex.load(session, StageSubject.stage, ids, now)
    facts = await workflow.gate_facts(session, rows, now)
    return [
        StageRead.model_validate(
            {
                **{c: getattr(s, c) for c in StageRead.model_fields if hasattr(s, c) and c != "deliverables"},
                "checklist": {**s.checklist, **facts.derived[s.id]},
                "deliverables": [DeliverableRead.model_validate(d) for d in files[s.id]],
                "cycle_s": workflow.cycle_seconds(s, now),
                "gate_unmet": [e.as_dict() for e in workflow.gate(s, files[s.id], facts.unmet[s.id])],
                "sla": sla.of(s.id),
            }
        )
        for s in rows
    ]


@router.get(
    "/campaigns/{campaign_id}/stages",
    response_model=PageOut[StageRead],
    tags=["workflow"],
    operation_id="listCampaignStages",
    responses=NOT_FOUND,
)
async def list_stages(campaign_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> dict[str, Any]:
    """The campaign's stages in order, with deliverables, checklist, gate and SLA state: the whole
    workflow in one page (`next_cursor` is always null)."""
    await access.require_read(session, actor, CampaignItem.campaign, campaign_id)
    return {
        "items": await _read_page(session, await workflow.stages_of(session, campaign_id), now),
        "next_cursor": None,
    }


@router.patch(
    "/campaigns/{campaign_id}/stages/{key}",
    dependencies=[versions.writes(_STAGE)],
    response_model=StageRead,
    tags=["workflow"],
    operation_id="updateCampaignStage",
    responses=NOT_FOUND,
)
async def update_stage(
    campaign_id: int,
    key: str,
    body: StageUpdate,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
) -> StageRead:
    """Assign the stage's owner."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    stage = await workflow.set_owner(
        session,
        actor=actor,
        campaign_id=campaign_id,
        key=key,
        changes=body,
        now=now,
    )
    return (await _read_page(session, [stage], now))[0]


@router.post(
    "/campaigns/{campaign_id}/stages/{key}/deliverables",
    status_code=status.HTTP_201_CREATED,
    response_model=DeliverableRead,
    tags=["workflow"],
    operation_id="addStageDeliverable",
    responses=NOT_FOUND,
)
async def add_deliverable(
    campaign_id: int, key: str, body: DeliverableCreate, session: SessionDep, actor: WriterDep, now: NowDep
) -> StageDeliverable:
    """Attach a deliverable (a named document such as 《活动策划方案》) to the stage."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    return await workflow.add_deliverable(session, actor=actor, campaign_id=campaign_id, key=key, data=body, now=now)


@router.put(
    "/campaigns/{campaign_id}/stages/{key}/checklist/{item_key}",
    dependencies=[versions.writes(_STAGE)],
    response_model=StageRead,
    tags=["workflow"],
    operation_id="tickStageChecklistItem",
    responses=NOT_FOUND,
)
async def tick(
    campaign_id: int, key: str, item_key: str, body: ChecklistTick, session: SessionDep, actor: WriterDep, now: NowDep
) -> StageRead:
    """Tick (or untick) a gate checklist item, with a note (e.g. which 3 competitors). A derived
    item (computed from data, e.g. `review_on_time`) answers 409 naming `body.done`; a manager may
    waive it instead (`waive: true` with a note)."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    stage = await workflow.tick(
        session,
        actor=actor,
        campaign_id=campaign_id,
        key=key,
        item_key=item_key,
        data=body,
        now=now,
    )
    return (await _read_page(session, [stage], now))[0]


@router.post(
    "/campaigns/{campaign_id}/stages/{key}/advance",
    response_model=AdvanceRead,
    tags=["workflow"],
    operation_id="advanceCampaignStage",
    responses={**NOT_FOUND, **CONFLICT},
)
async def advance(
    campaign_id: int, key: str, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> AdvanceRead:
    """Leave the active stage through its gate and enter the next. 409 lists every unmet
    condition (`errors[].field` like `deliverables.campaign_plan`, `checklist.smart_goals`,
    `entry_approval.execution` when the next stage is entered only once approved, `tasks.<id>` for
    the campaign's open tasks at the last gate). Leaving the last stage completes the campaign and
    stops everything still running on it."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    left, entered = await lifecycle.advance(session, actor=actor, campaign_id=campaign_id, key=key, now=now)
    out = await _read_page(session, [left] + ([entered] if entered else []), now)
    return AdvanceRead(left=out[0], entered=out[1] if entered else None)


@router.post(
    "/campaigns/{campaign_id}/{action}",
    response_model=None,
    tags=["workflow"],
    operation_id="changeCampaignState",
    responses={**NOT_FOUND, **CONFLICT},
)
async def change_state(
    campaign_id: int,
    action: CampaignAction,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Change a campaign's status — the only way it changes: `plan` or `start` a draft (once its
    campaign approval is approved, when a campaign approval rule is in force; a campaign serving a
    quarterly goal once that plan is approved), `hold` (its stage timer pauses), `resume`, `cancel`
    (its open stages, timers and open work are cancelled) or `complete` (a campaign without a
    workflow; its open work is closed). A workflow's stages start and complete it through their gates."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    campaign = await lifecycle.change_status(session, actor=actor, campaign_id=campaign_id, action=action, now=now)
    return {"id": campaign.id, "status": campaign.status.value}
