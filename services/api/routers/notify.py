"""Channels (directors and admins; a manager those of their own department), the notification
outbox and its delivery attempts."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Request, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, ArchivedQ, CursorQ, LimitQ, PageOut, page_out, reject_nulls
from services.api.deps import ActorDep, ManagerDep, NowDep, SessionDep, SettingsDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared.archive import archived_filter
from shared.models import (
    AttemptOutcome,
    Channel,
    ChannelKind,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
)
from shared.notify import admin, channels
from shared.notify.delivery import policy_from
from shared.notify.http import Sender
from shared.notify.ratelimit import RateLimiter
from shared.notify.schemas import (
    AttemptRead,
    ChannelCreate,
    ChannelCreatedRead,
    ChannelRead,
    ChannelTestRead,
    ChannelUpdate,
    NotificationRead,
)
from shared.pagination import paginate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES)

_CHANNEL = versions.row(Channel, id="channel_id")  # where its version (ETag) is


# ---- channels ------------------------------------------------------------------------------------
async def _channel_out(session: SessionDep, rows: list[Channel]) -> list[ChannelRead]:
    deps = await channels.department_ids_of(session, [c.id for c in rows])
    return [
        ChannelRead(
            id=c.id,
            name=c.name,
            kind=c.kind,
            url=c.url,
            has_secret=c.has_secret,
            keywords=list(c.keywords or []),
            department_ids=deps[c.id],
            enabled=c.enabled,
            rate_limits=c.rate_limits,
            healthy=c.healthy,
            unhealthy_since=c.unhealthy_since,
            unhealthy_reason=c.unhealthy_reason,
            ops_alerts=c.ops_alerts,
            chat_app_id=c.chat_app_id,
            chat_id=c.chat_id,
            last_error=c.last_error,
            last_success_at=c.last_success_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
            archived_at=c.archived_at,
            archived_by=c.archived_by,
        )
        for c in rows
    ]


@router.post(
    "/channels",
    status_code=status.HTTP_201_CREATED,
    response_model=ChannelCreatedRead,
    tags=["channels"],
    operation_id="createChannel",
    responses=CONFLICT,
)
async def create_channel(
    body: ChannelCreate, session: SessionDep, actor: ManagerDep, settings: SettingsDep
) -> ChannelCreatedRead:
    """Add a chat bot or webhook. A manager adds one bound to their own department only
    (`department_ids: [their department]`, no operator alerts, a chat app of theirs or of none):
    one for every department, or another's, is for directors and admins (403 naming the field)."""
    channel, generated = await channels.create_channel(
        session,
        actor=actor,
        data=body,
        allow_private=settings.allow_private_webhooks,
        feishu_api_base=settings.feishu_api_base,
    )
    (out,) = await _channel_out(session, [channel])
    return ChannelCreatedRead(**out.model_dump(), signing_secret=generated)


@router.get("/channels", response_model=PageOut[ChannelRead], tags=["channels"], operation_id="listChannels")
async def list_channels(
    session: SessionDep,
    actor: ManagerDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    kind: ChannelKind | None = None,
    enabled: bool | None = None,
    department_id: int | None = None,
    healthy: Annotated[bool | None, Query(description="`false`: the channels a vendor refused (held)")] = None,
    archived: ArchivedQ = False,
) -> dict[str, Any]:
    """List channels (a manager: those of their own department)."""
    stmt = channels.channel_filter(
        archived_filter(select(Channel).where(channels.managed(actor)), Channel, archived),
        kind=kind,
        enabled=enabled,
        department_id=department_id,
        healthy=healthy,
    )
    page = await paginate(session, stmt, Channel.id, limit=limit, cursor=cursor)
    return {"items": await _channel_out(session, list(page.items)), "next_cursor": page.next_cursor}


@router.get(
    "/channels/{channel_id}",
    dependencies=[versions.reads(_CHANNEL)],
    response_model=ChannelRead,
    tags=["channels"],
    operation_id="getChannel",
    responses=NOT_FOUND,
)
async def get_channel(channel_id: int, session: SessionDep, actor: ManagerDep) -> ChannelRead:
    """One channel (a manager: one of their own department's, else 404)."""
    (out,) = await _channel_out(session, [await channels.require_channel(session, actor, channel_id)])
    return out


@router.patch(
    "/channels/{channel_id}",
    dependencies=[versions.writes(_CHANNEL)],
    response_model=ChannelRead,
    tags=["channels"],
    operation_id="updateChannel",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_channel(
    channel_id: int, body: ChannelUpdate, session: SessionDep, actor: ManagerDep, settings: SettingsDep
) -> ChannelRead:
    """Change a channel (a manager: one of their own department's, kept there). The kind cannot
    change: create another channel instead."""
    reject_nulls(
        body.model_dump(exclude_unset=True),
        ("name", "url", "keywords", "department_ids", "enabled", "ops_alerts", "chat_id"),
    )
    channel = await channels.update_channel(
        session, actor=actor, channel_id=channel_id, changes=body, allow_private=settings.allow_private_webhooks
    )
    (out,) = await _channel_out(session, [channel])
    return out


@router.delete(
    "/channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["channels"],
    operation_id="deleteChannel",
    responses=NOT_FOUND,
)
async def delete_channel(channel_id: int, session: SessionDep, actor: ManagerDep, now: NowDep) -> None:
    """A channel that never carried a notification is deleted (a manager: one of their own
    department's). One that did is archived and disabled instead: its notifications and delivery
    attempts stay readable, nothing more is sent through it, `?archived=true` lists it; audited as
    `archive`. Prefer `enabled: false` to pause."""
    await channels.remove_channel(session, actor=actor, channel_id=channel_id, now=now)


# ---- notifications -------------------------------------------------------------------------------
@router.get(
    "/notifications", response_model=PageOut[NotificationRead], tags=["notifications"], operation_id="listNotifications"
)
async def list_notifications(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    status: Annotated[list[NotificationStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    channel_id: int | None = None,
    event_type: str | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    digest_id: UUID | None = None,
) -> dict[str, Any]:
    """The outbox: what was (or will be) sent where. `status=dead` lists the dead letters;
    `digest_id` the notifications one digest message carried. Below director, only notifications
    about items the caller may read."""
    stmt = admin.notification_filter(
        admin.visible_notifications(select(Notification), actor),
        statuses=status,
        channel_id=channel_id,
        event_type=event_type,
        subject_type=subject_type,
        subject_id=subject_id,
        digest_id=digest_id,
    )
    return page_out(await paginate(session, stmt, Notification.id, limit=limit, cursor=cursor), NotificationRead)


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationRead,
    tags=["notifications"],
    operation_id="getNotification",
    responses=NOT_FOUND,
)
async def get_notification(notification_id: int, session: SessionDep, actor: ActorDep) -> Notification:
    """One notification (404 unless it is about an item the caller may read)."""
    return await admin.require_notification(session, actor, notification_id)


@router.get(
    "/notifications/{notification_id}/attempts",
    response_model=PageOut[AttemptRead],
    tags=["notifications"],
    operation_id="listNotificationAttempts",
    responses=NOT_FOUND,
)
async def list_notification_attempts(
    notification_id: int, session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None
) -> dict[str, Any]:
    """Every delivery attempt of one notification: time, outcome, HTTP status, vendor code, latency
    (404 unless the notification is about an item the caller may read)."""
    await admin.require_notification(session, actor, notification_id)
    stmt = select(DeliveryAttempt).where(DeliveryAttempt.notification_id == notification_id)
    return page_out(await paginate(session, stmt, DeliveryAttempt.id, limit=limit, cursor=cursor), AttemptRead)


@router.post(
    "/notifications/{notification_id}/replay",
    response_model=NotificationRead,
    tags=["notifications"],
    operation_id="replayNotification",
    responses={**NOT_FOUND, **CONFLICT},
)
async def replay_notification(
    notification_id: int, session: SessionDep, actor: ManagerDep, now: NowDep
) -> Notification:
    """Send a dead letter again with a fresh retry budget (409 unless it is dead). The message id,
    which generic webhook receivers dedupe on, stays the same."""
    return await admin.replay(session, actor=actor, notification_id=notification_id, now=now)


@router.get(
    "/channels/{channel_id}/attempts",
    response_model=PageOut[AttemptRead],
    tags=["channels"],
    operation_id="listChannelAttempts",
    responses=NOT_FOUND,
)
async def list_channel_attempts(
    channel_id: int,
    session: SessionDep,
    actor: ManagerDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    outcome: AttemptOutcome | None = None,
) -> dict[str, Any]:
    """A channel's delivery history, newest last: every attempt with its outcome, HTTP status,
    vendor code and latency (a manager: a channel of their own department's)."""
    await channels.require_channel(session, actor, channel_id)
    stmt = select(DeliveryAttempt).where(DeliveryAttempt.channel_id == channel_id)
    if outcome is not None:
        stmt = stmt.where(DeliveryAttempt.outcome == outcome)
    return page_out(await paginate(session, stmt, DeliveryAttempt.id, limit=limit, cursor=cursor), AttemptRead)


@router.post(
    "/channels/{channel_id}/test",
    response_model=ChannelTestRead,
    tags=["channels"],
    operation_id="testChannel",
    responses=NOT_FOUND,
)
async def test_channel(
    request: Request,
    channel_id: int,
    session: SessionDep,
    actor: ManagerDep,
    now: NowDep,
    settings: SettingsDep,
    locale: Annotated[Literal["zh-CN", "en-US"] | None, Query()] = None,
) -> ChannelTestRead:
    """Send a test message to the channel now and return the vendor's answer (a manager: a channel
    of their own department's)."""
    await channels.require_channel(session, actor, channel_id)
    async with Sender() as http:
        result = await admin.test_channel(
            session,
            actor=actor,
            channel_id=channel_id,
            http=http,
            now=now,
            policy=policy_from(settings),
            tz=settings.tz,
            limiter=RateLimiter(request.app.state.redis),
            window_scale=settings.rate_window_scale,
            locale=locale,
        )
    return ChannelTestRead.model_validate(result)
