"""Workflow templates (versioned data) and the stages a campaign runs through."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class OpenTasksAtCompletion(enum.StrEnum):
    """What the last gate does with the campaign's still-open tasks."""

    wait = "wait"  # the gate waits for them (409 listing them)
    cancel = "cancel"  # they are cancelled, their timers with them, when the campaign completes


class WorkflowTemplate(IdMixin, TimestampMixin, Base):
    """One version of a template. Editing a template writes a new version; campaigns keep the
    version they started on."""

    __tablename__ = "workflow_templates"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        Index("uq_workflow_templates_current", "key", unique=True, postgresql_where=text("is_current")),
    )

    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    is_current: Mapped[bool] = mapped_column(default=True)
    open_tasks_at_completion: Mapped[OpenTasksAtCompletion] = mapped_column(
        str_enum(OpenTasksAtCompletion, "open_tasks_at_completion"),
        default=OpenTasksAtCompletion.wait,
        server_default=OpenTasksAtCompletion.wait.value,
    )


class StageStatus(enum.StrEnum):
    pending = "pending"  # not reached yet
    active = "active"  # the campaign is in this stage: its timer runs
    done = "done"  # left through its gate
    cancelled = "cancelled"  # the campaign was cancelled while here or before it


class CampaignStage(IdMixin, TimestampMixin, Base):
    __tablename__ = "campaign_stages"
    __table_args__ = (
        UniqueConstraint("campaign_id", "key"),
        # Process analytics (stage cycle times, bottlenecks): stages that left in a period.
        Index(
            "ix_campaign_stages_exited_at",
            "exited_at",
            postgresql_include=["campaign_id", "key", "cycle_wd", "limit_wd"],
            postgresql_where=text("exited_at IS NOT NULL"),
        ),
    )

    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the template's stage, as it was
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[StageStatus] = mapped_column(
        str_enum(StageStatus, "stage_status"), default=StageStatus.pending, index=True
    )
    # {"<item key>": {"done": bool, "note": str | None, "by": user id | None, "at": ISO-8601}}
    checklist: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    entered_at: Mapped[datetime | None]
    exited_at: Mapped[datetime | None]
    # Stored when the stage is left (`shared.workflow.cycle`): working time spent in it ÷ the length
    # of its calendar's standard working day; and, at entry, its time limit in the same unit.
    cycle_wd: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    limit_wd: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))


class StageDeliverable(IdMixin, Base):
    __tablename__ = "stage_deliverables"

    stage_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaign_stages.id", ondelete="CASCADE"), index=True)
    deliverable_key: Mapped[str | None] = mapped_column(String(64))  # which required deliverable it satisfies
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2048))
    kind: Mapped[str | None] = mapped_column(String(32))  # document, sheet, link, image …
    added_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime]
