"""Feishu app channel (`feishu_app`): cards sent through the app's messages API, whose buttons call
Closeloop back — a custom bot's webhook cards cannot (their buttons only open links).

One send is two requests: a tenant_access_token (kept per app until shortly before it expires, and
fetched again once when the API says it is invalid), then
`POST /open-apis/im/v1/messages?receive_id_type=chat_id` with the card. Like the bots, the app API
answers a refusal with a non-zero `code` (often with HTTP 400): the code is the verdict.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

# Read at call time only: shared.chat.feishu imports the adapters' base, so either may load first.
from shared.chat import feishu as wire
from shared.chat.actions import Button, buttons_for
from shared.models import AttemptOutcome
from shared.notify.adapters import feishu as bot
from shared.notify.adapters.base import (
    Adapter,
    Classified,
    Envelope,
    Prepared,
    Target,
    classify_http,
    fit,
    reply_summary,
    vendor_text,
)
from shared.notify.http import Reply, Sender
from shared.notify.render import Message

log = logging.getLogger(__name__)
# The app API's answers that mean "this tenant_access_token is no good": fetch a new one, once.
TOKEN_ERRORS = {99991661, 99991663, 99991664, 99991668}
# Rate limited (the API's own and the per-chat limit): try again later.
RETRYABLE: dict[int, float | None] = {99991400: None, 230020: None, 11232: None}
# The app's credentials, scopes or membership, or a message Feishu will never take.
PERMANENT = {
    10003,  # invalid app_id
    10014,  # app secret invalid
    *TOKEN_ERRORS,  # still refused with a token fetched just now
    99991401,  # IP not allowed
    99991672,  # the app lacks the im:message scope
    230001,  # invalid message (card JSON)
    230002,  # the bot is not in the group
    230006,  # the app's bot ability is off
    230013,  # no permission to the chat
    230025,  # message too long
}
MESSAGE_CODES = {230001, 230025}  # about one message, not the channel


def locale_of(envelope: Envelope) -> str | None:
    data = envelope.data
    return data.get("locale") or (data.get("assignee") or {}).get("locale")


def card_buttons(event_type: str, payload: dict[str, Any], message: Message, *, locale: str | None) -> list[Button]:
    """The buttons `shared.chat.actions` gives the event, or the item's link alone when it has none
    for it (or fails: a card that can only open the item still beats no alert)."""
    try:
        buttons = buttons_for(event_type, payload, locale=locale)
    except NotImplementedError:
        buttons = []
    except Exception:
        log.exception("buttons for %s failed: sending the card with its link only", event_type)
        buttons = []
    if not buttons and message.url:
        buttons = [Button(label=message.url_label or message.url, url=message.url, style="primary")]
    return buttons


def card(target: Target, message: Message, buttons: list[Button], *, locale: str | None) -> dict[str, Any]:
    """The custom bot's card (header, inert fields and body, mentions), with these buttons instead of
    its link."""
    base = bot.card(target, message)
    div = base["elements"][0]
    elements = [div, *wire.button_elements(buttons, locale=locale)]
    return {**base, "config": {"wide_screen_mode": True, "update_multi": True}, "elements": elements}


def prepare(target: Target, message: Message, envelope: Envelope, now: datetime) -> Prepared:
    locale = locale_of(envelope)
    buttons = card_buttons(envelope.event_type, envelope.data, message, locale=locale)
    body = wire.message_body(target.chat_id or "", card(target, message, buttons, locale=locale))
    return Prepared(url=target.url, body=body, headers={"Content-Type": "application/json; charset=utf-8"})


def api_base(messages_url: str) -> str:
    parts = urlsplit(messages_url)
    return f"{parts.scheme}://{parts.netloc}"


async def send(
    client: Sender, target: Target, message: Message, envelope: Envelope, now: datetime, allow_private: bool
) -> Reply:
    """Token, then the card; once more with a new token if Feishu says the token is no good."""
    prepared = fit(ADAPTER, target, message, envelope, now)
    creds = {"api_base": api_base(target.url), "app_id": target.app_id or "", "app_secret": target.secret or ""}
    reply: Reply | None = None
    for fresh in (False, True):
        try:
            token = await wire.TOKENS.get(client, **creds, now=now, allow_private=allow_private, fresh=fresh)
        except wire.AppApiError as exc:
            return exc.reply  # classified like any answer: the app's credentials are refused
        headers = {**prepared.headers, "Authorization": f"Bearer {token}"}
        reply = await client.post(prepared.url, prepared.body, headers, allow_private=allow_private)
        code, _ = wire.answer_code(reply)
        if code not in TOKEN_ERRORS:
            return reply
        wire.TOKENS.forget(**creds)
    assert reply is not None
    return reply


def classify(reply: Reply) -> Classified:
    code, data = wire.answer_code(reply)
    if code is None:
        verdict = classify_http(reply.status)
        return verdict or Classified(AttemptOutcome.retryable, error=reply_summary(reply))
    if code == 0 and reply.status == 200:
        return Classified(AttemptOutcome.success, vendor_code="0")
    message = vendor_text(data.get("msg"))
    if code in PERMANENT:
        return Classified(AttemptOutcome.permanent, str(code), message)
    if code in RETRYABLE or reply.status == 429 or reply.status >= 500:
        return Classified(AttemptOutcome.retryable, str(code), message, RETRYABLE.get(code))
    return Classified(AttemptOutcome.retryable, str(code), message)  # unknown: retry (bounded)


ADAPTER = Adapter(prepare=prepare, classify=classify, send=send)
