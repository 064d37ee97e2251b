"""Approvals as SLA subjects: each approver on the active step, timed by the step's own limit if
it has one, else the approver policy (1 working day)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.models import Approval, ApprovalAssignment, ApprovalStep, AssignmentStatus, User
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class ApprovalSubject(StrEnum):
    approval = "approval"  # the trail item: an approval with all its steps
    assignment = "approval_assignment"  # the timed subject: one approver on one step


async def load_assignments(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """One approver on the active step of an approval."""
    approver = aliased(User)
    rows = await session.execute(
        select(
            ApprovalAssignment.id,
            ApprovalAssignment.status,
            ApprovalAssignment.approver_id,
            Approval.id.label("approval_id"),
            Approval.title,
            Approval.campaign_id,
            Approval.department_id,
            ApprovalStep.name.label("step_name"),
            ApprovalStep.time_limit,
            approver.department_id.label("approver_department_id"),
        )
        .join(ApprovalStep, ApprovalStep.id == ApprovalAssignment.step_id)
        .join(Approval, Approval.id == ApprovalAssignment.approval_id)
        .outerjoin(approver, approver.id == ApprovalAssignment.approver_id)
        .where(ApprovalAssignment.id.in_(list(ids)))
    )
    return {
        r.id: SubjectContext(
            type=ApprovalSubject.assignment,
            id=r.id,
            title=f"{r.title} · {r.step_name}",
            status=str(r.status),
            path=f"/api/v1/approvals/{r.approval_id}",
            assignee_id=r.approver_id,
            department_id=r.approver_department_id or r.department_id,
            campaign_id=r.campaign_id,
            explicit_target=(r.time_limit["kind"], str(r.time_limit["value"])) if r.time_limit else None,
        )
        for r in rows
    }


APPROVAL_ESCALATION: dict[str, Any] = {
    "name": "审批升级 Approval escalation",
    "description": "warn the approver at 80 %; breach → approver + their manager",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
    ],
}

register_item(TrailItem(ApprovalSubject.approval, Approval.id))
ASSIGNMENT = register(
    SubjectSpec(
        type=ApprovalSubject.assignment,
        load=load_assignments,
        statuses=tuple(AssignmentStatus),
        labels={"zh-CN": "审批", "en-US": "Approval"},
        trail=(TrailLink(ApprovalSubject.approval, ApprovalAssignment.approval_id),),
        default_start=(AssignmentStatus.pending,),
        default_stop=(AssignmentStatus.approved, AssignmentStatus.rejected),
        default_cancel=(AssignmentStatus.withdrawn,),
        default_policies=(
            (
                APPROVAL_ESCALATION,
                {
                    "name": "审批 1 个工作日 Approver decides within 1 working day",
                    "description": "each approver of the active step, unless the step sets its own limit",
                    "target_kind": "working_days",
                    "target_value": "1",
                    "start_statuses": ["pending"],
                    "stop_statuses": ["approved", "rejected"],
                    "cancel_statuses": ["withdrawn"],
                },
            ),
        ),
    )
)
