"""Channel configuration: per-kind validation, routing to departments, write-only secrets
(encrypted at rest), per-channel rate limits and health."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import ColumnElement, Select, and_, delete, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from shared import archive, crud
from shared.access.policy import require_manages_only_own
from shared.actor import Actor
from shared.chat.models import ChatApp, ChatVendor
from shared.crypto import encrypt_secret, rotate_secret
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from shared.models import Channel, ChannelDepartment, ChannelKind, Department, Role
from shared.notify.schemas import ChannelCreate, ChannelUpdate, RateLimitWindow
from shared.notify.ssrf import UnsafeUrl, check_url_target

WHSEC_PREFIX = "whsec_"
MAX_RATE_LIMIT_WINDOWS = 5
MAX_RATE_LIMIT_PER_S = 86_400.0
MAX_RATE_LIMIT = 100_000


def new_webhook_secret() -> str:
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _kind_url_error(kind: ChannelKind, url: str) -> str | None:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if kind == ChannelKind.feishu and not (
        parts.path.startswith("/open-apis/bot/v2/hook/") and len(parts.path) > len("/open-apis/bot/v2/hook/")
    ):
        return "a Feishu/Lark bot URL looks like https://open.feishu.cn/open-apis/bot/v2/hook/<token>"
    if kind == ChannelKind.dingtalk and not (parts.path == "/robot/send" and query.get("access_token")):
        return "a DingTalk robot URL looks like https://oapi.dingtalk.com/robot/send?access_token=<token>"
    if kind == ChannelKind.wecom and not (parts.path == "/cgi-bin/webhook/send" and query.get("key")):
        return "a WeCom robot URL looks like https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>"
    return None


def _secret_error(kind: ChannelKind, secret: str) -> str | None:
    if kind == ChannelKind.feishu_app:
        return "a Feishu app channel signs in with its chat app's secret: leave secret empty"
    if kind == ChannelKind.wecom:
        return "WeCom group robots are not signed: leave secret empty"
    if kind == ChannelKind.webhook:
        if not secret.startswith(WHSEC_PREFIX):
            return "must be a Standard Webhooks secret: whsec_<base64>"
        try:
            key = base64.b64decode(secret[len(WHSEC_PREFIX) :], validate=True)
        except ValueError:
            return "the part after whsec_ must be base64"
        if not 24 <= len(key) <= 64:
            return "the decoded key must be 24 to 64 bytes"
    if kind == ChannelKind.dingtalk and not secret.startswith("SEC"):
        return "a DingTalk signing secret starts with SEC"
    return None


def rate_limit_errors(rate_limits: list[RateLimitWindow] | None) -> list[FieldError]:
    """Problems with a per-channel override: windows of at least 1 message per more than 0 seconds."""
    if rate_limits is None:
        return []
    if not rate_limits:
        return [FieldError("rate_limits", "give at least one window, or null for the vendor's default limits")]
    if len(rate_limits) > MAX_RATE_LIMIT_WINDOWS:
        return [FieldError("rate_limits", f"at most {MAX_RATE_LIMIT_WINDOWS} windows")]
    errors: list[FieldError] = []
    seen: set[float] = set()
    for i, window in enumerate(rate_limits):
        at = f"rate_limits[{i}]"
        if not 1 <= window.limit <= MAX_RATE_LIMIT:
            errors.append(FieldError(f"{at}.limit", f"must be a whole number from 1 to {MAX_RATE_LIMIT}"))
        if not 0 < window.per_s <= MAX_RATE_LIMIT_PER_S:
            errors.append(FieldError(f"{at}.per_s", f"must be seconds above 0, at most {MAX_RATE_LIMIT_PER_S:g}"))
        elif window.per_s in seen:
            errors.append(FieldError(f"{at}.per_s", "two windows with the same per_s: keep the stricter one"))
        else:
            seen.add(window.per_s)
    return errors


async def validate_channel(
    kind: ChannelKind,
    url: str,
    secret: str | None,
    keywords: list[str],
    *,
    allow_private: bool,
    rate_limits: list[RateLimitWindow] | None = None,
) -> None:
    errors: list[FieldError] = []
    if (msg := _kind_url_error(kind, url)) is not None:
        errors.append(FieldError("url", msg))
    else:
        try:
            await check_url_target(url, allow_private=allow_private)
        except UnsafeUrl as exc:
            errors.append(FieldError("url", str(exc), "unsafe_url"))
    if secret and (msg := _secret_error(kind, secret)) is not None:
        errors.append(FieldError("secret", msg))
    if keywords and kind == ChannelKind.webhook:
        errors.append(FieldError("keywords", "keywords are a chat-bot security setting; webhooks are signed"))
    errors.extend(rate_limit_errors(rate_limits))
    if errors:
        raise InvalidInput.for_fields(errors)


FEISHU_CHAT_ID_PREFIX = "oc_"


def app_messages_url(feishu_api_base: str) -> str:
    """Where a feishu_app channel posts its cards (the token comes from the same host)."""
    return f"{feishu_api_base.rstrip('/')}/open-apis/im/v1/messages?receive_id_type=chat_id"


def _chat_id_error(chat_id: str) -> str | None:
    if not chat_id.startswith(FEISHU_CHAT_ID_PREFIX):
        return "a Feishu group's chat_id starts with oc_ (the group's settings, or the chat list API)"
    return None


async def _app_fields_errors(
    session: AsyncSession,
    kind: ChannelKind,
    *,
    url_given: bool,
    chat_app_id: int | None,
    chat_id: str | None,
    check_app: bool = True,
) -> list[FieldError]:
    """A feishu_app channel names its chat app and group and takes no URL; other kinds the reverse."""
    errors: list[FieldError] = []
    if kind != ChannelKind.feishu_app:
        if not url_given:
            errors.append(FieldError("url", "required", "missing"))
        for key, value in (("chat_app_id", chat_app_id), ("chat_id", chat_id)):
            if value is not None:
                errors.append(FieldError(key, "only a feishu_app channel names a chat app and group"))
        return errors
    if url_given:
        errors.append(FieldError("url", "a feishu_app channel posts to CLOSELOOP_FEISHU_API_BASE: leave url out"))
    if chat_id is None:
        errors.append(FieldError("chat_id", "required: the group the app sends to", "missing"))
    elif (msg := _chat_id_error(chat_id)) is not None:
        errors.append(FieldError("chat_id", msg))
    if chat_app_id is None:
        errors.append(FieldError("chat_app_id", "required: the Feishu chat app that sends", "missing"))
    elif check_app:  # a change to a channel keeps its app (archiving the app held the channel already)
        app = await session.get(ChatApp, chat_app_id)
        if app is None:
            errors.append(FieldError("chat_app_id", f"chat app {chat_app_id} does not exist", "reference"))
        elif app.vendor != ChatVendor.feishu or app.archived_at is not None:
            errors.append(FieldError("chat_app_id", f"chat app {chat_app_id} is not a live Feishu app"))
    return errors


async def _ensure_name_free(session: AsyncSession, name: str, *, except_id: int | None = None) -> None:
    stmt = select(Channel.id).where(func.lower(Channel.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Channel.id != except_id)
    if await session.scalar(stmt) is not None:
        raise Conflict.on_input(f"a channel named {name!r} already exists", "name", "already taken", "unique")


async def _set_departments(session: AsyncSession, channel_id: int, department_ids: list[int]) -> None:
    for dep_id in sorted(set(department_ids)):
        await crud.check_references(session, {"department_ids": (Department, dep_id)})
    await session.execute(delete(ChannelDepartment).where(ChannelDepartment.channel_id == channel_id))
    session.add_all(ChannelDepartment(channel_id=channel_id, department_id=d) for d in sorted(set(department_ids)))
    await session.flush()


async def department_ids_of(session: AsyncSession, channel_ids: list[int]) -> dict[int, list[int]]:
    rows = await session.execute(
        select(ChannelDepartment.channel_id, ChannelDepartment.department_id)
        .where(ChannelDepartment.channel_id.in_(channel_ids))
        .order_by(ChannelDepartment.department_id)
    )
    out: dict[int, list[int]] = {cid: [] for cid in channel_ids}
    for cid, did in rows:
        out[cid].append(did)
    return out


# ---- who configures a channel ---------------------------------------------------------------------
# As chat apps are: directors and admins every channel; a manager the channels bound to their own
# department and no other (one bound to none receives every department's alerts: not theirs alone).


def managed(actor: Actor) -> ColumnElement[bool]:
    """The channels the caller configures, and so sees."""
    if actor.sees_everything:
        return true()
    if not actor.at_least(Role.manager) or actor.department_id is None:
        return false()
    bound = select(ChannelDepartment.channel_id)
    return and_(
        Channel.id.in_(bound.where(ChannelDepartment.department_id == actor.department_id)),
        Channel.id.not_in(bound.where(ChannelDepartment.department_id != actor.department_id)),
    )


async def require_channel(session: AsyncSession, actor: Actor, channel_id: int, *, for_update: bool = False) -> Channel:
    """The channel, if the caller configures it; 404 — as if it did not exist — otherwise."""
    stmt = select(Channel).where(Channel.id == channel_id, managed(actor))
    channel = (await session.scalars(stmt.with_for_update(of=Channel) if for_update else stmt)).one_or_none()
    if channel is None:
        raise NotFound(f"channel {channel_id} does not exist")
    return channel


async def _require_configures(
    session: AsyncSession,
    actor: Actor,
    *,
    department_ids: list[int] | None,
    ops_alerts: bool | None,
    chat_app_id: int | None,
) -> None:
    """What a manager may not give their channel: another department (or none), operator alerts
    (every channel's health, company-wide), another department's chat app."""
    if actor.sees_everything:
        return
    if department_ids is not None:
        require_manages_only_own(actor, department_ids, field="department_ids", what="channels")
    if ops_alerts:
        message = "operator alerts (every channel's health) go to a channel a director or an admin configures"
        raise Forbidden.for_field("ops_alerts", message)
    app = await session.get(ChatApp, chat_app_id) if chat_app_id is not None else None
    if app is not None and app.department_id not in (None, actor.department_id):
        message = f"chat app {app.id} belongs to another department"
        raise Forbidden.for_field("chat_app_id", message)


async def create_channel(
    session: AsyncSession,
    *,
    actor: Actor,
    data: ChannelCreate,
    allow_private: bool,
    feishu_api_base: str = "https://open.feishu.cn",
) -> tuple[Channel, str | None]:
    """Create a channel. For a webhook without a secret one is generated and returned once; a
    feishu_app channel posts to the app API under `feishu_api_base`."""
    await _require_configures(
        session, actor, department_ids=data.department_ids, ops_alerts=data.ops_alerts, chat_app_id=data.chat_app_id
    )
    errors = await _app_fields_errors(
        session, data.kind, url_given=data.url is not None, chat_app_id=data.chat_app_id, chat_id=data.chat_id
    )
    if errors:
        raise InvalidInput.for_fields(errors)
    url = app_messages_url(feishu_api_base) if data.kind == ChannelKind.feishu_app else str(data.url)
    values = data.model_dump(exclude={"department_ids", "secret"}) | {"url": url}
    secret, generated = data.secret, None
    if data.kind == ChannelKind.webhook and not secret:
        secret = generated = new_webhook_secret()
    await _ensure_name_free(session, data.name)
    await validate_channel(
        data.kind, values["url"], secret, data.keywords, allow_private=allow_private, rate_limits=data.rate_limits
    )
    values["secret_encrypted"] = encrypt_secret(secret) if secret else None
    channel = await crud.create(session, actor=actor, obj=Channel(**values), entity_type="channel")
    await _set_departments(session, channel.id, data.department_ids)
    return channel, generated


# What marks a held channel healthy again: its queue flows on the outbox's next sweep.
HEALTHY_AGAIN: dict[str, Any] = {"healthy": True, "unhealthy_since": None, "unhealthy_reason": None}


def _fixes_config(channel: Channel, values: dict[str, Any]) -> bool:
    """Someone touched what a permanent failure points at: give the channel another chance."""
    return (
        ("url" in values and values["url"] != channel.url)
        or ("chat_id" in values and values["chat_id"] != channel.chat_id)
        or "secret" in values
        or values.get("enabled") is True
    )


async def update_channel(
    session: AsyncSession, *, actor: Actor, channel_id: int, changes: ChannelUpdate, allow_private: bool
) -> Channel:
    """Change a channel; a new url or secret, or `enabled: true`, marks it healthy again."""
    channel = await require_channel(session, actor, channel_id, for_update=True)
    await _require_configures(
        session, actor, department_ids=changes.department_ids, ops_alerts=changes.ops_alerts, chat_app_id=None
    )
    archive.require_live(channel, "channel")
    values = changes.model_dump(exclude_unset=True, exclude={"department_ids"})
    app_errors = await _app_fields_errors(
        session,
        channel.kind,
        url_given=channel.kind != ChannelKind.feishu_app or changes.url is not None,
        chat_app_id=channel.chat_app_id,
        chat_id=changes.chat_id if changes.chat_id is not None else channel.chat_id,
        check_app=False,
    )
    if app_errors:
        raise InvalidInput.for_fields(app_errors)
    if changes.url is not None:
        values["url"] = str(changes.url)
    if changes.name:
        await _ensure_name_free(session, changes.name, except_id=channel_id)
    await validate_channel(
        channel.kind,
        values.get("url", channel.url),
        changes.secret,
        values.get("keywords", channel.keywords) or [],
        allow_private=allow_private,
        rate_limits=changes.rate_limits,
    )
    if _fixes_config(channel, values):
        values.update(HEALTHY_AGAIN)
    if "secret" in values:
        secret = values.pop("secret")
        values["secret_encrypted"] = encrypt_secret(secret) if secret else None
    channel = await crud.update(session, actor=actor, obj=channel, changes=values, entity_type="channel")
    if changes.department_ids is not None:
        await _set_departments(session, channel.id, changes.department_ids)
    return channel


async def resume_app_channels(session: AsyncSession, *, actor: Actor, chat_app_id: int) -> list[int]:
    """The channels held while sending through a chat app, marked healthy again once the app is
    fixed (as fixing a channel's own secret does); returns their ids."""
    held = (
        await session.scalars(
            select(Channel)
            .where(Channel.chat_app_id == chat_app_id, Channel.healthy.is_(False), Channel.archived_at.is_(None))
            .order_by(Channel.id)
            .with_for_update()
        )
    ).all()
    for channel in held:
        await crud.update(session, actor=actor, obj=channel, changes=dict(HEALTHY_AGAIN), entity_type="channel")
    return [c.id for c in held]


async def remove_channel(session: AsyncSession, *, actor: Actor, channel_id: int, now: datetime) -> None:
    """Delete a channel that never carried a notification; archive (and disable) one that did."""
    channel = await require_channel(session, actor, channel_id, for_update=True)
    await archive.remove(session, actor=actor, obj=channel, entity_type="channel", now=now)


async def reencrypt_secrets(session: AsyncSession) -> int:
    """Key rotation: re-encrypt every stored channel secret under the current key; returns how many."""
    rows = (await session.scalars(select(Channel).where(Channel.secret_encrypted.is_not(None)).with_for_update())).all()
    for channel in rows:
        # Not audited: the secret itself is unchanged, only the key that wraps it.
        channel.secret_encrypted = rotate_secret(channel.secret_encrypted)  # type: ignore[arg-type]
    await session.flush()
    return len(rows)


async def channels_for_department(session: AsyncSession, department_id: int | None) -> list[Channel]:
    """Routing: the department's channels plus every channel that names no department."""
    named = select(ChannelDepartment.channel_id)
    unscoped = Channel.id.not_in(named)
    cond: ColumnElement[bool] = unscoped
    if department_id is not None:
        cond = or_(unscoped, Channel.id.in_(named.where(ChannelDepartment.department_id == department_id)))
    return list(
        (await session.scalars(select(Channel).where(Channel.enabled.is_(True), cond).order_by(Channel.id))).all()
    )


def channel_filter(
    stmt: Select[Any],
    *,
    kind: ChannelKind | None,
    enabled: bool | None,
    department_id: int | None,
    healthy: bool | None = None,
) -> Select[Any]:
    if kind is not None:
        stmt = stmt.where(Channel.kind == kind)
    if healthy is not None:
        stmt = stmt.where(Channel.healthy.is_(healthy))
    if enabled is not None:
        stmt = stmt.where(Channel.enabled.is_(enabled))
    if department_id is not None:
        stmt = stmt.where(
            Channel.id.in_(select(ChannelDepartment.channel_id).where(ChannelDepartment.department_id == department_id))
        )
    return stmt
