"""Chat apps, configured like channels: secrets write-only and encrypted at rest, validated on save,
testable (the vendor issues an access token or says why not), archived once used. And the inbound
events already answered: a replay of an event id gets the first answer, and nothing is done twice."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import archive, crud
from shared.access.policy import require_manages
from shared.actor import Actor
from shared.chat import feishu
from shared.chat.dingtalk import TOKEN_PATH as DINGTALK_TOKEN_PATH
from shared.chat.models import ChatApp, ChatEvent, ChatVendor
from shared.chat.schemas import ChatAppCreate, ChatAppUpdate
from shared.crypto import decrypt_secret, encrypt_secret, rotate_secret
from shared.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.models import Department
from shared.notify.adapters.base import dumps, reply_summary, vendor_text
from shared.notify.channels import resume_app_channels
from shared.notify.http import Reply, Sender, TransportError
from shared.notify.ssrf import UnsafeUrl

ENTITY = "chat_app"
FEISHU_APP_ID_PREFIX = "cli_"
# (column, command field) of each secret: encrypted at rest, never read back.
SECRETS = (
    ("app_secret_encrypted", "app_secret"),
    ("verification_token_encrypted", "verification_token"),
    ("encrypt_key_encrypted", "encrypt_key"),
)


@dataclass(frozen=True)
class AppSecrets:
    app_id: str
    app_secret: str
    verification_token: str | None
    encrypt_key: str | None


def callback_path(app: ChatApp) -> str:
    """Where the vendor posts for this app (the console's callback / outgoing URL, after PUBLIC_URL)."""
    if app.vendor == ChatVendor.feishu:
        return f"/api/v1/chat/feishu/{app.id}/events"
    return f"/api/v1/chat/dingtalk/{app.id}/messages"


def secrets_of(app: ChatApp) -> AppSecrets:
    """The app's credentials, decrypted (SecretDecryptionError if the key no longer opens them)."""

    def opened(token: str | None) -> str | None:
        return decrypt_secret(token) if token is not None else None

    return AppSecrets(
        app_id=app.app_id,
        app_secret=decrypt_secret(app.app_secret_encrypted),
        verification_token=opened(app.verification_token_encrypted),
        encrypt_key=opened(app.encrypt_key_encrypted),
    )


def _errors(vendor: ChatVendor, values: dict[str, Any]) -> list[FieldError]:
    """What the vendor needs of an app, given its configuration after the change."""
    errors: list[FieldError] = []
    if vendor == ChatVendor.feishu:
        if not str(values.get("app_id") or "").startswith(FEISHU_APP_ID_PREFIX):
            errors.append(FieldError("app_id", "a Feishu/Lark App ID starts with cli_ (Credentials & Basic Info)"))
        if not values.get("verification_token"):
            errors.append(
                FieldError("verification_token", "required: Feishu's callbacks are checked against it", "missing")
            )
    else:
        for key in ("verification_token", "encrypt_key"):
            if values.get(key):
                errors.append(FieldError(key, "DingTalk robots sign with the app secret: leave it empty"))
    return errors


async def _ensure_name_free(session: AsyncSession, name: str, *, except_id: int | None = None) -> None:
    stmt = select(ChatApp.id).where(func.lower(ChatApp.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(ChatApp.id != except_id)
    if await session.scalar(stmt) is not None:
        raise Conflict.on_input(f"a chat app named {name!r} already exists", "name", "already taken", "unique")


async def create_app(session: AsyncSession, *, actor: Actor, data: ChatAppCreate) -> ChatApp:
    """Add a chat app; its secrets are encrypted before they are stored."""
    require_manages(actor, department_id=data.department_id, what="configure a chat app for it")
    errors = _errors(data.vendor, data.model_dump())
    if errors:
        raise InvalidInput.for_fields(errors)
    await crud.check_references(session, {"department_id": (Department, data.department_id)})
    await _ensure_name_free(session, data.name)
    app = ChatApp(
        name=data.name,
        vendor=data.vendor,
        app_id=data.app_id,
        department_id=data.department_id,
        enabled=data.enabled,
        **{column: encrypt_secret(value) for column, key in SECRETS if (value := getattr(data, key))},
    )
    return await crud.create(session, actor=actor, obj=app, entity_type=ENTITY)


async def update_app(session: AsyncSession, *, actor: Actor, app_id: int, changes: ChatAppUpdate) -> ChatApp:
    """Change a chat app; a secret given replaces the stored one, `encrypt_key: null` removes it."""
    app = await crud.get_or_404(session, ChatApp, app_id, for_update=True)
    archive.require_live(app, ENTITY)
    require_manages(actor, department_id=app.department_id, what="change its chat app")
    values = changes.model_dump(exclude_unset=True)
    if "department_id" in values:
        require_manages(actor, department_id=values["department_id"], what="configure a chat app for it")
        await crud.check_references(session, {"department_id": (Department, values["department_id"])})
    current = secrets_of(app)
    after = {
        "app_id": values.get("app_id", app.app_id),
        "verification_token": values.get("verification_token", current.verification_token),
        "encrypt_key": values.get("encrypt_key", current.encrypt_key),
    }
    errors = _errors(app.vendor, after)
    if errors:
        raise InvalidInput.for_fields(errors)
    if values.get("name"):
        await _ensure_name_free(session, values["name"], except_id=app.id)
    fixed = _fixes_sending(app, values)
    for column, key in SECRETS:
        if key in values:
            secret = values.pop(key)
            values[column] = encrypt_secret(secret) if secret else None
    app = await crud.update(session, actor=actor, obj=app, changes=values, entity_type=ENTITY)
    if fixed:
        await resume_app_channels(session, actor=actor, chat_app_id=app.id)
    return app


def _fixes_sending(app: ChatApp, values: dict[str, Any]) -> bool:
    """The credentials its channels sign in with changed, or it is switched back on: the channels
    a refusal held get another chance, as a channel whose own secret is fixed does."""
    return (
        "app_secret" in values
        or ("app_id" in values and values["app_id"] != app.app_id)
        or (values.get("enabled") is True)
    )


async def remove_app(session: AsyncSession, *, actor: Actor, app_id: int, now: datetime) -> None:
    """Delete an app nothing used; archive (and disable) one that sent or received."""
    app = await crud.get_or_404(session, ChatApp, app_id, for_update=True)
    require_manages(actor, department_id=app.department_id, what="remove its chat app")
    await archive.remove(session, actor=actor, obj=app, entity_type=ENTITY, now=now)


async def reencrypt_app_secrets(session: AsyncSession) -> int:
    """Key rotation: every stored chat app secret re-encrypted under the current key; returns how many."""
    rows = (await session.scalars(select(ChatApp).with_for_update())).all()
    count = 0
    for app in rows:
        for column, _ in SECRETS:
            if (token := getattr(app, column)) is not None:
                setattr(app, column, rotate_secret(token))  # not audited: the secret itself is unchanged
                count += 1
    await session.flush()
    return count


async def app_for_callback(session: AsyncSession, app_id: int, *, vendor: ChatVendor) -> ChatApp:
    """The live, enabled app a callback URL names (404 for anything else: nothing to verify with)."""
    app = await session.get(ChatApp, app_id)
    if app is None or app.vendor != vendor or app.archived_at is not None or not app.enabled:
        raise NotFound(f"no enabled {vendor.value} chat app {app_id}")
    return app


# ---- testing the credentials ---------------------------------------------------------------------
async def test_app(
    app: ChatApp, *, http: Sender, feishu_api_base: str, dingtalk_api_base: str, allow_private: bool, timeout_s: float
) -> dict[str, Any]:
    """Ask the vendor for an access token with the app's credentials: Feishu's tenant_access_token,
    DingTalk's app access token. Says what the vendor answered; never raises."""
    creds = secrets_of(app)
    if app.vendor == ChatVendor.feishu:
        url = feishu_api_base + feishu.TOKEN_PATH
        body = {"app_id": creds.app_id, "app_secret": creds.app_secret}
    else:
        url = dingtalk_api_base + DINGTALK_TOKEN_PATH
        body = {"appKey": creds.app_id, "appSecret": creds.app_secret}
    started = time.perf_counter()
    status: int | None = None
    try:
        async with asyncio.timeout(timeout_s):
            reply = await http.post(
                url, dumps(body), {"Content-Type": "application/json; charset=utf-8"}, allow_private=allow_private
            )
        status = reply.status
        ok, code, error = _token_verdict(app.vendor, reply)
    except UnsafeUrl as exc:
        ok, code, error = False, None, f"unsafe URL: {exc}"
    except TimeoutError:
        ok, code, error = False, None, f"no answer within {timeout_s:g} s"
    except (*TransportError, OSError) as exc:
        ok, code, error = False, None, type(exc).__name__
    latency_ms = int((time.perf_counter() - started) * 1000)
    return {"ok": ok, "http_status": status, "vendor_code": code, "error": error, "latency_ms": latency_ms}


def _token_verdict(vendor: ChatVendor, reply: Reply) -> tuple[bool, str | None, str | None]:
    try:
        data = json.loads(reply.body)
    except ValueError:
        return False, None, reply_summary(reply)
    if not isinstance(data, dict):
        return False, None, reply_summary(reply)
    if vendor == ChatVendor.feishu:
        code = data.get("code")
        if reply.status == 200 and code == 0 and isinstance(data.get("tenant_access_token"), str):
            return True, "0", None
        return False, None if code is None else str(code), vendor_text(data.get("msg") or f"HTTP {reply.status}")
    if reply.status == 200 and isinstance(data.get("accessToken"), str):
        return True, None, None
    code = data.get("code")
    return False, None if code is None else str(code), vendor_text(data.get("message") or f"HTTP {reply.status}")


# ---- inbound events, answered once ---------------------------------------------------------------
async def answer_once(
    session: AsyncSession,
    *,
    vendor: ChatVendor,
    event_id: str,
    chat_app_id: int | None,
    now: datetime,
    handle: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[dict[str, Any], bool]:
    """Handle an event the first time its id is seen, in the caller's transaction, and remember the
    answer; a replay (even one arriving while the first is being handled: it waits for it) gets
    that answer and runs nothing. Returns (answer, first)."""
    event_id = event_id[:200]
    claimed = await session.scalar(
        pg_insert(ChatEvent)
        .values(vendor=vendor, event_id=event_id, chat_app_id=chat_app_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["vendor", "event_id"])
        .returning(ChatEvent.id)
    )
    if claimed is None:
        stored = await session.scalar(
            select(ChatEvent.response).where(ChatEvent.vendor == vendor, ChatEvent.event_id == event_id)
        )
        return dict(stored or {}), False
    answer = await handle()
    await session.execute(update(ChatEvent).where(ChatEvent.id == claimed).values(response=answer))
    return answer, True


async def prune_events(session: AsyncSession, *, now: datetime, keep: timedelta) -> int:
    """Forget events received longer ago than `keep` (the vendors stop redelivering within hours)."""
    result = await session.execute(delete(ChatEvent).where(ChatEvent.received_at < now - keep))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
