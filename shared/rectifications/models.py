"""The rectification item's table (this domain owns its model, like its schemas and SLA type)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class RectificationStatus(enum.StrEnum):
    open = "open"  # its deadline runs
    in_progress = "in_progress"  # the owner is on it; the deadline keeps running
    done = "done"  # the owner says it is fixed; waiting for someone else to verify
    verified = "verified"  # checked by someone other than the owner


class RectificationSource(enum.StrEnum):
    """Where the problem was found."""

    retrospective = "retrospective"  # a campaign's retrospective (复盘)
    report = "report"
    kpi_variance = "kpi_variance"  # a KPI crossing nobody explained in time
    feedback = "feedback"  # customer feedback or a complaint
    risk = "risk"
    free = "free"


class Rectification(IdMixin, TimestampMixin, Base):
    __tablename__ = "rectifications"
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[RectificationStatus] = mapped_column(
        str_enum(RectificationStatus, "rectification_status"), default=RectificationStatus.open
    )
    source: Mapped[RectificationSource] = mapped_column(
        str_enum(RectificationSource, "rectification_source"), default=RectificationSource.free, index=True
    )
    source_id: Mapped[int | None] = mapped_column(BigInteger)  # the variance, report, feedback … it came from
    problem: Mapped[str | None] = mapped_column(Text)
    measure: Mapped[str | None] = mapped_column(Text)
    acceptance_criteria: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    # Its own SLA target (any kind) instead of an explicit due date; both null: the policy's.
    deadline_kind: Mapped[str | None] = mapped_column(String(16))
    deadline_value: Mapped[str | None] = mapped_column(String(32))
    done_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def deadline(self) -> dict[str, str] | None:
        """Its own SLA target `{kind, value}`, if it has one."""
        if self.deadline_kind is None or self.deadline_value is None:
            return None
        return {"kind": self.deadline_kind, "value": self.deadline_value}
