"""Comments on any item: with the audit log and escalations they make its trail (留痕)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin


class Comment(IdMixin, Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_subject", "subject_type", "subject_id", "id"),)

    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
