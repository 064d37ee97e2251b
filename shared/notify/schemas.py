"""Channels, the notification outbox and its delivery attempts: commands and what the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, HttpUrl

from shared.models import AttemptOutcome, ChannelKind, NotificationStatus
from shared.notify.work import WorkEvent
from shared.schemas import ArchivableRead, ReadModel, WriteModel

Keyword = Annotated[str, Field(min_length=1, max_length=64)]


class RateLimitWindow(WriteModel):
    """At most `limit` messages per `per_s` seconds to this channel (shared by every notifier)."""

    # Ranges are checked in shared/notify/channels.py so errors name `body.rate_limits[i].limit`;
    # the schema states them for clients.
    limit: Annotated[int, Field(strict=True, json_schema_extra={"minimum": 1}, examples=[20])]
    per_s: Annotated[float, Field(strict=True, json_schema_extra={"exclusiveMinimum": 0}, examples=[60])]


RateLimits = Annotated[
    list[RateLimitWindow],
    Field(description="per-channel override of the vendor's rate limits; null = the vendor default"),
]


# ---- channels ------------------------------------------------------------------------------------
ChatId = Annotated[str, Field(min_length=1, max_length=128, description="feishu_app: the group's chat_id (oc_…)")]


class ChannelCreate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    kind: ChannelKind
    url: HttpUrl | None = Field(default=None, description="the bot's URL (every kind but feishu_app: required)")
    chat_app_id: int | None = Field(default=None, description="feishu_app: the chat app that sends")
    chat_id: ChatId | None = None
    secret: Annotated[str, Field(min_length=1, max_length=512, description="write-only")] | None = None
    keywords: Annotated[list[Keyword], Field(max_length=10)] = []
    department_ids: list[int] = Field(default=[], description="empty: receives every department's alerts")
    enabled: bool = True
    rate_limits: RateLimits | None = None
    ops_alerts: bool = Field(default=False, description="this channel receives operator alerts")


class ChannelUpdate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    url: HttpUrl | None = None
    secret: Annotated[str, Field(min_length=1, max_length=512, description="write-only; null removes it")] | None = None
    keywords: Annotated[list[Keyword], Field(max_length=10)] | None = None
    department_ids: list[int] | None = None
    enabled: bool | None = Field(default=None, description="`true` also marks an unhealthy channel healthy again")
    rate_limits: RateLimits | None = None
    ops_alerts: bool | None = None
    chat_id: ChatId | None = None


class ChannelRead(ArchivableRead):
    id: int
    name: str
    kind: ChannelKind
    url: str
    has_secret: bool
    keywords: list[str]
    department_ids: list[int]
    enabled: bool
    rate_limits: list[RateLimitWindow] | None = Field(description="null: the vendor's default limits")
    healthy: bool = Field(description="false after a permanent vendor error, until url/secret change or enabled=true")
    unhealthy_since: datetime | None
    unhealthy_reason: str | None
    ops_alerts: bool
    chat_app_id: int | None = None
    chat_id: str | None = None
    last_error: str | None
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ChannelCreatedRead(ChannelRead):
    signing_secret: str | None = Field(
        default=None, description="generated Standard Webhooks secret (webhook kind only); shown once"
    )


class ChannelTestRead(ReadModel):
    outcome: AttemptOutcome
    http_status: int | None
    vendor_code: str | None = Field(
        description="the vendor's own answer code (Feishu `code`, DingTalk/WeCom `errcode`)"
    )
    error: str | None
    latency_ms: int
    healthy: bool = Field(description="the channel's health after the test (a success clears an unhealthy mark)")


# ---- notifications -------------------------------------------------------------------------------
class NotificationRead(ReadModel):
    id: int
    message_id: UUID
    event_type: str
    subject_type: str
    subject_id: int
    channel_id: int
    payload: dict[str, Any]
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    digest_id: UUID | None = Field(description="delivered inside this digest message, together with others")
    replayed_at: datetime | None
    created_at: datetime


class AttemptRead(ReadModel):
    id: int
    notification_id: int
    channel_id: int
    attempt_no: int
    attempted_at: datetime
    latency_ms: int
    outcome: AttemptOutcome
    http_status: int | None
    vendor_code: str | None
    error: str | None
    digest_id: UUID | None


# ---- work-arrival subscriptions ------------------------------------------------------------------
class SubscriptionSet(WriteModel):
    """Switch one work-arrival event kind on or off for a scope. Scope: `channel_id` alone (that
    channel), `department_id` alone (that department's messages on every channel), both (that
    channel's messages for that department), or neither (everywhere). The most specific switch wins;
    with none, every kind is on."""

    event: WorkEvent = Field(description="the event kind (the generic webhook's `type`)")
    channel_id: int | None = None
    department_id: int | None = None
    enabled: bool


class SubscriptionRead(ReadModel):
    id: int
    event: WorkEvent
    channel_id: int | None
    department_id: int | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


class WorkEventRead(ReadModel):
    event: WorkEvent
    default_enabled: bool
    description: str
