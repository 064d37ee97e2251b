"""Campaigns and the tasks inside them."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, FetchedValue, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import ArchivedMixin, Base, IdMixin, TimestampMixin, str_enum


class CampaignStatus(enum.StrEnum):
    draft = "draft"
    planned = "planned"
    active = "active"
    on_hold = "on_hold"
    completed = "completed"
    cancelled = "cancelled"


class TaskStatus(enum.StrEnum):
    todo = "todo"
    in_progress = "in_progress"
    blocked = "blocked"
    done = "done"
    cancelled = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (TaskStatus.done, TaskStatus.cancelled)


OPEN_TASK_STATUSES = tuple(s.value for s in TaskStatus if s.is_open)


class Priority(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Campaign(IdMixin, TimestampMixin, ArchivedMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        # Process analytics (campaign cycle time): campaigns completed in a period.
        Index("ix_campaigns_completed_at", "completed_at", postgresql_where=text("completed_at IS NOT NULL")),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # Flagged major: its approval goes to the leadership group whatever the budget (分级审批).
    is_major: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Flagged a big promotion (大促): owes an ROI estimate 15 days before it starts (shared.roi).
    is_big_promotion: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The goal the campaign serves (its results roll up there); a quarterly goal must be approved
    # before the campaign starts (季度营销计划经管理层审批后执行).
    goal_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("goals.id", ondelete="SET NULL"), index=True)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus, "campaign_status"), default=CampaignStatus.draft, index=True
    )
    # The template version it runs on (kept even if the template is edited later).
    template_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("workflow_templates.id", ondelete="RESTRICT"), index=True
    )
    # Set when the last stage's gate completes it: when, and its working days from the first stage's
    # entry on the default calendar (`shared.workflow.cycle`).
    completed_at: Mapped[datetime | None]
    cycle_wd: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))


class Task(IdMixin, TimestampMixin, ArchivedMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # Process analytics (task timeliness): tasks due in a period, answered from the index alone.
        Index(
            "ix_tasks_due_at",
            "due_at",
            postgresql_include=["status", "completed_at", "assignee_id", "campaign_id"],
            postgresql_where=text("due_at IS NOT NULL"),
        ),
        # "My tasks" (`/tasks?assignee_id=…`): the assignee's tasks in id order, a page read from the
        # index until it is full.
        Index("ix_tasks_assignee", "assignee_id", "id"),
        # The department board (`/tasks?department_id=…`) in id order: one index per way a task
        # belongs to a department (its campaign's, its assignee's), each read until the page is full.
        Index("ix_tasks_board", "department_id", "id"),
        Index("ix_tasks_assignee_department", "assignee_department_id", "id"),
        # A person's reported tasks: the trigger that follows them to a new department (migration
        # 0031), the foreign key's SET NULL when they are deleted, a member's "reported by me".
        Index("ix_tasks_reporter", "reporter_id"),
    )
    # The two department columns are derived, kept by triggers (migration 0031) on every write of
    # tasks, users and campaigns — foreign-key actions, COPY and raw SQL included; RETURNING brings
    # the values the trigger set back into the ORM after each INSERT and UPDATE.
    __mapper_args__ = {"eager_defaults": True}
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    assignee_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    stage_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaign_stages.id", ondelete="SET NULL"), index=True
    )
    reporter_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus, "task_status"), default=TaskStatus.todo)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority, "task_priority"), default=Priority.normal)
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    # The task's department as visibility has it: its campaign's; a standalone task's, its reporter's.
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    # Its assignee's department (the board's other way in).
    assignee_department_id: Mapped[int | None] = mapped_column(
        BigInteger, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
