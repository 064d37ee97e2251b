"""Subscriptions to work-arrival events (this domain owns the table): a switch per event kind,
per channel and/or per department. No row means the default: every kind is on."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin


class NotificationSubscription(IdMixin, TimestampMixin, Base):
    """`event` switched on or off for one channel, one department, both (that channel's messages
    for that department) or neither (everywhere). The most specific row wins."""

    __tablename__ = "notification_subscriptions"
    __table_args__ = (
        Index(
            "uq_notification_subscriptions_scope",
            "event",
            "channel_id",
            "department_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    event: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    enabled: Mapped[bool]
