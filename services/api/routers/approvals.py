"""Approval rules and approvals (分级审批, 双签): each approver on the active step carries its SLA state."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import Field
from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, ReadModel, WriteModel, page_out, reject_nulls
from services.api.deps import ActorDep, ManagerDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.sla_state import SlaIndex
from shared import crud
from shared.approvals import rules
from shared.approvals import service as approvals
from shared.approvals.sla import ApprovalSubject
from shared.models import (
    Approval,
    ApprovalKind,
    ApprovalRule,
    ApprovalStatus,
    AssignmentStatus,
    StepMode,
    StepStatus,
)
from shared.pagination import paginate
from shared.sla.schemas import TimerSummary


def _responses(*parts: dict[int, dict[str, object]]) -> dict[int | str, dict[str, Any]]:
    return {code: dict(spec) for part in parts for code, spec in part.items()}


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["approvals"])

Name = Annotated[str, Field(min_length=1, max_length=120)]
Description = Annotated[str, Field(max_length=2000)]
STEPS_DOC = (
    "1–10 steps, in order: `{name, mode: one|all|any, approvers: [...], time_limit?: {kind, value}}`; "
    "approvers: `department_head`, `campaign_owner`, `requester_manager`, `director`, `user:<id>`, "
    "`department:<id>` (that department's head); `one` takes exactly one approver"
)
CONDITIONS_DOC = (
    "empty matches everything; `budget_over` (number) and `major` (true) match when either holds; "
    "`stage_keys` (kind stage) and `department_ids` must hold when given"
)


# ---- rules -------------------------------------------------------------------------------------
class ApprovalRuleCreate(WriteModel):
    name: Name
    description: Description | None = None
    kind: ApprovalKind
    priority: int = Field(default=100, description="lower wins")
    conditions: dict[str, Any] = Field(default={}, description=CONDITIONS_DOC)
    steps: list[dict[str, Any]] = Field(description=STEPS_DOC)
    enabled: bool = True


class ApprovalRuleUpdate(WriteModel):
    name: Name | None = None
    description: Description | None = None
    kind: ApprovalKind | None = None
    priority: int | None = None
    conditions: dict[str, Any] | None = Field(default=None, description=CONDITIONS_DOC)
    steps: list[dict[str, Any]] | None = Field(default=None, description=STEPS_DOC)
    enabled: bool | None = None


class TimeLimitOut(ReadModel):
    kind: str
    value: str


class RuleStepOut(ReadModel):
    name: str
    mode: StepMode
    approvers: list[str]
    time_limit: TimeLimitOut | None = None


class ApprovalRuleRead(ReadModel):
    id: int
    name: str
    description: str | None
    kind: ApprovalKind
    priority: int
    conditions: dict[str, Any]
    steps: list[RuleStepOut]
    enabled: bool
    created_at: datetime
    updated_at: datetime


@router.post(
    "/approval-rules",
    status_code=status.HTTP_201_CREATED,
    response_model=ApprovalRuleRead,
    operation_id="createApprovalRule",
    responses=_responses(CONFLICT),
)
async def create_approval_rule(body: ApprovalRuleCreate, session: SessionDep, actor: ManagerDep) -> ApprovalRule:
    """Add a rule that chooses the approval chain for its kind (lowest matching priority wins)."""
    return await rules.create_rule(session, actor=actor, data=body.model_dump())


@router.get("/approval-rules", response_model=PageOut[ApprovalRuleRead], operation_id="listApprovalRules")
async def list_approval_rules(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    kind: ApprovalKind | None = None,
    enabled: bool | None = None,
) -> dict:
    """Approval rules, by id."""
    stmt = select(ApprovalRule)
    if kind is not None:
        stmt = stmt.where(ApprovalRule.kind == kind)
    if enabled is not None:
        stmt = stmt.where(ApprovalRule.enabled == enabled)
    return page_out(await paginate(session, stmt, ApprovalRule.id, limit=limit, cursor=cursor), ApprovalRuleRead)


@router.get(
    "/approval-rules/{rule_id}",
    response_model=ApprovalRuleRead,
    operation_id="getApprovalRule",
    responses=_responses(NOT_FOUND),
)
async def get_approval_rule(rule_id: int, session: SessionDep, actor: ActorDep) -> ApprovalRule:
    """One approval rule."""
    return await crud.get_or_404(session, ApprovalRule, rule_id)


@router.patch(
    "/approval-rules/{rule_id}",
    response_model=ApprovalRuleRead,
    operation_id="updateApprovalRule",
    responses=_responses(NOT_FOUND, CONFLICT),
)
async def update_approval_rule(
    rule_id: int, body: ApprovalRuleUpdate, session: SessionDep, actor: ManagerDep
) -> ApprovalRule:
    """Change a rule; approvals already asked keep the chain they were given."""
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, ("name", "kind", "priority", "conditions", "steps", "enabled"))
    return await rules.update_rule(session, actor=actor, rule_id=rule_id, changes=changes)


@router.delete(
    "/approval-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteApprovalRule",
    responses=_responses(NOT_FOUND),
)
async def delete_approval_rule(rule_id: int, session: SessionDep, actor: ManagerDep) -> None:
    """Delete a rule; approvals it chose keep their steps."""
    await rules.delete_rule(session, actor=actor, rule_id=rule_id)


# ---- approvals ---------------------------------------------------------------------------------
class ApprovalCreate(WriteModel):
    kind: ApprovalKind
    campaign_id: int
    stage_key: str | None = Field(default=None, description="required for kind stage")
    title: Annotated[str, Field(min_length=1, max_length=300)] | None = Field(
        default=None, description="default generated from the campaign"
    )
    reason: Annotated[str, Field(max_length=20_000)] | None = None
    budget: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)] | None = Field(
        default=None, description="budget_change: the new budget, applied once the approval is approved"
    )


class DecisionIn(WriteModel):
    decision: Annotated[str, Field(pattern="^(approve|reject)$", description="approve | reject")]
    reason: Annotated[str, Field(max_length=20_000)] | None = Field(default=None, description="required to reject")


class CancelIn(WriteModel):
    reason: Annotated[str, Field(max_length=20_000)] | None = None


class AssignmentRead(ReadModel):
    id: int
    approver_id: int | None
    status: AssignmentStatus
    reason: str | None
    assigned_at: datetime
    decided_at: datetime | None
    sla: list[TimerSummary] = Field(default=[], description="this approver's SLA timers")


class StepRead(ReadModel):
    id: int
    position: int
    name: str
    mode: StepMode
    approver_ids: list[int]
    time_limit: TimeLimitOut | None
    status: StepStatus
    entered_at: datetime | None
    decided_at: datetime | None
    assignments: list[AssignmentRead] = []


class ApprovalRead(ReadModel):
    id: int
    kind: ApprovalKind
    title: str
    reason: str | None
    campaign_id: int | None
    stage_id: int | None
    rule_id: int | None
    requester_id: int | None
    department_id: int | None
    status: ApprovalStatus
    details: dict[str, Any]
    decided_at: datetime | None
    decision_reason: str | None
    created_at: datetime
    updated_at: datetime
    steps: list[StepRead] = []


async def _read_page(session: SessionDep, rows: list[Approval], now: datetime) -> list[ApprovalRead]:
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
    approval = await approvals.request_approval(session, actor=actor, data=body.model_dump(), now=now)
    return (await _read_page(session, [approval], now))[0]


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
    status: ApprovalStatus | None = None,
    department_id: Annotated[int | None, Query(description="the requesting department")] = None,
    requester_id: int | None = None,
    approver_id: Annotated[
        int | None, Query(description="has a pending assignment for this user (my approvals)")
    ] = None,
    overdue: Annotated[bool | None, Query(description="an approver is still pending past due")] = None,
) -> dict:
    """Approvals with their steps, approvers and SLA state."""
    stmt = approvals.approval_filter(
        select(Approval),
        campaign_id=campaign_id,
        stage_id=stage_id,
        kind=kind,
        status=status,
        department_id=department_id,
        requester_id=requester_id,
        approver_id=approver_id,
        overdue=overdue,
        now=now,
    )
    page = await paginate(session, stmt, Approval.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.get(
    "/approvals/{approval_id}", response_model=ApprovalRead, operation_id="getApproval", responses=_responses(NOT_FOUND)
)
async def get_approval(approval_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> ApprovalRead:
    """One approval with its steps, each approver's decision and SLA state."""
    return (await _read_page(session, [await crud.get_or_404(session, Approval, approval_id)], now))[0]


@router.post(
    "/approvals/{approval_id}/decision",
    response_model=ApprovalRead,
    operation_id="decideApproval",
    responses=_responses(NOT_FOUND, CONFLICT),
)
async def decide_approval(
    approval_id: int, body: DecisionIn, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> ApprovalRead:
    """Approve or reject (with a reason) as a pending approver of the current step. Nobody can
    sign for someone else. A rejection blocks the gate that waits for it and says why."""
    approval = await approvals.decide(
        session,
        actor=actor,
        approval_id=approval_id,
        decision=body.decision,
        reason=body.reason,
        now=now,
    )
    return (await _read_page(session, [approval], now))[0]


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
    body: CancelIn | None = None,
) -> ApprovalRead:
    """Withdraw a pending approval (the requester or a manager); every approver's timer stops."""
    approval = await approvals.cancel(
        session,
        actor=actor,
        approval_id=approval_id,
        reason=body.reason if body else None,
        now=now,
    )
    return (await _read_page(session, [approval], now))[0]
