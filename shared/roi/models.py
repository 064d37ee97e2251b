"""The ROI estimate's table (this domain owns its model, like its schemas and SLA type)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class RoiEstimateStatus(enum.StrEnum):
    pending = "pending"  # owed: its deadline runs once the campaign has a start date
    submitted = "submitted"  # the report is in (it may still be revised)
    cancelled = "cancelled"  # the campaign was unflagged, cancelled or completed before it came in


class RoiEstimate(IdMixin, TimestampMixin, Base):
    """One per big-promotion campaign, created when the campaign is flagged; owed by the campaign's
    owner (whoever that is at the time)."""

    __tablename__ = "roi_estimates"
    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True, index=True
    )
    status: Mapped[RoiEstimateStatus] = mapped_column(
        str_enum(RoiEstimateStatus, "roi_estimate_status"), default=RoiEstimateStatus.pending
    )
    # The campaign start date the deadline was counted back from, and the deadline itself: 00:00
    # (org time) 15 calendar days before that date, or the moment of flagging when that had passed.
    start_date: Mapped[date | None]
    due_at: Mapped[datetime | None]
    due_at_once: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    document_url: Mapped[str | None] = mapped_column(String(2000))
    expected_revenue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    expected_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
