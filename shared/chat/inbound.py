"""What a verified chat callback does: the vendor's request → a `ChatAction` → `perform` → the
answer in the vendor's format, once per event id (a replay gets the first answer).

Each runs in the caller's one short transaction: `perform` only writes rows (notifications go
through the outbox), so Feishu gets its answer well within its 3 seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.chat import apps, dingtalk, feishu
from shared.chat.actions import ChatAction, CommandError, Source, parse_command, perform
from shared.chat.models import ChatApp, ChatVendor
from shared.clock import Clock
from shared.crypto import SecretDecryptionError
from shared.errors import Unauthorized
from shared.notify.adapters.base import dumps
from shared.notify.http import Sender, TransportError
from shared.notify.ssrf import UnsafeUrl
from shared.pages.links import PageLinks
from shared.redact import mask_urls

log = logging.getLogger(__name__)
STALE_BUTTON = "这个按钮已失效，请在 Closeloop 中处理 / This button is no longer valid"
NOT_A_MESSAGE = "没有读懂这条消息 / Could not read this message"


def _secrets(app: ChatApp) -> apps.AppSecrets:
    try:
        return apps.secrets_of(app)
    except SecretDecryptionError:  # nothing to verify with: refuse, as for a forgery
        log.error("chat app %s: its secrets do not decrypt with the configured keys", app.id)
        raise Unauthorized("this app's secrets cannot be read: check CLOSELOOP_SECRET_KEY") from None


async def feishu_event(
    session: AsyncSession,
    clock: Clock,
    app: ChatApp,
    *,
    headers: Mapping[str, str],
    raw: bytes,
    links: PageLinks | None = None,
) -> dict[str, Any]:
    """Answer a Feishu event or card callback (`Unauthorized` before anything else if it is not
    the app's): the URL challenge, a card action (toast + the card updated in place, with
    its link to the item through `links`), or `{}`."""
    secrets = _secrets(app)
    keys = feishu.AppKeys(verification_token=secrets.verification_token or "", encrypt_key=secrets.encrypt_key)
    if not keys.verification_token:
        raise Unauthorized("this app has no verification token")
    event = feishu.verify(keys, headers, raw)
    if feishu.is_challenge(event):
        return {"challenge": str(event.get("challenge", ""))}
    event_id = feishu.event_id(event)
    if feishu.event_type(event) != "card.action.trigger" or event_id is None:
        return {}  # an event this app does not act on: acknowledged, nothing done

    async def handle() -> dict[str, Any]:
        try:
            click = feishu.card_click(event)
            action = ChatAction.from_value(
                click.value, source=Source.feishu, chat_user_id=click.open_id, reason=click.reason, event_id=event_id
            )
        except ValueError:
            return feishu.error_answer(STALE_BUTTON)
        return feishu.callback_answer(await perform(session, clock, action, links=links))

    answer, _ = await apps.answer_once(
        session, vendor=ChatVendor.feishu, event_id=event_id, chat_app_id=app.id, now=clock.now(), handle=handle
    )
    return answer


@dataclass(frozen=True)
class DingTalkAnswer:
    body: dict[str, Any]  # the HTTP response: DingTalk shows it in the group
    session_webhook: str | None  # post `body` here too (first delivery only, after the commit)


async def dingtalk_message(
    session: AsyncSession, clock: Clock, app: ChatApp, *, headers: Mapping[str, str], raw: bytes, api_base: str
) -> DingTalkAnswer:
    """Answer what someone said to the robot: the command done (or why not), @-mentioning them."""
    secrets = _secrets(app)
    dingtalk.verify(secrets.app_secret, headers, now=clock.now())
    try:
        said = dingtalk.said(raw)
    except ValueError:
        return DingTalkAnswer({"msgtype": "text", "text": {"content": NOT_A_MESSAGE}}, None)

    async def handle() -> dict[str, Any]:
        try:
            command = parse_command(said.text)
        except CommandError as exc:
            return dingtalk.reply(str(exc), sender_id=said.sender_id)
        action = command.action(source=Source.dingtalk, chat_user_id=said.sender_id, event_id=said.msg_id)
        outcome = await perform(session, clock, action)
        return dingtalk.reply(outcome.message, sender_id=said.sender_id)

    body, first = await apps.answer_once(
        session, vendor=ChatVendor.dingtalk, event_id=said.msg_id, chat_app_id=app.id, now=clock.now(), handle=handle
    )
    webhook = said.session_webhook if first else None
    if webhook is not None and not dingtalk.session_webhook_allowed(webhook, api_base=api_base):
        log.warning("chat app %s: sessionWebhook %s is not DingTalk's: not answered there", app.id, mask_urls(webhook))
        webhook = None
    return DingTalkAnswer(body, webhook)


async def post_to_session(
    http: Sender, url: str, body: dict[str, Any], *, allow_private: bool, timeout_s: float
) -> bool:
    """Say the answer in the group through its sessionWebhook (SSRF-guarded); False if it did not
    arrive (the HTTP response carries the same answer)."""
    try:
        async with asyncio.timeout(timeout_s):
            reply = await http.post(
                url, dumps(body), {"Content-Type": "application/json; charset=utf-8"}, allow_private=allow_private
            )
    except (UnsafeUrl, TimeoutError, *TransportError, OSError) as exc:
        log.warning("answering through the sessionWebhook failed: %s", type(exc).__name__)
        return False
    return reply.status == 200
