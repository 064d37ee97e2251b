"""Cross-department collaboration requests (跨部门协作) and their occurrences."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class CollaborationStatus(enum.StrEnum):
    open = "open"
    closed = "closed"  # delivered (one-off) or stopped (recurring)
    cancelled = "cancelled"


class OccurrenceStatus(enum.StrEnum):
    open = "open"  # its feedback deadline runs
    done = "done"
    cancelled = "cancelled"


class CollaborationRequest(IdMixin, TimestampMixin, Base):
    """The matter, who asks, who collaborates, who owns the answer, and by when. A `daily_at`
    deadline makes it recurring: one occurrence per working day, each under SLA."""

    __tablename__ = "collaboration_requests"
    __table_args__ = (
        # The worker's only access path for recurring requests: next occurrence due, open only.
        Index(
            "ix_collaboration_requests_next_occurrence",
            "next_occurrence_at",
            postgresql_where=text("status = 'open' AND next_occurrence_at IS NOT NULL"),
        ),
        # Process analytics (communications): requests raised in a period.
        Index("ix_collaboration_requests_created_at", "created_at"),
    )

    matter: Mapped[str] = mapped_column(String(300))
    content: Mapped[str | None] = mapped_column(Text)
    initiating_department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    collaborating_department_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    requester_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    calendar_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("calendars.id", ondelete="SET NULL"))
    deadline_kind: Mapped[str] = mapped_column(String(16))
    deadline_value: Mapped[str] = mapped_column(String(32))
    status: Mapped[CollaborationStatus] = mapped_column(
        str_enum(CollaborationStatus, "collaboration_status"), default=CollaborationStatus.open, index=True
    )
    next_occurrence_at: Mapped[datetime | None]  # recurring only: when the next working day's occurrence opens
    closed_at: Mapped[datetime | None]


class CollaborationOccurrence(IdMixin, TimestampMixin, Base):
    """One round of a request (the only one for a one-off). Under SLA as subject `collaboration`."""

    __tablename__ = "collaboration_occurrences"
    __table_args__ = (
        UniqueConstraint("request_id", "occurrence_date"),
        # Process analytics (communications): occurrences opened in a period.
        Index("ix_collaboration_occurrences_opened_at", "opened_at"),
    )

    request_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("collaboration_requests.id", ondelete="CASCADE"), index=True
    )
    occurrence_date: Mapped[date]  # the working day it belongs to (local date of its deadline)
    status: Mapped[OccurrenceStatus] = mapped_column(
        str_enum(OccurrenceStatus, "collaboration_occurrence_status"), default=OccurrenceStatus.open, index=True
    )
    opened_at: Mapped[datetime]
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
