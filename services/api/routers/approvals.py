"""Approval rules and approvals (分级审批, 双签): each approver on the active step carries its SLA state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, ArchivedQ, CursorQ, LimitQ, PageOut, TextQ, page_out, reject_nulls
from services.api.deps import ActorDep, ManagerDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from services.api.sla_state import SlaIndex
from shared import crud
from shared.access import policy as access
from shared.approvals import rules
from shared.approvals import service as approvals
from shared.approvals.schemas import (
    ApprovalCancellation,
    ApprovalCreate,
    ApprovalDecision,
    ApprovalRead,
    ApprovalRuleCreate,
    ApprovalRuleRead,
    ApprovalRuleUpdate,
    AssignmentRead,
    StepRead,
)
from shared.approvals.sla import ApprovalSubject
from shared.campaigns.sla import CampaignItem
from shared.models import Approval, ApprovalKind, ApprovalRule, ApprovalStatus
from shared.pagination import paginate


def _responses(*parts: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    return {code: dict(spec) for part in parts for code, spec in part.items()}


router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["approvals"])

_RULE = versions.row(ApprovalRule, id="rule_id")  # where its version (ETag) is


# ---- rules -------------------------------------------------------------------------------------
@router.post(
    "/approval-rules",
    status_code=status.HTTP_201_CREATED,
    response_model=ApprovalRuleRead,
    operation_id="createApprovalRule",
    responses=_responses(CONFLICT),
)
async def create_approval_rule(body: ApprovalRuleCreate, session: SessionDep, actor: ManagerDep) -> ApprovalRule:
    """Add a rule that chooses the approval chain for its kind (lowest matching priority wins)."""
    return await rules.create_rule(session, actor=actor, data=body)


@router.get("/approval-rules", response_model=PageOut[ApprovalRuleRead], operation_id="listApprovalRules")
async def list_approval_rules(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    kind: ApprovalKind | None = None,
    enabled: bool | None = None,
    archived: ArchivedQ = False,
) -> dict:
    """Approval rules, by id."""
    stmt = rules.rule_filter(select(ApprovalRule), kind=kind, enabled=enabled, archived=archived)
    return page_out(await paginate(session, stmt, ApprovalRule.id, limit=limit, cursor=cursor), ApprovalRuleRead)


@router.get(
    "/approval-rules/{rule_id}",
    dependencies=[versions.reads(_RULE)],
    response_model=ApprovalRuleRead,
    operation_id="getApprovalRule",
    responses=_responses(NOT_FOUND),
)
async def get_approval_rule(rule_id: int, session: SessionDep, actor: ActorDep) -> ApprovalRule:
    """One approval rule."""
    return await crud.get_or_404(session, ApprovalRule, rule_id)


@router.patch(
    "/approval-rules/{rule_id}",
    dependencies=[versions.writes(_RULE)],
    response_model=ApprovalRuleRead,
    operation_id="updateApprovalRule",
    responses=_responses(NOT_FOUND, CONFLICT),
)
async def update_approval_rule(
    rule_id: int, body: ApprovalRuleUpdate, session: SessionDep, actor: ManagerDep
) -> ApprovalRule:
    """Change a rule; approvals already asked keep the chain they were given."""
    reject_nulls(body.model_dump(exclude_unset=True), ("name", "kind", "priority", "conditions", "steps", "enabled"))
    return await rules.update_rule(session, actor=actor, rule_id=rule_id, changes=body)


@router.delete(
    "/approval-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteApprovalRule",
    responses=_responses(NOT_FOUND),
)
async def delete_approval_rule(rule_id: int, session: SessionDep, actor: ManagerDep, now: NowDep) -> None:
    """A rule that never chose an approval is deleted. One that did is archived and disabled
    instead (it chooses nothing more; `?archived=true` lists it), so the approvals it chose still
    name it; audited as `archive`."""
    await rules.delete_rule(session, actor=actor, rule_id=rule_id, now=now)


# ---- approvals ---------------------------------------------------------------------------------
async def read_approvals(session: SessionDep, rows: list[Approval], now: datetime) -> list[ApprovalRead]:
    """Approvals as the API returns them: steps, approvers and each approver's SLA state."""
    steps = await approvals.steps_of(session, [a.id for a in rows])
    ids = [x.id for chain in steps.values() for _, assignments in chain for x in assignments]
    sla = await SlaIndex.load(session, ApprovalSubject.assignment, ids, now)
    out = []
    for a in rows:
        step_reads = [
            StepRead.model_validate(step).model_copy(
                update={"assignments": [sla.read(AssignmentRead, x) for x in assignments]}
            )
            for step, assignments in steps[a.id]
        ]
        out.append(ApprovalRead.model_validate(a).model_copy(update={"steps": step_reads}))
    return out


@router.post(
    "/approvals",
    status_code=status.HTTP_201_CREATED,
    response_model=ApprovalRead,
    operation_id="requestApproval",
    responses=_responses(CONFLICT),
)
async def request_approval(
    body: ApprovalCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> ApprovalRead:
    """Ask for an approval: the matching rule's chain is resolved to people now and the first
    step's approvers start their SLA timers."""
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    approval = await approvals.request_approval(session, actor=actor, data=body, now=now)
    return (await read_approvals(session, [approval], now))[0]


@router.get("/approvals", response_model=PageOut[ApprovalRead], operation_id="listApprovals")
async def list_approvals(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    campaign_id: int | None = None,
    stage_id: int | None = None,
    kind: ApprovalKind | None = None,
    status: Annotated[list[ApprovalStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    department_id: Annotated[int | None, Query(description="the requesting department")] = None,
    requester_id: int | None = None,
    approver_id: Annotated[
        int | None, Query(description="has a pending assignment for this user (my approvals)")
    ] = None,
    overdue: Annotated[bool | None, Query(description="an approver is still pending past due")] = None,
    q: TextQ = None,
) -> dict:
    """Approvals with their steps, approvers and SLA state."""
    stmt = approvals.approval_filter(
        access.visible(select(Approval), actor),
        campaign_id=campaign_id,
        stage_id=stage_id,
        kind=kind,
        statuses=status,
        department_id=department_id,
        requester_id=requester_id,
        approver_id=approver_id,
        overdue=overdue,
        q=q,
        now=now,
    )
    page = await paginate(session, stmt, Approval.id, limit=limit, cursor=cursor)
    return {"items": await read_approvals(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.get(
    "/approvals/{approval_id}", response_model=ApprovalRead, operation_id="getApproval", responses=_responses(NOT_FOUND)
)
async def get_approval(approval_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> ApprovalRead:
    """One approval with its steps, each approver's decision and SLA state."""
    await access.require_read(session, actor, ApprovalSubject.approval, approval_id)
    return (await read_approvals(session, [await crud.get_or_404(session, Approval, approval_id)], now))[0]


@router.post(
    "/approvals/{approval_id}/decision",
    response_model=ApprovalRead,
    operation_id="decideApproval",
    responses=_responses(NOT_FOUND, CONFLICT),
)
async def decide_approval(
    approval_id: int, body: ApprovalDecision, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> ApprovalRead:
    """Approve or reject (with a reason) as a pending approver of the current step. Nobody can
    sign for someone else. A rejection blocks the gate that waits for it and says why."""
    await access.require_write(session, actor, ApprovalSubject.approval, approval_id)
    approval = await approvals.decide(session, actor=actor, approval_id=approval_id, data=body, now=now)
    return (await read_approvals(session, [approval], now))[0]


@router.post(
    "/approvals/{approval_id}/cancel",
    response_model=ApprovalRead,
    operation_id="cancelApproval",
    responses=_responses(NOT_FOUND, CONFLICT),
)
async def cancel_approval(
    approval_id: int,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
    body: ApprovalCancellation | None = None,
) -> ApprovalRead:
    """Withdraw a pending approval (the requester or a manager); every approver's timer stops."""
    await access.require_write(session, actor, ApprovalSubject.approval, approval_id)
    approval = await approvals.cancel(
        session, actor=actor, approval_id=approval_id, data=body or ApprovalCancellation(), now=now
    )
    return (await read_approvals(session, [approval], now))[0]
