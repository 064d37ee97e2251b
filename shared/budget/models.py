"""Budget lines, expenses and the alert state of the 5 % rule (this domain owns its tables)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum

DEFAULT_CURRENCY = "CNY"


class BudgetItem(enum.StrEnum):
    """What the audit log, the outbox and the campaign cascade call this domain's rows."""

    budget_line = "budget_line"
    expense = "expense"


class BudgetCategory(enum.StrEnum):
    """Where the money goes (渠道费用、设计、活动、礼品 …): the documented set; `other` for the rest."""

    media = "media"  # paid media, ads, channel fees (渠道投放)
    design = "design"  # design and creative production (设计制作)
    events = "events"  # venues, offline events (线下活动)
    gifts = "gifts"  # gifts, prizes, samples (礼品奖品)
    content = "content"  # content, KOL, PR (内容 / KOL / 公关)
    tools = "tools"  # software and data tools (工具费用)
    staff = "staff"  # outsourced labour (人力成本)
    other = "other"


class ExpenseStatus(enum.StrEnum):
    requested = "requested"  # its approval is pending
    approved = "approved"  # committed: counts against the line
    rejected = "rejected"
    paid = "paid"  # committed and paid out
    cancelled = "cancelled"  # withdrawn, or its campaign ended before it was decided

    @property
    def is_committed(self) -> bool:
        return self in (ExpenseStatus.approved, ExpenseStatus.paid)


class BudgetLine(IdMixin, TimestampMixin, Base):
    __tablename__ = "budget_lines"

    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    category: Mapped[BudgetCategory] = mapped_column(str_enum(BudgetCategory, "budget_category"))
    name: Mapped[str | None] = mapped_column(String(200))
    planned: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default=DEFAULT_CURRENCY)


class Expense(IdMixin, TimestampMixin, Base):
    __tablename__ = "expenses"

    line_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("budget_lines.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    vendor: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    attachment_url: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[ExpenseStatus] = mapped_column(
        str_enum(ExpenseStatus, "expense_status"), default=ExpenseStatus.requested, index=True
    )
    requester_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    approval_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("approvals.id", ondelete="SET NULL"), index=True
    )
    decided_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    paid_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))


class BudgetAlertState(IdMixin, TimestampMixin, Base):
    """Whether a line (or, with no line, the whole campaign) is beyond the 5 % rule now, and how
    many times it has crossed: the crossing number keys its alerts, so each fires exactly once."""

    __tablename__ = "budget_alert_states"

    scope: Mapped[str] = mapped_column(String(40), unique=True)  # "line:7" | "campaign:3"
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("budget_lines.id", ondelete="CASCADE"))
    deviating: Mapped[bool] = mapped_column(Boolean, default=False)
    crossings: Mapped[int] = mapped_column(Integer, default=0)
