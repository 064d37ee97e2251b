"""Chat apps (managers) and the callbacks their vendors make: Feishu events and card actions,
DingTalk outgoing-robot messages. The callbacks carry no bearer token: each is verified the
vendor's way (shared/chat/feishu.py, shared/chat/dingtalk.py) before anything in it is used."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ArchivedQ, CursorQ, LimitQ, PageOut, reject_nulls
from services.api.deps import ClockDep, ManagerDep, NowDep, SessionDep, SettingsDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND, PROBLEM_MEDIA_TYPE, Problem
from services.api.routing import Router
from shared import crud
from shared.access.policy import require_manages
from shared.archive import archived_filter
from shared.chat import apps, inbound
from shared.chat.models import ChatApp, ChatVendor
from shared.chat.schemas import ChatAppCreate, ChatAppRead, ChatAppTestRead, ChatAppUpdate
from shared.db import unit_of_work
from shared.notify.http import Sender
from shared.pages.links import page_links
from shared.pagination import paginate
from shared.settings import Settings

router = Router(prefix="/api/v1")
api = APIRouter(responses=ERROR_RESPONSES, tags=["chat apps"])  # bearer-authenticated
callbacks = APIRouter(tags=["chat callbacks"])  # signed by the vendor, no bearer token
_APP = versions.row(ChatApp, id="app_id")  # where its version (ETag) is
CALLBACK_TIMEOUT_S = 2.0  # DingTalk's sessionWebhook answer; the HTTP response carries it anyway


def _out(app: ChatApp, settings: Settings) -> ChatAppRead:
    return ChatAppRead(
        id=app.id,
        name=app.name,
        vendor=app.vendor,
        app_id=app.app_id,
        has_verification_token=app.verification_token_encrypted is not None,
        has_encrypt_key=app.encrypt_key_encrypted is not None,
        department_id=app.department_id,
        enabled=app.enabled,
        callback_url=settings.public_url + apps.callback_path(app),
        created_at=app.created_at,
        updated_at=app.updated_at,
        archived_at=app.archived_at,
        archived_by=app.archived_by,
    )


@api.post(
    "/chat-apps",
    status_code=status.HTTP_201_CREATED,
    response_model=ChatAppRead,
    operation_id="createChatApp",
    responses=CONFLICT,
)
async def create_chat_app(
    body: ChatAppCreate, session: SessionDep, actor: ManagerDep, settings: SettingsDep
) -> ChatAppRead:
    """Add a Feishu app or DingTalk robot that people act through (managers; a department's app:
    its manager). The secret, verification token and encrypt key are write-only."""
    return _out(await apps.create_app(session, actor=actor, data=body), settings)


@api.get("/chat-apps", response_model=PageOut[ChatAppRead], operation_id="listChatApps")
async def list_chat_apps(
    session: SessionDep,
    actor: ManagerDep,
    settings: SettingsDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    vendor: ChatVendor | None = None,
    archived: ArchivedQ = False,
) -> dict[str, Any]:
    """List chat apps (managers)."""
    stmt = archived_filter(select(ChatApp), ChatApp, archived)
    if vendor is not None:
        stmt = stmt.where(ChatApp.vendor == vendor)
    page = await paginate(session, stmt, ChatApp.id, limit=limit, cursor=cursor)
    return {"items": [_out(a, settings) for a in page.items], "next_cursor": page.next_cursor}


@api.get(
    "/chat-apps/{app_id}",
    dependencies=[versions.reads(_APP)],
    response_model=ChatAppRead,
    operation_id="getChatApp",
    responses=NOT_FOUND,
)
async def get_chat_app(app_id: int, session: SessionDep, actor: ManagerDep, settings: SettingsDep) -> ChatAppRead:
    """One chat app (managers), with the callback URL to paste into the vendor's console."""
    return _out(await crud.get_or_404(session, ChatApp, app_id), settings)


@api.patch(
    "/chat-apps/{app_id}",
    dependencies=[versions.writes(_APP)],
    response_model=ChatAppRead,
    operation_id="updateChatApp",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_chat_app(
    app_id: int, body: ChatAppUpdate, session: SessionDep, actor: ManagerDep, settings: SettingsDep
) -> ChatAppRead:
    """Change a chat app (managers of its department); `encrypt_key: null` removes the key."""
    reject_nulls(body.model_dump(exclude_unset=True), ("name", "app_id", "app_secret", "verification_token", "enabled"))
    return _out(await apps.update_app(session, actor=actor, app_id=app_id, changes=body), settings)


@api.delete(
    "/chat-apps/{app_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteChatApp", responses=NOT_FOUND
)
async def delete_chat_app(app_id: int, session: SessionDep, actor: ManagerDep, now: NowDep) -> None:
    """An app nothing used is deleted; one that sent through a channel or received a callback is
    archived and disabled (its callbacks then answer 404), audited as `archive`."""
    await apps.remove_app(session, actor=actor, app_id=app_id, now=now)


@api.post("/chat-apps/{app_id}/test", response_model=ChatAppTestRead, operation_id="testChatApp", responses=NOT_FOUND)
async def test_chat_app(app_id: int, session: SessionDep, actor: ManagerDep, settings: SettingsDep) -> ChatAppTestRead:
    """Ask the vendor for an access token with the stored credentials (Feishu: a
    tenant_access_token; DingTalk: an app access token) and say what it answered."""
    app = await crud.get_or_404(session, ChatApp, app_id)
    require_manages(actor, department_id=app.department_id, what="test its chat app")
    async with Sender() as http:
        result = await apps.test_app(
            app,
            http=http,
            feishu_api_base=settings.feishu_api_base,
            dingtalk_api_base=settings.dingtalk_api_base,
            allow_private=settings.allow_private_webhooks,
            timeout_s=settings.delivery_timeout_s,
        )
    return ChatAppTestRead.model_validate(result)


_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {
        "model": Problem,
        "description": "Not signed, encrypted or tokened as the app's vendor does: nothing was done",
        "content": {PROBLEM_MEDIA_TYPE: {}},
    },
    404: {"model": Problem, "description": "No enabled chat app of this vendor", "content": {PROBLEM_MEDIA_TYPE: {}}},
}
_JSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


@callbacks.post(
    "/chat/feishu/{chat_app_id}/events",
    operation_id="receiveFeishuEvent",
    summary="Feishu events and card callbacks (signed by Feishu)",
    responses=_UNAUTHORIZED,
    openapi_extra=_JSON_BODY,
)
async def receive_feishu_event(
    chat_app_id: int, request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> dict[str, Any]:
    """The app's *Event* and *Callback* request URL. Verified before anything is read: the body
    decrypted with the encrypt key (AES-256-CBC), `X-Lark-Signature` checked, the verification token
    compared. Answers the `url_verification` challenge; a card button (`card.action.trigger`) is
    acted on once per event id (a redelivery gets the same answer) and answered with a toast and
    the card updated in place."""
    app = await apps.app_for_callback(session, chat_app_id, vendor=ChatVendor.feishu)
    headers = {k.lower(): v for k, v in request.headers.items()}
    raw = await request.body()
    links = page_links(settings)
    return await inbound.feishu_event(session, clock, app, headers=headers, raw=raw, links=links)


@callbacks.post(
    "/chat/dingtalk/{chat_app_id}/messages",
    operation_id="receiveDingtalkMessage",
    summary="DingTalk outgoing robot messages (signed by DingTalk)",
    responses=_UNAUTHORIZED,
    openapi_extra=_JSON_BODY,
)
async def receive_dingtalk_message(
    chat_app_id: int, request: Request, clock: ClockDep, settings: SettingsDep
) -> dict[str, Any]:
    """The robot's *message receiving address*: `timestamp` + `sign` headers checked (HMAC-SHA256
    with the app secret, within an hour), the command after the @-mention done as the sender
    (`完成 T123`, `认领 T123` …) once per msgId, and the answer said in the group, @-mentioning them
    (through the message's sessionWebhook, and as this response)."""
    raw = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    # Its own transaction, so the group hears the answer only once it is committed.
    async with unit_of_work(request.app.state.sessions) as session:
        app = await apps.app_for_callback(session, chat_app_id, vendor=ChatVendor.dingtalk)
        answer = await inbound.dingtalk_message(
            session, clock, app, headers=headers, raw=raw, api_base=settings.dingtalk_api_base
        )
    if answer.session_webhook is not None:
        async with Sender() as http:
            await inbound.post_to_session(
                http,
                answer.session_webhook,
                answer.body,
                allow_private=settings.allow_private_webhooks,
                timeout_s=CALLBACK_TIMEOUT_S,
            )
    return answer.body


router.include_router(api)
router.include_router(callbacks)
