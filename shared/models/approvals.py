"""Approvals (分级审批, 双签): rules that choose a chain, and the chain's steps and approvers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import ArchivedMixin, Base, IdMixin, TimestampMixin, str_enum


class ApprovalKind(enum.StrEnum):
    campaign = "campaign"  # approve a campaign (routine → department head; major → leadership)
    budget_change = "budget_change"  # change an approved budget (双签)
    stage = "stage"  # a stage gate that requires an approval (e.g. legal review before launch)
    goal = "goal"  # a drafted goal (target, period, owner) becomes binding
    goal_adjustment = "goal_adjustment"  # an approved goal's new target (seed 002: 调整需经审批)
    expense = "expense"  # an expense against a budget line (requested → approved → paid)
    extension = "extension"  # more time for a timed item: its deadline moves once approved (申请延期)


class ApprovalStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"


class StepMode(enum.StrEnum):
    one = "one"  # a single approver
    all = "all"  # every approver must approve (dual sign)
    any = "any"  # the first approval decides


class StepStatus(enum.StrEnum):
    waiting = "waiting"  # an earlier step is still open
    active = "active"
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"


class AssignmentStatus(enum.StrEnum):
    pending = "pending"  # the approver's timer runs
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"  # no longer needed (any-of decided, the approval ended)


class ApprovalRule(IdMixin, TimestampMixin, ArchivedMixin, Base):
    """Which chain an approval gets: the enabled rule of its kind with the lowest `priority`
    whose conditions hold (`budget_over`, `major`, `stage_keys`, `department_ids`, `company_wide`)."""

    __tablename__ = "approval_rules"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(String(2000))
    kind: Mapped[ApprovalKind] = mapped_column(str_enum(ApprovalKind, "approval_kind"), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # [{name, mode: one|all|any, approvers: ["department_head", "user:3", …], time_limit?: {kind, value}}]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Approval(IdMixin, TimestampMixin, Base):
    __tablename__ = "approvals"

    kind: Mapped[ApprovalKind] = mapped_column(str_enum(ApprovalKind, "approval_kind"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    stage_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaign_stages.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approval_rules.id", ondelete="SET NULL"))
    requester_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ApprovalStatus] = mapped_column(
        str_enum(ApprovalStatus, "approval_status"), default=ApprovalStatus.pending, index=True
    )
    # What is being approved, e.g. {"budget_from": "100000.00", "budget_to": "130000.00"}
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)


class ApprovalStep(IdMixin, TimestampMixin, Base):
    __tablename__ = "approval_steps"
    __table_args__ = (UniqueConstraint("approval_id", "position"),)

    approval_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("approvals.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[StepMode] = mapped_column(str_enum(StepMode, "approval_step_mode"))
    approver_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))  # resolved when the approval was asked
    time_limit: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[StepStatus] = mapped_column(str_enum(StepStatus, "approval_step_status"))
    entered_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]


class ApprovalAssignment(IdMixin, TimestampMixin, Base):
    """One approver on one active step. Under SLA as subject `approval_assignment`."""

    __tablename__ = "approval_assignments"
    __table_args__ = (
        UniqueConstraint("step_id", "approver_id"),
        # The approval board: `overdue` (pending approvers past due) and `approver_id` (my pending
        # approvals) read the few pending assignments, in id order, not every decision ever made.
        Index("ix_approval_assignments_status", "status", "id"),
    )

    step_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("approval_steps.id", ondelete="CASCADE"))
    approval_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("approvals.id", ondelete="CASCADE"), index=True)
    approver_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[AssignmentStatus] = mapped_column(
        str_enum(AssignmentStatus, "approval_assignment_status"), default=AssignmentStatus.pending
    )
    reason: Mapped[str | None] = mapped_column(Text)
    assigned_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
