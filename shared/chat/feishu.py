"""Feishu / Lark apps, the vendor's wire: verifying and decrypting what the open platform sends
(event subscriptions and card callbacks), the cards Closeloop sends through the app API, and what a
card callback answers.

Inbound, in this order, before anything else is read:
- an encrypted body `{"encrypt": "<base64>"}` is opened with AES-256-CBC, the key being SHA-256 of
  the app's encrypt key and the IV the first 16 bytes of the decoded data, PKCS#7 padding;
- with an encrypt key set, `X-Lark-Signature` must equal
  `sha256_hex(X-Lark-Request-Timestamp + X-Lark-Request-Nonce + encrypt_key + raw body)` — except the
  console's `url_verification` challenge, which Feishu sends unsigned (it must still decrypt and
  carry the token, so only the key's holder can pass it);
- the verification token (`header.token` in schema 2.0, `token` in the challenge) must match.

Cards are Feishu card JSON **1.0** (`config` / `header` / `elements`): the same shape as the custom
bot's cards (`shared.notify.adapters.feishu`), whose buttons carry their `value` as is; a button that
needs a reason sits in a `form` with an `input`, submitted by that button (`action_type:
form_submit`), so the callback brings `action.form_value` with the text typed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shared.chat.actions import Button, CardView, Outcome
from shared.errors import Unauthorized
from shared.notify.adapters.base import dumps, inert
from shared.notify.http import Reply, Sender

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
HEADER_TEMPLATE = {"critical": "red", "warning": "orange", "info": "blue"}
BUTTON_TYPES = {"default", "primary", "danger"}
TOKEN_MARGIN = timedelta(minutes=5)  # a token is renewed this long before Feishu says it expires
REASON_PLACEHOLDER = {"zh-CN": "填写理由", "en-US": "Reason"}


@dataclass(frozen=True)
class AppKeys:
    """What verifying a callback needs (decrypted from the chat app's row)."""

    verification_token: str
    encrypt_key: str | None


# ---- inbound -------------------------------------------------------------------------------------
def decrypt(encrypt_key: str, data: str) -> bytes:
    """Open `{"encrypt": data}`; ValueError if it is not what the key sealed."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("encrypt is not base64") from None
    if len(raw) < 32 or len(raw) % 16:
        raise ValueError("encrypt is not AES-CBC data")
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()  # ValueError on bad padding: the wrong key


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """`X-Lark-Signature`: hex SHA-256 of timestamp + nonce + encrypt key + the raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:  # UnicodeDecodeError too
        raise Unauthorized("the body is not a JSON object") from None
    if not isinstance(data, dict):
        raise Unauthorized("the body is not a JSON object")
    return data


def is_challenge(event: Mapping[str, Any]) -> bool:
    return event.get("type") == "url_verification"


def verify(keys: AppKeys, headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    """The event a request carries, once it is proven to come from the app's Feishu tenant;
    `Unauthorized` otherwise (nothing of it is used)."""
    outer = _json_object(raw)
    event = outer
    if "encrypt" in outer:
        if not keys.encrypt_key or not isinstance(outer["encrypt"], str):
            raise Unauthorized("an encrypted body, and no encrypt key set for this app")
        try:
            event = _json_object(decrypt(keys.encrypt_key, outer["encrypt"]))
        except ValueError:
            raise Unauthorized("the body does not decrypt with this app's encrypt key") from None
    elif keys.encrypt_key:
        raise Unauthorized("this app has an encrypt key: Feishu sends its events encrypted")
    if keys.encrypt_key and not is_challenge(event):
        timestamp = headers.get("x-lark-request-timestamp", "")
        nonce = headers.get("x-lark-request-nonce", "")
        expected = signature(timestamp, nonce, keys.encrypt_key, raw)
        if not hmac.compare_digest(headers.get("x-lark-signature", "").encode(), expected.encode()):
            raise Unauthorized("X-Lark-Signature does not match")
    header = event.get("header")
    token = header.get("token") if isinstance(header, dict) else event.get("token")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), keys.verification_token.encode()):
        raise Unauthorized("the verification token does not match")
    return event


def event_id(event: Mapping[str, Any]) -> str | None:
    """The id a redelivery repeats: `header.event_id` (schema 2.0), else the callback's token."""
    header = event.get("header")
    if isinstance(header, dict) and isinstance(header.get("event_id"), str):
        return str(header["event_id"])
    inner = event.get("event")
    token = inner.get("token") if isinstance(inner, dict) else event.get("token")
    return token if isinstance(token, str) else None


def event_type(event: Mapping[str, Any]) -> str | None:
    header = event.get("header")
    return header.get("event_type") if isinstance(header, dict) else event.get("type")


@dataclass(frozen=True)
class CardClick:
    """A button pressed on a card (`card.action.trigger`)."""

    open_id: str
    value: dict[str, Any]
    reason: str | None
    message_id: str | None


def card_click(event: Mapping[str, Any]) -> CardClick:
    """The click a verified `card.action.trigger` (schema 2.0) reports; ValueError if it is not one."""
    inner = event.get("event")
    if not isinstance(inner, dict):
        raise ValueError("no event")
    operator, action, context = (inner.get(k) or {} for k in ("operator", "action", "context"))
    if not isinstance(operator, dict) or not isinstance(action, dict) or not isinstance(context, dict):
        raise ValueError("not a card action")
    open_id, value = operator.get("open_id"), action.get("value")
    if isinstance(value, str):  # a value set as a JSON string comes back as one
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("the button's value is not JSON") from None
    if not isinstance(open_id, str) or not open_id or not isinstance(value, dict):
        raise ValueError("a card action names its operator and the button's value")
    reason = action.get("input_value")
    form = action.get("form_value")
    if not (isinstance(reason, str) and reason.strip()) and isinstance(form, dict):
        reason = next((v for v in form.values() if isinstance(v, str) and v.strip()), None)
    message_id = context.get("open_message_id")
    return CardClick(
        open_id=open_id,
        value=value,
        reason=reason.strip() if isinstance(reason, str) and reason.strip() else None,
        message_id=message_id if isinstance(message_id, str) else None,
    )


# ---- cards ---------------------------------------------------------------------------------------
def _text(content: str) -> dict[str, str]:
    return {"tag": "plain_text", "content": content}


def _button(button: Button, *, submit: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tag": "button",
        "text": _text(button.label),
        "type": button.style if button.style in BUTTON_TYPES else "default",
    }
    if button.url is not None and button.verb is None:
        out["url"] = button.url
    else:
        out["value"] = dict(button.value)
    if submit is not None:
        out |= {"action_type": "form_submit", "name": submit}
    return out


def button_elements(buttons: list[Button], *, locale: str | None) -> list[dict[str, Any]]:
    """The card elements for these buttons: one row of plain buttons, then one form per button
    that needs a reason (an input and the button that submits it)."""
    placeholder = REASON_PLACEHOLDER.get(locale or "", REASON_PLACEHOLDER["zh-CN"])
    plain = [_button(b) for b in buttons if not b.needs_reason]
    elements: list[dict[str, Any]] = [{"tag": "action", "actions": plain}] if plain else []
    for i, button in enumerate(b for b in buttons if b.needs_reason):
        elements.append(
            {
                "tag": "form",
                "name": f"form_{i}",
                "elements": [
                    {"tag": "input", "name": f"reason_{i}", "placeholder": _text(f"{button.label}：{placeholder}")},
                    _button(button, submit=f"submit_{i}"),
                ],
            }
        )
    return elements


def card(
    *, title: str, severity: str, markdown: str, buttons: list[Button], locale: str | None = None
) -> dict[str, Any]:
    """A card: `title` shown as typed, `markdown` already inert where it holds user text."""
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": markdown}}]
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},  # the update is seen by the whole group
        "header": {"template": HEADER_TEMPLATE.get(severity, "blue"), "title": _text(title)},
        "elements": elements + button_elements(buttons, locale=locale),
    }


def view_card(view: CardView, *, locale: str | None = None) -> dict[str, Any]:
    """A card after an action, as the callback's answer replaces it in place."""
    markdown = "\n".join(inert(line) for line in view.lines)
    return card(title=view.title, severity=view.severity, markdown=markdown, buttons=view.buttons, locale=locale)


def callback_answer(outcome: Outcome, *, locale: str | None = None) -> dict[str, Any]:
    """What a card callback answers: a toast saying what happened, and the card updated in place."""
    kind = "success" if outcome.ok else "info" if outcome.stale else "error"
    answer: dict[str, Any] = {"toast": {"type": kind, "content": outcome.message}}
    if outcome.card is not None:
        answer["card"] = {"type": "raw", "data": view_card(outcome.card, locale=locale)}
    return answer


def error_answer(message: str) -> dict[str, Any]:
    return {"toast": {"type": "error", "content": message}}


# ---- the app API ---------------------------------------------------------------------------------
class AppApiError(Exception):
    """The app API refused (its `code`, `msg`), or did not answer JSON."""

    def __init__(self, reply: Reply, code: int | None, message: str) -> None:
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.reply, self.code, self.message = reply, code, message


def answer_code(reply: Reply) -> tuple[int | None, dict[str, Any]]:
    """The `code` of an app API answer (None: not JSON, or no code)."""
    try:
        data = json.loads(reply.body)
        return int(data["code"]), data
    except (ValueError, TypeError, KeyError):
        return None, {}


@dataclass
class _Token:
    value: str
    renew_at: datetime


class TenantTokens:
    """tenant_access_token per app, kept until shortly before it expires (Feishu: 2 hours) and
    fetched again when the API says it is invalid."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], _Token] = {}

    @staticmethod
    def _key(api_base: str, app_id: str, app_secret: str) -> tuple[str, str, str]:
        return api_base, app_id, hashlib.sha256(app_secret.encode()).hexdigest()[:16]

    async def get(
        self,
        http: Sender,
        *,
        api_base: str,
        app_id: str,
        app_secret: str,
        now: datetime,
        allow_private: bool,
        fresh: bool = False,
    ) -> str:
        key = self._key(api_base, app_id, app_secret)
        cached = self._tokens.get(key)
        if cached is not None and not fresh and now < cached.renew_at:
            return cached.value
        reply = await http.post(
            api_base + TOKEN_PATH,
            dumps({"app_id": app_id, "app_secret": app_secret}),
            {"Content-Type": "application/json; charset=utf-8"},
            allow_private=allow_private,
        )
        code, data = answer_code(reply)
        token = data.get("tenant_access_token")
        if reply.status != 200 or code != 0 or not isinstance(token, str):
            raise AppApiError(reply, code, str(data.get("msg") or f"HTTP {reply.status}"))
        expire = data.get("expire")
        lifetime = timedelta(seconds=expire if isinstance(expire, int) and expire > 0 else 7200)
        self._tokens[key] = _Token(token, now + max(lifetime - TOKEN_MARGIN, lifetime / 2))
        return token

    def forget(self, *, api_base: str, app_id: str, app_secret: str) -> None:
        self._tokens.pop(self._key(api_base, app_id, app_secret), None)

    def clear(self) -> None:
        self._tokens.clear()


TOKENS = TenantTokens()  # one per process: the notifier's sends share it


def message_body(chat_id: str, card_json: dict[str, Any]) -> bytes:
    """`POST /open-apis/im/v1/messages?receive_id_type=chat_id`: the card as a JSON string in `content`."""
    return dumps(
        {"receive_id": chat_id, "msg_type": "interactive", "content": json.dumps(card_json, ensure_ascii=False)}
    )
