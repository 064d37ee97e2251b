"""Cross-department reviews (跨部门评审): a request, its rounds, and every reviewer's answer."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class ReviewStatus(enum.StrEnum):
    in_review = "in_review"  # the current round waits on its reviewers
    changes_requested = "changes_requested"  # back with the requester until they resubmit
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"


class ReviewDecision(enum.StrEnum):
    approve = "approve"
    request_changes = "request_changes"
    reject = "reject"


class ResponseStatus(enum.StrEnum):
    pending = "pending"  # this reviewer's feedback timer runs
    answered = "answered"
    cancelled = "cancelled"  # the review was decided or withdrawn before they answered


class ReviewRequest(IdMixin, TimestampMixin, Base):
    __tablename__ = "review_requests"
    __table_args__ = (Index("ix_review_requests_stage", "stage_id", "id"),)

    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    stage_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("campaign_stages.id", ondelete="CASCADE"))
    deliverable_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stage_deliverables.id", ondelete="SET NULL")
    )
    requester_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ReviewStatus] = mapped_column(
        str_enum(ReviewStatus, "review_status"), default=ReviewStatus.in_review, index=True
    )
    round: Mapped[int] = mapped_column(Integer, default=1)
    # Every round asks the same reviewers: [{"department_id": int | None, "user_id": int | None}]
    reviewers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # Each reviewer's own feedback deadline (an SLA target; default 24 h calendar time).
    response_target: Mapped[dict[str, Any]] = mapped_column(JSONB)
    decided_at: Mapped[datetime | None]


class ReviewResponse(IdMixin, TimestampMixin, Base):
    """One reviewer in one round: a department (answered by anyone in it, its head by default) or
    a named person. Under SLA as subject `review_response`."""

    __tablename__ = "review_responses"
    __table_args__ = (
        Index("ix_review_responses_review_round", "review_id", "round"),
        # Process analytics (review delay, communications): responses requested in a period.
        Index("ix_review_responses_requested_at", "requested_at"),
        # The review board's `overdue` (a pending reviewer past due): the few pending responses.
        Index("ix_review_responses_status", "status", "review_id"),
    )

    review_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("review_requests.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[ResponseStatus] = mapped_column(
        str_enum(ResponseStatus, "review_response_status"), default=ResponseStatus.pending
    )
    decision: Mapped[ReviewDecision | None] = mapped_column(str_enum(ReviewDecision, "review_decision"))
    comment: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime]
    answered_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None]
