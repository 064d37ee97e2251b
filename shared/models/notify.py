"""Chat channels, the notification outbox and every delivery attempt."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, false, text, true
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import ArchivedMixin, Base, IdMixin, TimestampMixin, str_enum


class ChannelKind(enum.StrEnum):
    feishu = "feishu"
    dingtalk = "dingtalk"
    wecom = "wecom"
    webhook = "webhook"
    feishu_app = "feishu_app"  # a Feishu app's messages API: cards whose buttons call back (shared/chat)


class NotificationStatus(enum.StrEnum):
    pending = "pending"  # waiting for (another) attempt
    delivered = "delivered"
    dead = "dead"  # permanent failure or retries exhausted: a dead letter, replayable


class AttemptOutcome(enum.StrEnum):
    success = "success"
    retryable = "retryable"
    permanent = "permanent"


class Channel(IdMixin, TimestampMixin, ArchivedMixin, Base):
    __tablename__ = "channels"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind, "channel_kind"))
    url: Mapped[str] = mapped_column(String(2048))
    # Fernet ciphertext (shared/crypto.py); the service layer encrypts, delivery decrypts.
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    enabled: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    # Per-channel override of the vendor's rate limits: [{"limit": 20, "per_s": 60}, …]; NULL = vendor default.
    rate_limits: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    # A permanent vendor error (bad token, signature, IP) marks the channel unhealthy until an admin fixes it.
    healthy: Mapped[bool] = mapped_column(default=True, server_default=true())
    unhealthy_since: Mapped[datetime | None]
    unhealthy_reason: Mapped[str | None] = mapped_column(Text)
    ops_alerts: Mapped[bool] = mapped_column(default=False, server_default=false())
    # kind feishu_app: the chat app that sends, and the group (Feishu chat_id, oc_…) it sends to.
    chat_app_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("chat_apps.id", ondelete="RESTRICT"), index=True
    )
    chat_id: Mapped[str | None] = mapped_column(String(128))

    @property
    def has_secret(self) -> bool:
        return self.secret_encrypted is not None


class ChannelDepartment(Base):
    """Routing: a channel named for departments gets those departments' alerts."""

    __tablename__ = "channel_departments"

    channel_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Notification(IdMixin, TimestampMixin, Base):
    """The transactional outbox: written with the change that caused it, delivered later."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(
            "ix_notifications_pending_next",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_notifications_subject", "subject_type", "subject_id"),
        # A channel's queue, oldest first: what a drain claims.
        Index(
            "ix_notifications_channel_pending",
            "channel_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # Dead letters per channel (`/metrics`, the dead-letter list).
        Index("ix_notifications_dead", "channel_id", postgresql_where=text("status = 'dead'")),
    )

    # Unique per (event, subject, occurrence, channel): a second sweep or worker is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    # Stable across retries: receivers dedupe on it (Standard Webhooks `webhook-id`).
    message_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[NotificationStatus] = mapped_column(
        str_enum(NotificationStatus, "notification_status"), default=NotificationStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Delivered inside this digest message (with others), not on its own.
    digest_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    # A replay gives a dead letter a fresh retry budget: attempts before it do not count.
    replayed_at: Mapped[datetime | None]
    budget_from: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The API request that wrote the row (its `X-Request-ID`): the notifier's log lines about the
    # delivery carry it. None for rows the worker's sweeps write (the clock caused those).
    request_id: Mapped[str | None] = mapped_column(String(64))


class DeliveryAttempt(IdMixin, Base):
    __tablename__ = "delivery_attempts"

    notification_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    latency_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[AttemptOutcome] = mapped_column(str_enum(AttemptOutcome, "attempt_outcome"))
    http_status: Mapped[int | None] = mapped_column(Integer)
    vendor_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    digest_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # sent as part of this digest
