"""Customer feedback and complaints (客户反馈 / 客诉) under a first-response SLA."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class FeedbackKind(enum.StrEnum):
    feedback = "feedback"
    complaint = "complaint"


class FeedbackSeverity(enum.StrEnum):  # the same words as task priorities, so SLA conditions read alike
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class FeedbackStatus(enum.StrEnum):
    new = "new"  # waiting for its first response: the SLA clock runs
    responded = "responded"
    resolved = "resolved"
    closed = "closed"


class Feedback(IdMixin, TimestampMixin, Base):
    __tablename__ = "feedback"
    # Process analytics (first response): feedback received in a period.
    __table_args__ = (Index("ix_feedback_received_at", "received_at"),)

    kind: Mapped[FeedbackKind] = mapped_column(str_enum(FeedbackKind, "feedback_kind"), index=True)
    severity: Mapped[FeedbackSeverity] = mapped_column(
        str_enum(FeedbackSeverity, "feedback_severity"), default=FeedbackSeverity.normal
    )
    status: Mapped[FeedbackStatus] = mapped_column(
        str_enum(FeedbackStatus, "feedback_status"), default=FeedbackStatus.new, index=True
    )
    channel: Mapped[str] = mapped_column(String(32))  # where it came in: phone, wechat, email, web, store …
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_contact: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(64))  # "api", "webhook"
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)  # inbound webhook-id: dedupe
    received_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    first_response_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    first_response: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    # Set by the retention purge (`closeloop privacy purge`): the customer's data is gone from it.
    anonymised_at: Mapped[datetime | None]
