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
import json
import random
import socket
import threading
import time
import urllib.parse
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
        return self._send(Reply(404, {"error": "not found"}))

    def do_POST(self) -> None:
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/_sim/"):
            return self._send(self._control(url.path, raw))
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
