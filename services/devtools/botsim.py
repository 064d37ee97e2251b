"""Botsim: a local stand-in for the chat bots and webhook receivers Closeloop delivers to.

It plays Feishu/Lark custom bots, DingTalk custom robots, WeCom group robots and a generic
Standard Webhooks receiver over real HTTP, with the vendors' documented wire behaviour
(digested in docs/webhooks.md): signatures and how far their timestamps may drift, keyword
security, size and rate limits, and the vendors' habit of refusing a message with HTTP 200 and
an error code in the body. Faults — HTTP 500s, dropped connections, slow answers — can be
injected per bot. The test suite delivers to it instead of mocking HTTP, and
`closeloop dev botsim` runs it so channels can be tried by hand.

The checks are written here from the vendor documentation, never imported from
`shared.notify.adapters`: a signing bug in Closeloop must be refused here as a vendor would.

Bots are named by their token in the URL:

    Feishu    POST /open-apis/bot/v2/hook/<name>
    DingTalk  POST /robot/send?access_token=<name>[&timestamp=<ms>&sign=<base64>]
    WeCom     POST /cgi-bin/webhook/send?key=<name>
    generic   POST /hooks/<name>   (headers webhook-id, webhook-timestamp, webhook-signature "v1,<b64>")

A bot is configured with its `kind` (feishu, dingtalk, wecom or generic) and optionally `secret`,
`keywords`, `per_second`, `per_minute` and `throttle_s`, either from a JSON file given at start
(`{"bots": {"<name>": {...}}, "window_scale": 1.0}`) or at run time through the control API:

    GET  /_sim/health                  {"ok": true} once listening
    GET  /_sim/messages[?bot=<name>]   accepted messages in arrival order: {"at", "body", ...}
    GET  /_sim/stats                   per bot: accepted, rejected by code, faults served, duplicates
    POST /_sim/bots    {"<name>": {...}}                   add or replace bots
    POST /_sim/faults  {"bot": "<name>", "http_500": 0.3, "html_page": 0.1, "drop_rate": 0.1,
                        "delay_rate": 0.0, "delay_s": 0.0, "seed": 1}
    POST /_sim/reset                   forget messages, stats, rate windows and faults (bots stay)

What each vendor checks (a message is accepted only when the vendor would show it in the group):

- Feishu: body <= 20 KB and a JSON object with `msg_type`, else 9499; with a secret,
  `sign = base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b""))` and `timestamp` in seconds at the
  top level of the body, within an hour of now, else 19021; a keyword in some text/title/content
  value, else 19024; over `per_second` or `per_minute` (the vendor's are 5 and 100), 11232.
  Every answer is HTTP 200 with `{"code": N, "msg": ...}`.
- DingTalk: a throttled robot answers 130101; body <= 20000 bytes else 460101; `msgtype`
  present else 400402; with a secret, `sign = base64(HMAC-SHA256(key=secret, msg=f"{ts_ms}\\n{secret}"))`
  in the query, ts in milliseconds within an hour, else 310000; a keyword, else 310000; over
  `per_minute` answers 130101 and throttles the robot for `throttle_s` (default 600 s). HTTP 200
  with `{"errcode", "errmsg"}`.
- WeCom: `msgtype` present else 40008; text content <= 2048 bytes and markdown content
  <= 4096 bytes, else 40058; over the rate limit 45009. HTTP 200 with `{"errcode", "errmsg"}`.
- generic (Standard Webhooks): HMAC-SHA256 over f"{id}.{timestamp}.{body}" keyed with the
  base64-decoded secret after `whsec_`, timestamp within 5 minutes, else HTTP 401; a body that
  is not JSON is HTTP 400; success is HTTP 204. A replayed webhook-id is accepted and flagged
  `duplicate`, as receivers dedupe on it.
- An unknown token: Feishu 19001, DingTalk 300005, WeCom 93000, generic HTTP 404.

It also plays the callback side of chat apps (the section "the callback side" below): the Feishu
app API (tokens, cards sent to groups, cards patched), a person clicking a card's button — the
encrypted, signed `card.action.trigger` sent to Closeloop, the answered card applied in place — and
a person @-mentioning a DingTalk outgoing robot, whose answer comes back through a sessionWebhook.

`window_scale` shrinks every rate window and throttle (0.05: a minute lasts 3 s) so limit tests
take seconds; Closeloop's `rate_window_scale` setting must match it.

The server is the standard library's threading `http.server` on purpose: every answer closes
its connection (HTTP/1.0), the listen backlog is small (5), a dropped connection is a real
socket shutdown and a delay blocks only its own request — the conditions the notifier's retry
and connection handling are tested under.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import html
import json
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

FEISHU_MAX_BODY = 20 * 1024
DINGTALK_MAX_BODY = 20000
WECOM_MAX_TEXT = 2048
WECOM_MAX_MARKDOWN = 4096
VENDOR_CLOCK_SKEW_S = 3600  # Feishu and DingTalk: a signature's timestamp within an hour of now
WEBHOOK_CLOCK_SKEW_S = 300  # Standard Webhooks: five minutes
WHSEC_PREFIX = "whsec_"


class ConfigError(ValueError):
    """A bot or fault configuration the simulator cannot use; the message names the field."""


class Kind(StrEnum):
    feishu = "feishu"
    dingtalk = "dingtalk"
    wecom = "wecom"
    generic = "generic"  # a Standard Webhooks receiver (Closeloop's `webhook` channel kind)


@dataclass(frozen=True)
class Bot:
    kind: Kind
    secret: str = ""
    keywords: tuple[str, ...] = ()
    per_second: int | None = None
    per_minute: int | None = None
    throttle_s: float = 600.0  # DingTalk: how long a robot stays throttled after exceeding its limit

    @classmethod
    def from_json(cls, name: str, data: object) -> Bot:
        if not isinstance(data, Mapping):
            raise ConfigError(f"bot {name!r}: expected an object")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"bot {name!r}: unknown field(s) {', '.join(unknown)}")
        try:
            kind = Kind(str(data.get("kind")))
        except ValueError:
            raise ConfigError(f"bot {name!r}: kind must be one of {', '.join(Kind)}") from None
        secret = data.get("secret") or ""
        keywords = data.get("keywords") or []
        if not isinstance(secret, str):
            raise ConfigError(f"bot {name!r}: secret must be a string")
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ConfigError(f"bot {name!r}: keywords must be a list of strings")
        limits = {key: data.get(key) for key in ("per_second", "per_minute")}
        for key, value in limits.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigError(f"bot {name!r}: {key} must be a non-negative integer")
        throttle_s = data.get("throttle_s", 600.0)
        if isinstance(throttle_s, bool) or not isinstance(throttle_s, int | float) or throttle_s < 0:
            raise ConfigError(f"bot {name!r}: throttle_s must be a non-negative number")
        return cls(
            kind=kind,
            secret=secret,
            keywords=tuple(keywords),
            per_second=limits["per_second"],
            per_minute=limits["per_minute"],
            throttle_s=float(throttle_s),
        )


class Fault(StrEnum):
    drop = "drop"
    http_500 = "http_500"
    html_page = "html_page"  # a gateway's HTML error page with HTTP 200, as proxies and WAFs answer
    delay = "delay"


# What a misbehaving gateway in front of a bot may answer: HTML, and things that must not end up
# in an attempt record any viewer can read (tests look for these strings).
HTML_ERROR_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><h1>upstream error</h1>"
    "<!-- debug: upstream=10.8.0.12:8443 session=sk_live_botsim_DO_NOT_ECHO "
    "Authorization: Bearer eyJbotsim.leak.token --></body></html>"
)


@dataclass
class Faults:
    """Per-bot fault injection, drawn from a seeded generator so a run can be repeated."""

    http_500: float = 0.0
    html_page: float = 0.0
    drop_rate: float = 0.0
    delay_rate: float = 0.0
    delay_s: float = 0.0
    seed: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Faults:
        known = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown fault field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{key} must be a number")
        seed = data.get("seed", 0)
        if not isinstance(seed, int):
            raise ConfigError("seed must be an integer")
        return cls(**{k: float(cast(float, v)) for k, v in data.items() if k != "seed"}, seed=seed)

    def draw(self) -> Fault | None:
        # One roll splits drop / 500 / HTML page / neither; a delay is a second, independent roll.
        roll = self.rng.random()
        if roll < self.drop_rate:
            return Fault.drop
        if roll < self.drop_rate + self.http_500:
            return Fault.http_500
        if roll < self.drop_rate + self.http_500 + self.html_page:
            return Fault.html_page
        if self.rng.random() < self.delay_rate:
            return Fault.delay
        return None


@dataclass
class BotStats:
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "faults": dict(self.faults),
            "duplicates": self.duplicates,
        }


@dataclass(frozen=True)
class Reply:
    status: int
    payload: Any = None  # JSON; None sends an empty body


@dataclass(frozen=True)
class Delivery:
    """One request to a bot URL, as the vendor sees it."""

    raw: bytes
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]


def feishu_sign(secret: str, timestamp: int | str) -> str:
    return _b64_hmac(f"{timestamp}\n{secret}".encode(), b"")


def dingtalk_sign(secret: str, timestamp_ms: int | str) -> str:
    return _b64_hmac(secret.encode(), f"{timestamp_ms}\n{secret}".encode())


def standard_webhooks_sign(secret: str, message_id: str, timestamp: int | str, body: bytes) -> str:
    """The base64 signature (without the `v1,` prefix) a Standard Webhooks sender puts in its header."""
    key = base64.b64decode(secret.removeprefix(WHSEC_PREFIX)) if secret.startswith(WHSEC_PREFIX) else secret.encode()
    return _b64_hmac(key, f"{message_id}.{timestamp}.".encode() + body)


def _b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def _texts(value: object) -> list[str]:
    """Every string under a text/title/content key: where the vendors look for keywords."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("text", "title", "content") and isinstance(item, str):
                out.append(item)
            else:
                out.extend(_texts(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(_texts(item))
    return out


def _has_keyword(bot: Bot, body: object) -> bool:
    if not bot.keywords:
        return True
    joined = "\n".join(_texts(body))
    return any(keyword in joined for keyword in bot.keywords)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        return None
    return body if isinstance(body, dict) else None


def _utf8_len(value: object) -> int:
    return len(value.encode()) if isinstance(value, str) else 0


class Simulator:
    """The bots, what they accepted and refused, and the faults to inject; shared by request threads."""

    def __init__(self, bots: Mapping[str, Bot] | None = None, *, window_scale: float = 1.0) -> None:
        if window_scale <= 0:
            raise ConfigError("window_scale must be positive")
        self.window_scale = window_scale
        self._lock = threading.Lock()
        self._bots: dict[str, Bot] = dict(bots or {})
        self.apps = ChatApps()
        self.reset()

    # ---- control ---------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._messages: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
            self._stats: defaultdict[str, BotStats] = defaultdict(BotStats)
            self._windows: defaultdict[str, deque[float]] = defaultdict(deque)
            self._throttled_until: dict[str, float] = {}
            self._faults: dict[str, Faults] = {}
            self._seen_ids: defaultdict[str, set[str]] = defaultdict(set)
        if hasattr(self, "apps"):  # forget cards, clicks, tokens and answers (apps stay)
            self.apps.reset()

    def add_bots(self, bots: Mapping[str, Bot]) -> list[str]:
        with self._lock:
            self._bots.update(bots)
            return sorted(self._bots)

    def bots(self) -> dict[str, Bot]:
        with self._lock:
            return dict(self._bots)

    def set_faults(self, name: str, faults: Faults) -> bool:
        with self._lock:
            if name not in self._bots:
                return False
            self._faults[name] = faults
            return True

    def messages(self, name: str | None = None) -> Any:
        with self._lock:
            if name is not None:
                return list(self._messages.get(name, []))
            return {bot: list(messages) for bot, messages in self._messages.items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {bot: stats.as_json() for bot, stats in self._stats.items()}

    # ---- delivery --------------------------------------------------------------------------------
    def bot(self, name: str) -> Bot | None:
        with self._lock:
            return self._bots.get(name)

    def draw_fault(self, name: str) -> tuple[Fault | None, float]:
        """The fault to serve this request (if any) and the configured delay."""
        with self._lock:
            faults = self._faults.get(name)
            if faults is None:
                return None, 0.0
            fault = faults.draw()
            if fault is not None:
                self._stats[name].faults[fault.value] += 1
            return fault, faults.delay_s

    def deliver(self, name: str, bot: Bot, request: Delivery) -> Reply:
        now = time.time()
        with self._lock:
            match bot.kind:
                case Kind.feishu:
                    return self._feishu(name, bot, request, now)
                case Kind.dingtalk:
                    return self._dingtalk(name, bot, request, now)
                case Kind.wecom:
                    return self._wecom(name, bot, request, now)
                case Kind.generic:
                    return self._generic(name, bot, request, now)

    # The vendors, each called with the lock held.
    def _feishu(self, name: str, bot: Bot, request: Delivery, now: float) -> Reply:
        def refuse(code: int, msg: str) -> Reply:
            self._stats[name].rejected[str(code)] += 1
            return Reply(200, {"code": code, "msg": msg, "data": {}})

        body = _json_object(request.raw) if len(request.raw) <= FEISHU_MAX_BODY else None
        if body is None or "msg_type" not in body:
            return refuse(9499, "Bad Request")
        if bot.secret:
            timestamp, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
            fresh = timestamp.isdigit() and abs(now - int(timestamp)) <= VENDOR_CLOCK_SKEW_S
            if not (fresh and hmac.compare_digest(feishu_sign(bot.secret, timestamp), sign)):
                return refuse(19021, "sign match fail or timestamp is not within one hour from current time")
        if not _has_keyword(bot, {k: v for k, v in body.items() if k not in ("timestamp", "sign")}):
            return refuse(19024, "Key Words Not Found")
        if not self._within_rate(name, bot, now):
            return refuse(11232, "frequency limited")
        self._accept(name, body, now)
        return Reply(200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})

    def _dingtalk(self, name: str, bot: Bot, request: Delivery, now: float) -> Reply:
        def refuse(code: int, msg: str) -> Reply:
            self._stats[name].rejected[str(code)] += 1
            return Reply(200, {"errcode": code, "errmsg": msg})

        if now < self._throttled_until.get(name, 0.0):
            return refuse(130101, "send too fast, exceed 20 times per minute")
        if len(request.raw) > DINGTALK_MAX_BODY:
            return refuse(460101, "message too long, exceed 20000 bytes")
        body = _json_object(request.raw)
        if body is None or "msgtype" not in body:
            return refuse(400402, "missing parameter msgtype")
        if bot.secret:
            timestamp = request.query.get("timestamp", [""])[0]
            sign = request.query.get("sign", [""])[0]  # the query parser already percent-decoded it once
            fresh = timestamp.isdigit() and abs(now * 1000 - int(timestamp)) <= VENDOR_CLOCK_SKEW_S * 1000
            if not (fresh and hmac.compare_digest(dingtalk_sign(bot.secret, timestamp), sign)):
                return refuse(310000, "sign not match")
        if not _has_keyword(bot, body):
            return refuse(310000, "keywords not in content")
        if not self._within_rate(name, bot, now):
            self._throttled_until[name] = now + bot.throttle_s * self.window_scale
            return refuse(130101, "send too fast, exceed 20 times per minute")
        self._accept(name, body, now)
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    def _wecom(self, name: str, bot: Bot, request: Delivery, now: float) -> Reply:
        def refuse(code: int, msg: str) -> Reply:
            self._stats[name].rejected[str(code)] += 1
            return Reply(200, {"errcode": code, "errmsg": msg})

        body = _json_object(request.raw)
        if body is None or "msgtype" not in body:
            return refuse(40008, "invalid message type")
        msgtype = body["msgtype"]
        part = body.get(msgtype) if isinstance(msgtype, str) else None
        content = part.get("content") if isinstance(part, dict) else None
        if msgtype == "text" and _utf8_len(content) > WECOM_MAX_TEXT:
            return refuse(40058, f"content exceed max length {WECOM_MAX_TEXT}")
        if msgtype == "markdown" and _utf8_len(content) > WECOM_MAX_MARKDOWN:
            return refuse(40058, f"content exceed max length {WECOM_MAX_MARKDOWN}")
        if not self._within_rate(name, bot, now):
            return refuse(45009, "api freq out of limit")
        self._accept(name, body, now)
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    def _generic(self, name: str, bot: Bot, request: Delivery, now: float) -> Reply:
        message_id = request.headers.get("webhook-id", "")
        timestamp = request.headers.get("webhook-timestamp", "")
        signatures = request.headers.get("webhook-signature", "").split()
        valid = bool(message_id) and timestamp.isdigit() and abs(now - int(timestamp)) <= WEBHOOK_CLOCK_SKEW_S
        if valid and bot.secret:
            want = standard_webhooks_sign(bot.secret, message_id, timestamp, request.raw)
            valid = any(s.startswith("v1,") and hmac.compare_digest(s.removeprefix("v1,"), want) for s in signatures)
        if not valid:
            self._stats[name].rejected["401"] += 1
            return Reply(401, {"error": "bad signature"})
        try:
            body = json.loads(request.raw)
        except ValueError:
            self._stats[name].rejected["400"] += 1
            return Reply(400, {"error": "body is not JSON"})
        duplicate = message_id in self._seen_ids[name]
        self._seen_ids[name].add(message_id)
        if duplicate:
            self._stats[name].duplicates += 1
        self._accept(name, body, now, webhook_id=message_id, duplicate=duplicate)
        return Reply(204)

    def _within_rate(self, name: str, bot: Bot, now: float) -> bool:
        """Count this message against the bot's sliding windows, unless one is already full."""
        window = self._windows[name]
        while window and now - window[0] > 60 * self.window_scale:
            window.popleft()
        if bot.per_minute is not None and len(window) >= bot.per_minute:
            return False
        if bot.per_second is not None:
            last_second = sum(1 for sent in window if now - sent <= self.window_scale)
            if last_second >= bot.per_second:
                return False
        window.append(now)
        return True

    def _accept(self, name: str, body: Any, now: float, **extra: Any) -> None:
        self._messages[name].append({"at": now, "body": body, **extra})
        self._stats[name].accepted += 1


# ---- the callback side: chat apps ------------------------------------------------------------------
# A Feishu app and a DingTalk outgoing robot call Closeloop back. Botsim plays the open platform:
#
#   POST  /open-apis/auth/v3/tenant_access_token/internal   {"app_id", "app_secret"} → a token (2 h)
#   POST  /open-apis/im/v1/messages?receive_id_type=chat_id  a card to a group (Bearer token)
#   PATCH /open-apis/im/v1/messages/<message_id>           {"content"}: the card replaced
#   POST  /v1.0/oauth2/accessToken                         DingTalk {"appKey", "appSecret"} → a token
#   POST  /robot/sendBySession?session=<id>                DingTalk: an answer in the group
#
# and the people in the groups, through the control API:
#
#   POST /_sim/apps   {"<app id>": {"vendor": "feishu", "app_secret", "verification_token",
#                      "encrypt_key", "callback_url"}}  (DingTalk: vendor, app_secret, callback_url)
#   GET  /_sim/apps   the apps, and how many Feishu tokens were issued
#   GET  /_sim/feishu/cards[?chat_id=]   each card sent: its current version, the buttons on it
#                                        (label, type, url or value, the form input a reason goes in),
#                                        every version and every click with its answer
#   GET  /_sim/feishu/cards/<id>         one card, as JSON; `.html` renders it (buttons as a list)
#   POST /_sim/feishu/click  {"message_id", "button": <label or index>, "open_id", "input": "text",
#                             "version": n, "forge": false, "replay": false}
#        sends the `card.action.trigger` Feishu would (schema 2.0), encrypted with the app's encrypt
#        key (AES-256-CBC, key SHA-256 of it, random IV first) and signed
#        (X-Lark-Signature = sha256_hex(timestamp + nonce + encrypt_key + body)), to the app's
#        callback URL; a card in the answer ({"card": {"type": "raw", "data": …}}) replaces the
#        message's card, as Feishu updates it in place. `forge` signs with another key (and, without
#        an encrypt key, sends a wrong verification token); `replay` sends the last click on that
#        card again, event id and all, as Feishu redelivers. `version` clicks an older version
#        (someone whose card had not refreshed yet).
#   POST /_sim/feishu/verify {"app": "<app id>"}  the console's url_verification challenge
#   POST /_sim/feishu/expire-tokens               every issued token refused from now on (99991663)
#   POST /_sim/dingtalk/say  {"app": "<app key>", "user_id", "text", "conversation_id", "forge",
#                             "msg_id"}  someone @-mentions the robot: the signed outgoing payload
#        (headers timestamp + sign) with a sessionWebhook back here; returns the HTTP answer
#   GET  /_sim/dingtalk/answers[?conversation_id=]  what the robot said through sessionWebhooks

APP_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
APP_MESSAGES_PATH = "/open-apis/im/v1/messages"
DINGTALK_TOKEN_PATH = "/v1.0/oauth2/accessToken"
DINGTALK_SESSION_PATH = "/robot/sendBySession"
FEISHU_TOKEN_TTL_S = 7200
FEISHU_TOKEN_INVALID = 99991663
CALLBACK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ChatApp:
    vendor: str  # feishu | dingtalk
    app_secret: str
    callback_url: str = ""
    verification_token: str = ""
    encrypt_key: str = ""

    @classmethod
    def from_json(cls, app_id: str, data: object) -> ChatApp:
        if not isinstance(data, Mapping):
            raise ConfigError(f"app {app_id!r}: expected an object")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"app {app_id!r}: unknown field(s) {', '.join(unknown)}")
        if data.get("vendor") not in ("feishu", "dingtalk"):
            raise ConfigError(f"app {app_id!r}: vendor must be feishu or dingtalk")
        values = {f.name: data.get(f.name, "") or "" for f in fields(cls)}
        if not all(isinstance(v, str) for v in values.values()):
            raise ConfigError(f"app {app_id!r}: every field is a string")
        if not values["app_secret"]:
            raise ConfigError(f"app {app_id!r}: app_secret is required")
        return cls(**values)


def feishu_encrypt(encrypt_key: str, plaintext: bytes, iv: bytes | None = None) -> str:
    """What Feishu puts in `{"encrypt": …}`: base64(iv + AES-256-CBC(sha256(key), PKCS#7(plaintext)))."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv = iv if iv is not None else random.randbytes(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(hashlib.sha256(encrypt_key.encode()).digest()), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def feishu_event_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def card_buttons(card: object) -> list[dict[str, Any]]:
    """The buttons on a card (JSON 1.0 `action` rows and `form`s; 2.0 buttons with `behaviors`), in order."""
    found: list[dict[str, Any]] = []

    def label(button: Mapping[str, Any]) -> str:
        text = button.get("text")
        return str(text.get("content", "")) if isinstance(text, Mapping) else ""

    def add(button: Mapping[str, Any], form: str | None, inputs: list[str]) -> None:
        entry: dict[str, Any] = {"index": len(found), "label": label(button), "type": button.get("type", "default")}
        listed = button.get("behaviors")
        behaviors: list[Any] = [b for b in listed if isinstance(b, Mapping)] if isinstance(listed, list) else []
        url = button.get("url") or next((b.get("default_url") for b in behaviors if b.get("type") == "open_url"), None)
        value = button.get("value")
        if value is None:
            value = next((b.get("value") for b in behaviors if b.get("type") == "callback"), None)
        if url:
            entry["url"] = url
        else:
            entry["value"] = value
        if form is not None:
            entry |= {"form": form, "inputs": inputs, "name": button.get("name")}
        found.append(entry)

    def walk(node: object, form: str | None, inputs: list[str]) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, form, inputs)
        elif isinstance(node, Mapping):
            tag = node.get("tag")
            if tag == "button":
                add(node, form, inputs)
            elif tag == "form":
                children = node.get("elements", [])
                names = [c.get("name") for c in children if isinstance(c, Mapping) and c.get("tag") == "input"]
                walk(children, str(node.get("name")), [n for n in names if isinstance(n, str)])
            else:
                for key in ("elements", "actions", "columns", "body"):
                    if key in node:
                        walk(node[key], form, inputs)

    walk(card, None, [])
    return found


def _post_json(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, Any]:
    """POST to the system under test; (status, JSON answer or the text)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT_S) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return 0, {"error": f"{type(exc).__name__}: {exc}"}
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


class ChatApps:
    """The open platforms' side: apps, tokens, the cards sent and clicked, DingTalk conversations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[str, ChatApp] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._tokens: dict[str, tuple[str, float]] = {}  # token → (app id, expires at)
            self._cards: dict[str, dict[str, Any]] = {}
            self._answers: list[dict[str, Any]] = []
            self._sessions: set[str] = set()
            self._seq = 0
            self._tokens_issued = 0

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:06d}{random.randbytes(4).hex()}"

    def add_apps(self, data: object) -> list[str]:
        if not isinstance(data, Mapping):
            raise ConfigError('apps: expected an object {"<app id>": {"vendor": ...}}')
        apps = {str(k): ChatApp.from_json(str(k), v) for k, v in data.items()}
        with self._lock:
            self._apps.update(apps)
            return sorted(self._apps)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {"apps": sorted(self._apps), "feishu_tokens_issued": self._tokens_issued}

    def app(self, app_id: str) -> ChatApp | None:
        with self._lock:
            return self._apps.get(app_id)

    # ---- the Feishu app API ----------------------------------------------------------------------
    def feishu_token(self, raw: bytes) -> Reply:
        body = _json_object(raw) or {}
        app = self.app(str(body.get("app_id", "")))
        if (
            app is None
            or app.vendor != "feishu"
            or not hmac.compare_digest(app.app_secret.encode(), str(body.get("app_secret", "")).encode())
        ):
            return Reply(200, {"code": 10014, "msg": "app secret invalid"})
        with self._lock:
            token = self._next("t-")
            self._tokens[token] = (str(body["app_id"]), time.time() + FEISHU_TOKEN_TTL_S)
            self._tokens_issued += 1
        return Reply(200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": FEISHU_TOKEN_TTL_S})

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens = {t: (app, 0.0) for t, (app, _) in self._tokens.items()}

    def _token_app(self, headers: Mapping[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        with self._lock:
            app_id, expires = self._tokens.get(token, ("", 0.0))
        return app_id if app_id and time.time() < expires else None

    def feishu_send(self, query: Mapping[str, list[str]], headers: Mapping[str, str], raw: bytes) -> Reply:
        app_id = self._token_app(headers)
        if app_id is None:
            return Reply(400, {"code": FEISHU_TOKEN_INVALID, "msg": "Invalid access token for authorization."})
        body = _json_object(raw)
        if query.get("receive_id_type", [""])[0] != "chat_id" or body is None:
            return Reply(400, {"code": 230001, "msg": "invalid receive_id_type or body"})
        chat_id, content = body.get("receive_id"), body.get("content")
        try:
            card = json.loads(content) if isinstance(content, str) else None
        except ValueError:
            card = None
        if body.get("msg_type") != "interactive" or not isinstance(chat_id, str) or not isinstance(card, dict):
            return Reply(400, {"code": 230001, "msg": "content is not a card"})
        if not str(chat_id).startswith("oc_"):
            return Reply(400, {"code": 230002, "msg": "Bot/User can NOT be out of the chat."})
        with self._lock:
            message_id = self._next("om_")
            self._cards[message_id] = {
                "message_id": message_id,
                "app_id": app_id,
                "chat_id": chat_id,
                "at": time.time(),
                "versions": [card],
                "clicks": [],
            }
        return Reply(200, {"code": 0, "msg": "success", "data": {"message_id": message_id, "chat_id": chat_id}})

    def feishu_patch(self, message_id: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        if self._token_app(headers) is None:
            return Reply(400, {"code": FEISHU_TOKEN_INVALID, "msg": "Invalid access token for authorization."})
        body = _json_object(raw) or {}
        try:
            card = json.loads(body["content"])
        except (KeyError, TypeError, ValueError):
            card = None
        if not isinstance(card, dict):
            return Reply(400, {"code": 230001, "msg": "content is not a card"})
        with self._lock:
            record = self._cards.get(message_id)
            if record is None:
                return Reply(400, {"code": 230011, "msg": "The message is not found"})
            record["versions"].append(card)
        return Reply(200, {"code": 0, "msg": "success", "data": {}})

    def cards(self, chat_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            records = [json.loads(json.dumps(r)) for r in self._cards.values()]
        return [self._view(r) for r in records if chat_id is None or r["chat_id"] == chat_id]

    def card(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._cards.get(message_id)
            record = json.loads(json.dumps(record)) if record is not None else None
        return self._view(record) if record is not None else None

    @staticmethod
    def _view(record: dict[str, Any]) -> dict[str, Any]:
        current = record["versions"][-1]
        return {**record, "card": current, "version": len(record["versions"]) - 1, "buttons": card_buttons(current)}

    def click(self, data: Mapping[str, Any]) -> Reply:
        """A person presses a button on a card: the callback Feishu sends, and its answer applied."""
        message_id = str(data.get("message_id", ""))
        with self._lock:
            record = self._cards.get(message_id)
            record = json.loads(json.dumps(record)) if record is not None else None
        if record is None:
            return Reply(404, {"error": f"no card {message_id!r}"})
        app = self.app(record["app_id"])
        if app is None or not app.callback_url:
            return Reply(400, {"error": f"app {record['app_id']!r} has no callback_url"})
        if data.get("replay"):
            if not record["clicks"]:
                return Reply(400, {"error": "nothing to replay: no click on this card yet"})
            event = record["clicks"][-1]["event"]
            button: dict[str, Any] = record["clicks"][-1]["button"]
        else:
            version = data.get("version", len(record["versions"]) - 1)
            if not isinstance(version, int) or not 0 <= version < len(record["versions"]):
                return Reply(400, {"error": f"no version {version!r} of this card"})
            buttons = card_buttons(record["versions"][version])
            wanted = data.get("button")
            chosen = [b for b in buttons if b["label"] == wanted or b["index"] == wanted]
            if not chosen:
                return Reply(400, {"error": f"no button {wanted!r}", "buttons": [b["label"] for b in buttons]})
            button = chosen[0]
            if "url" in button:
                return Reply(400, {"error": "a link button opens its URL in the browser: nothing is sent"})
            open_id = data.get("open_id")
            if not isinstance(open_id, str) or not open_id:
                return Reply(400, {"error": "open_id: who clicks"})
            event = self._card_action(app, record, button, open_id, data.get("input"))
        status, answer = self._send_event(app, event, forge=bool(data.get("forge")))
        new_card = answer.get("card") if isinstance(answer, dict) else None
        raw_card = new_card.get("data") if isinstance(new_card, dict) and new_card.get("type") == "raw" else None
        updated = status == 200 and isinstance(raw_card, dict)
        click = {
            "event_id": event["header"]["event_id"],
            "event": event,
            "button": button,
            "status": status,
            "answer": answer,
            "updated": updated,
            "forged": bool(data.get("forge")),
            "replay": bool(data.get("replay")),
        }
        with self._lock:
            live = self._cards[message_id]
            if updated:
                live["versions"].append(raw_card)
            live["clicks"].append(click)
        return Reply(200, {k: v for k, v in click.items() if k != "event"})

    def _card_action(
        self, app: ChatApp, record: Mapping[str, Any], button: Mapping[str, Any], open_id: str, text: object
    ) -> dict[str, Any]:
        action: dict[str, Any] = {"tag": "button", "value": button.get("value"), "timezone": "Asia/Shanghai"}
        if button.get("form"):
            typed = text if isinstance(text, str) else ""
            action |= {"name": button.get("name"), "form_value": dict.fromkeys(button.get("inputs", []), typed)}
        with self._lock:
            event_id, callback_token = self._next("ev_"), self._next("c-")
        return {
            "schema": "2.0",
            "header": {
                "event_id": event_id,
                "token": app.verification_token,
                "create_time": str(int(time.time() * 1_000_000)),
                "event_type": "card.action.trigger",
                "tenant_key": "botsim",
                "app_id": record["app_id"],
            },
            "event": {
                "operator": {"tenant_key": "botsim", "open_id": open_id, "union_id": f"on_{open_id}"},
                "token": callback_token,
                "action": action,
                "host": "im_message",
                "context": {"open_message_id": record["message_id"], "open_chat_id": record["chat_id"]},
            },
        }

    def verify_url(self, app_id: str) -> Reply:
        app = self.app(app_id)
        if app is None or not app.callback_url:
            return Reply(404, {"error": f"no app {app_id!r} with a callback_url"})
        challenge = self._next("challenge-")
        event = {"challenge": challenge, "token": app.verification_token, "type": "url_verification"}
        status, answer = self._send_event(app, event, forge=False, signed=False)
        ok = status == 200 and isinstance(answer, dict) and answer.get("challenge") == challenge
        return Reply(200, {"ok": ok, "status": status, "answer": answer})

    def _send_event(self, app: ChatApp, event: dict[str, Any], *, forge: bool, signed: bool = True) -> tuple[int, Any]:
        plain = json.dumps(event, ensure_ascii=False).encode()
        if forge and not app.encrypt_key:  # nothing to sign with: forge the token instead
            plain = json.dumps(_with_token(event, "forged-token"), ensure_ascii=False).encode()
        body = json.dumps({"encrypt": feishu_encrypt(app.encrypt_key, plain)}).encode() if app.encrypt_key else plain
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if app.encrypt_key and signed:
            timestamp, nonce = str(int(time.time())), random.randbytes(8).hex()
            key = "forged-key" if forge else app.encrypt_key
            headers |= {
                "X-Lark-Request-Timestamp": timestamp,
                "X-Lark-Request-Nonce": nonce,
                "X-Lark-Signature": feishu_event_signature(timestamp, nonce, key, body),
            }
        return _post_json(app.callback_url, body, headers)

    # ---- DingTalk --------------------------------------------------------------------------------
    def dingtalk_token(self, raw: bytes) -> Reply:
        body = _json_object(raw) or {}
        app = self.app(str(body.get("appKey", "")))
        if app is None or app.vendor != "dingtalk" or app.app_secret != body.get("appSecret"):
            return Reply(400, {"code": "invalidClientIdOrSecret", "message": "无效的clientId或者clientSecret"})
        with self._lock:
            token = self._next("dt-")
        return Reply(200, {"accessToken": token, "expireIn": 7200})

    def say(self, data: Mapping[str, Any], *, base: str) -> Reply:
        """Someone @-mentions the robot in a group: the outgoing robot's signed POST to Closeloop."""
        app_key = str(data.get("app", ""))
        app = self.app(app_key)
        if app is None or app.vendor != "dingtalk" or not app.callback_url:
            return Reply(404, {"error": f"no DingTalk app {app_key!r} with a callback_url"})
        user_id, text = data.get("user_id"), data.get("text")
        if not isinstance(user_id, str) or not user_id or not isinstance(text, str):
            return Reply(400, {"error": "user_id and text: who says what"})
        conversation = str(data.get("conversation_id") or "cid_botsim")
        with self._lock:
            msg_id = str(data.get("msg_id") or self._next("msg"))
            self._sessions.add(conversation)
        now_ms = int(time.time() * 1000)
        payload = {
            "msgtype": "text",
            "text": {"content": f" {text}"},
            "msgId": msg_id,
            "createAt": str(now_ms),
            "conversationType": "2",
            "conversationId": conversation,
            "conversationTitle": "botsim",
            "senderId": f"$:LWCP_v1:${user_id}",
            "senderNick": user_id,
            "senderStaffId": user_id,
            "chatbotUserId": "$:LWCP_v1:$botsim",
            "isAdmin": False,
            "isInAtList": True,
            "robotCode": app_key,
            "atUsers": [{"dingtalkId": "$:LWCP_v1:$botsim"}],
            "sessionWebhook": f"{base}/robot/sendBySession?session={urllib.parse.quote(conversation)}",
            "sessionWebhookExpiredTime": now_ms + 3_600_000,
        }
        timestamp = str(now_ms)
        sign = dingtalk_sign("forged-secret" if data.get("forge") else app.app_secret, timestamp)
        headers = {"Content-Type": "application/json; charset=utf-8", "timestamp": timestamp, "sign": sign}
        status, answer = _post_json(app.callback_url, json.dumps(payload, ensure_ascii=False).encode(), headers)
        return Reply(200, {"msg_id": msg_id, "status": status, "answer": answer})

    def session_answer(self, query: Mapping[str, list[str]], raw: bytes) -> Reply:
        session = query.get("session", [""])[0]
        body = _json_object(raw)
        with self._lock:
            known = session in self._sessions
            if known and body is not None and "msgtype" in body:
                self._answers.append({"at": time.time(), "conversation_id": session, "body": body})
        if not known:
            return Reply(200, {"errcode": 300005, "errmsg": "session is not exist"})
        if body is None or "msgtype" not in body:
            return Reply(200, {"errcode": 400402, "errmsg": "missing parameter msgtype"})
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    def answers(self, conversation: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [a for a in self._answers if conversation is None or a["conversation_id"] == conversation]


def _with_token(event: dict[str, Any], token: str) -> dict[str, Any]:
    if "header" in event:
        return {**event, "header": {**event["header"], "token": token}}
    return {**event, "token": token}


def render_card_html(view: Mapping[str, Any]) -> str:
    """A card as a page: title, text and its buttons (what a person would see)."""
    card = view["card"]
    header = card.get("header", {}) if isinstance(card, dict) else {}
    title = header.get("title", {}).get("content", "") if isinstance(header, dict) else ""
    texts = [t for t in _texts(card.get("elements", card.get("body", {}))) if t] if isinstance(card, dict) else []
    buttons = "".join(
        f"<li>[{b['index']}] {html.escape(b['label'])} — "
        + (f"link {html.escape(str(b['url']))}" if "url" in b else f"value {html.escape(json.dumps(b['value']))}")
        + (" (with an input)" if b.get("form") else "")
        + "</li>"
        for b in view["buttons"]
    )
    body = "".join(f"<p>{html.escape(t)}</p>" for t in texts)
    return (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1>{body}<ul>{buttons}</ul>"
        f"<p>version {view['version']}, {len(view['clicks'])} click(s)</p>"
    )


def _route(path: str, query: Mapping[str, list[str]]) -> tuple[Kind, str] | None:
    """The vendor and bot name a bot URL addresses."""
    if path.startswith("/open-apis/bot/v2/hook/"):
        return Kind.feishu, path.rsplit("/", 1)[-1]
    if path == "/robot/send":
        return Kind.dingtalk, query.get("access_token", [""])[0]
    if path == "/cgi-bin/webhook/send":
        return Kind.wecom, query.get("key", [""])[0]
    if path.startswith("/hooks/"):
        return Kind.generic, path.rsplit("/", 1)[-1]
    return None


TOKEN_INVALID = {
    Kind.feishu: Reply(200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}}),
    Kind.dingtalk: Reply(200, {"errcode": 300005, "errmsg": "token is not exist"}),
    Kind.wecom: Reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
    Kind.generic: Reply(404, {"error": "unknown hook"}),
}


def bot_url(base: str, kind: Kind, name: str) -> str:
    """Where a channel of this kind should point to reach the named bot."""
    quoted = urllib.parse.quote(name, safe="")
    return {
        Kind.feishu: f"{base}/open-apis/bot/v2/hook/{quoted}",
        Kind.dingtalk: f"{base}/robot/send?access_token={quoted}",
        Kind.wecom: f"{base}/cgi-bin/webhook/send?key={quoted}",
        Kind.generic: f"{base}/hooks/{quoted}",
    }[kind]


def parse_bots(data: object) -> dict[str, Bot]:
    if not isinstance(data, Mapping):
        raise ConfigError('bots: expected an object {"<name>": {"kind": ...}}')
    return {str(name): Bot.from_json(str(name), spec) for name, spec in data.items()}


@dataclass(frozen=True)
class Config:
    bots: dict[str, Bot] = field(default_factory=dict)
    window_scale: float = 1.0


def load_config(path: Path) -> Config:
    """The bots and window scale of a JSON file: {"bots": {"<name>": {"kind": ...}}, "window_scale": 1.0}."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    unknown = sorted(set(data) - {"bots", "window_scale"})
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(unknown)}")
    window_scale = data.get("window_scale", 1.0)
    if isinstance(window_scale, bool) or not isinstance(window_scale, int | float):
        raise ConfigError(f"{path}: window_scale must be a number")
    return Config(parse_bots(data.get("bots", {})), float(window_scale))


class _Handler(BaseHTTPRequestHandler):
    server_version = "botsim/1"

    @property
    def simulator(self) -> Simulator:
        return cast(BotsimServer, self.server).simulator

    def log_message(self, format: str, *args: Any) -> None:  # one line per request would drown the tests' output
        pass

    def _send(self, reply: Reply) -> None:
        data = b"" if reply.payload is None else json.dumps(reply.payload, ensure_ascii=False).encode()
        self.send_response(reply.status)
        if reply.payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _send_html(self, status: int, page: str) -> None:
        data = page.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        sim = self.simulator
        if url.path == "/_sim/health":
            return self._send(Reply(200, {"ok": True}))
        if url.path == "/_sim/messages":
            return self._send(Reply(200, sim.messages(query.get("bot", [None])[0] or None)))
        if url.path == "/_sim/stats":
            return self._send(Reply(200, sim.stats()))
        if url.path == "/_sim/apps":
            return self._send(Reply(200, sim.apps.summary()))
        if url.path == "/_sim/feishu/cards":
            return self._send(Reply(200, sim.apps.cards(query.get("chat_id", [None])[0])))
        if url.path.startswith("/_sim/feishu/cards/"):
            message_id = url.path.rsplit("/", 1)[-1]
            as_html = message_id.endswith(".html")
            view = sim.apps.card(message_id.removesuffix(".html"))
            if view is None:
                return self._send(Reply(404, {"error": "no such card"}))
            return self._send_html(200, render_card_html(view)) if as_html else self._send(Reply(200, view))
        if url.path == "/_sim/dingtalk/answers":
            return self._send(Reply(200, sim.apps.answers(query.get("conversation_id", [None])[0])))
        return self._send(Reply(404, {"error": "not found"}))

    def do_PATCH(self) -> None:
        url = urllib.parse.urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith(APP_MESSAGES_PATH + "/"):
            headers = {key.lower(): value for key, value in self.headers.items()}
            return self._send(self.simulator.apps.feishu_patch(url.path.rsplit("/", 1)[-1], headers, raw))
        return self._send(Reply(404, {"error": "unknown path"}))

    def do_POST(self) -> None:
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/_sim/"):
            return self._send(self._control(url.path, raw))
        apps, headers = self.simulator.apps, {key.lower(): value for key, value in self.headers.items()}
        if url.path == APP_TOKEN_PATH:
            return self._send(apps.feishu_token(raw))
        if url.path == APP_MESSAGES_PATH:
            return self._send(apps.feishu_send(query, headers, raw))
        if url.path == DINGTALK_TOKEN_PATH:
            return self._send(apps.dingtalk_token(raw))
        if url.path == DINGTALK_SESSION_PATH:
            return self._send(apps.session_answer(query, raw))
        route = _route(url.path, query)
        if route is None:
            return self._send(Reply(404, {"error": "unknown path"}))
        kind, name = route
        bot = self.simulator.bot(name)
        if bot is None or bot.kind != kind:
            return self._send(TOKEN_INVALID[kind])
        fault, delay_s = self.simulator.draw_fault(name)
        if fault is Fault.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may have gone already
                self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if fault is Fault.http_500:
            return self._send(Reply(500, {"error": "injected"}))
        if fault is Fault.html_page:
            return self._send_html(200, HTML_ERROR_PAGE)
        if fault is Fault.delay:
            time.sleep(delay_s)  # blocks this request's thread only
        headers = {key.lower(): value for key, value in self.headers.items()}
        return self._send(self.simulator.deliver(name, bot, Delivery(raw=raw, query=query, headers=headers)))

    def _control(self, path: str, raw: bytes) -> Reply:
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return Reply(400, {"error": "bad json"})
        if not isinstance(data, dict):
            return Reply(400, {"error": "expected a JSON object"})
        sim = self.simulator
        try:
            if path == "/_sim/reset":
                sim.reset()
                return Reply(200, {"ok": True})
            if path == "/_sim/bots":
                return Reply(200, {"ok": True, "bots": sim.add_bots(parse_bots(data))})
            if path == "/_sim/apps":
                return Reply(200, {"ok": True, "apps": sim.apps.add_apps(data)})
            if path == "/_sim/feishu/click":
                return sim.apps.click(data)
            if path == "/_sim/feishu/verify":
                return sim.apps.verify_url(str(data.get("app", "")))
            if path == "/_sim/feishu/expire-tokens":
                sim.apps.expire_tokens()
                return Reply(200, {"ok": True})
            if path == "/_sim/dingtalk/say":
                return sim.apps.say(data, base=cast(BotsimServer, self.server).base_url)
            if path == "/_sim/faults":
                name = data.pop("bot", None)
                faults = Faults.from_json(data)
                if not isinstance(name, str) or not sim.set_faults(name, faults):
                    return Reply(404, {"error": "unknown bot"})
                return Reply(200, {"ok": True})
        except ConfigError as exc:
            return Reply(400, {"error": str(exc)})
        return Reply(404, {"error": "unknown control path"})


class BotsimServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 5  # socketserver's default listen backlog, stated: the reliability tests lean on it

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"


def serve(simulator: Simulator, *, host: str = "127.0.0.1", port: int = 9911) -> None:
    """Serve until interrupted, after printing where each configured bot listens."""
    with BotsimServer((host, port), simulator) as server:
        base = server.base_url
        print(f"botsim listening on {base} (window scale {simulator.window_scale:g})", flush=True)
        for name, bot in sorted(simulator.bots().items()):
            print(f"  {name} ({bot.kind}): {bot_url(base, bot.kind, name)}", flush=True)
        print(f'  add bots: curl -X POST {base}/_sim/bots -d \'{{"fs1": {{"kind": "feishu"}}}}\'', flush=True)
        print(f"  read back: {base}/_sim/messages, {base}/_sim/stats", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
