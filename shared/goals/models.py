"""The goal tables (this domain owns its models): goals, the values reported on them, and their
adjustments (the history of every approved target change).

`campaigns.goal_id` points here, so `shared.models` imports this module (a plain `import`, which
works whichever of the two is imported first)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class GoalPeriodKind(enum.StrEnum):
    year = "year"  # "2026"
    quarter = "quarter"  # "2026-Q3"
    month = "month"  # "2026-08"


class GoalStatus(enum.StrEnum):
    draft = "draft"  # editable; asked for approval when complete
    pending = "pending"  # its approval (kind goal) is under way: read-only
    approved = "approved"  # binding: changes only through an approved adjustment


class AdjustmentStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"  # the goal's target became `target_to`
    rejected = "rejected"
    cancelled = "cancelled"


class Goal(IdMixin, TimestampMixin, Base):
    __tablename__ = "goals"

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # None: a company-wide goal.
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    # A KPI catalogue key (leads, revenue, new_customers, conversion_rate …), kept as text.
    metric: Mapped[str] = mapped_column(String(64))
    target: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    period_kind: Mapped[GoalPeriodKind] = mapped_column(str_enum(GoalPeriodKind, "goal_period_kind"))
    period: Mapped[str] = mapped_column(String(8), index=True)  # "2026", "2026-Q3", "2026-08"
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[GoalStatus] = mapped_column(str_enum(GoalStatus, "goal_status"), default=GoalStatus.draft)
    # The latest approval of kind goal (pending, or the one that approved or rejected it). No foreign
    # key: approvals → campaigns → goals already point the other way, and a cycle of foreign keys
    # leaves the tables without an order to insert or truncate them in.
    approval_id: Mapped[int | None] = mapped_column(BigInteger)
    approved_at: Mapped[datetime | None]


class GoalActual(IdMixin, TimestampMixin, Base):
    """A value reported on a goal: its own achieved figure to date, as of a time."""

    __tablename__ = "goal_actuals"

    goal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    as_of: Mapped[datetime]
    source: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))


class GoalAdjustment(IdMixin, TimestampMixin, Base):
    """A request to change an approved goal's target (approval kind goal_adjustment)."""

    __tablename__ = "goal_adjustments"

    goal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    approval_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approvals.id", ondelete="SET NULL"))
    target_from: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    target_to: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[AdjustmentStatus] = mapped_column(
        str_enum(AdjustmentStatus, "goal_adjustment_status"), default=AdjustmentStatus.pending
    )
    requested_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
