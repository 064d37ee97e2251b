"""The rectification item's table (this domain owns its model, like its schemas and SLA type)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class RectificationStatus(enum.StrEnum):
    open = "open"  # its deadline runs
    done = "done"  # the owner says it is fixed; waiting for someone else to verify
    verified = "verified"  # checked by someone other than the owner


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
    due_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
