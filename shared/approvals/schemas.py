"""Approval rules and approvals: the commands the services take and what the API returns.

A rule's `conditions` and `steps` stay loosely typed here: `shared.approvals.rules` checks them
entry by entry, naming the offending one (`steps[0].approvers[1]`, `conditions.major`)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from shared.models import ApprovalKind, ApprovalStatus, AssignmentStatus, StepMode, StepStatus
from shared.schemas import ArchivableRead, ReadModel, WriteModel
from shared.sla.schemas import TimerSummary

Name = Annotated[str, Field(min_length=1, max_length=120)]
Description = Annotated[str, Field(max_length=2000)]
Reason = Annotated[str, Field(max_length=20_000)]
STEPS_DOC = (
    "1–10 steps, in order: `{name, mode: one|all|any, approvers: [...], time_limit?: {kind, value}}`; "
    "approvers: `department_head`, `campaign_owner`, `requester_manager`, `director`, `user:<id>`, "
    "`department:<id>` (that department's head); `one` takes exactly one approver"
)
CONDITIONS_DOC = (
    "empty matches everything; `budget_over` (number) and `major` (true) match when either holds; "
    "`stage_keys` (kind stage), `department_ids`, `company_wide` (true: items of no department, "
    "i.e. company goals) and `line_overrun_pct_over` (kind expense: the expense would take its budget line "
    "more than this many % above plan) must hold when given"
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


class TimeLimitRead(ReadModel):
    kind: str
    value: str


class RuleStepRead(ReadModel):
    name: str
    mode: StepMode
    approvers: list[str]
    time_limit: TimeLimitRead | None = None


class ApprovalRuleRead(ArchivableRead):
    id: int
    name: str
    description: str | None
    kind: ApprovalKind
    priority: int
    conditions: dict[str, Any]
    steps: list[RuleStepRead]
    enabled: bool
    created_at: datetime
    updated_at: datetime


# ---- approvals ---------------------------------------------------------------------------------
class ApprovalCreate(WriteModel):
    kind: ApprovalKind
    campaign_id: int
    stage_key: str | None = Field(default=None, description="required for kind stage")
    title: Annotated[str, Field(min_length=1, max_length=300)] | None = Field(
        default=None, description="default generated from the campaign"
    )
    reason: Reason | None = None
    budget: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)] | None = Field(
        default=None, description="budget_change: the new budget, applied once the approval is approved"
    )


class Verdict(enum.StrEnum):
    """What an approver answers (their assignment becomes approved or rejected)."""

    approve = "approve"
    reject = "reject"


class ApprovalDecision(WriteModel):
    decision: Verdict
    reason: Reason | None = Field(default=None, description="required to reject")


class ApprovalCancellation(WriteModel):
    reason: Reason | None = None


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
    time_limit: TimeLimitRead | None
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
