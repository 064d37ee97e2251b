"""Chat apps (the Feishu app / DingTalk robot that calls Closeloop back) and the inbound events
already answered (replays are deduplicated on the vendor's event id)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import ArchivedMixin, Base, IdMixin, TimestampMixin, str_enum


class ChatVendor(enum.StrEnum):
    feishu = "feishu"
    dingtalk = "dingtalk"


class ChatApp(IdMixin, TimestampMixin, ArchivedMixin, Base):
    __tablename__ = "chat_apps"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    vendor: Mapped[ChatVendor] = mapped_column(str_enum(ChatVendor, "chat_vendor"))
    app_id: Mapped[str] = mapped_column(String(128))  # Feishu App ID (cli_…) / DingTalk AppKey: not a secret
    # Fernet ciphertext (shared/crypto.py), written by shared/chat/apps.py, never returned.
    app_secret_encrypted: Mapped[str] = mapped_column(Text)
    verification_token_encrypted: Mapped[str | None] = mapped_column(Text)
    encrypt_key_encrypted: Mapped[str | None] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())


class ChatEvent(Base):
    """An inbound callback already handled: a replay of its event id gets the stored answer."""

    __tablename__ = "chat_events"
    __table_args__ = (
        UniqueConstraint("vendor", "event_id"),
        Index("ix_chat_events_received_at", "received_at"),  # the cleanup's range
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    vendor: Mapped[ChatVendor] = mapped_column(str_enum(ChatVendor, "chat_event_vendor"))
    event_id: Mapped[str] = mapped_column(String(200))
    chat_app_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("chat_apps.id", ondelete="SET NULL"))
    received_at: Mapped[datetime]
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
