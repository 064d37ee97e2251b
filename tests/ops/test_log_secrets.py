"""A full run logged at DEBUG, every logger (SQLAlchemy's engine and aiohttp included), in both log
formats, carries no secret: no bot credential from a channel URL, no signing secret, no API token,
no customer mobile or email, no SQL bind value."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from services.notifier.main import drain
from services.worker.main import sweep_once
from shared.db import unit_of_work
from shared.models import Notification, NotificationStatus
from shared.notify import delivery
from shared.notify.http import Sender
from shared.observability import logs
from tests.factories import BREACH_ONLY, auth, make_department, make_policy

FEISHU_TOKEN = "fsHookTok3n9c1e7a2b"
FEISHU_SECRET = "FsSignSecret5d8e2f"
DINGTALK_TOKEN = "dtAccessTok7f3a9b"
DINGTALK_SECRET = "SECdtSignSecret4c6b1a"
WECOM_KEY = "wcKey2e8d4f6a-1b3c"
INBOUND_KEY = b"closeloop-inbound-logs-key-32byt"
INBOUND_SECRET = "whsec_" + base64.b64encode(INBOUND_KEY).decode()
USER_EMAIL, USER_MOBILE = "wang.planner@corp-example.cn", "13912345678"
CUSTOMER_EMAIL, CUSTOMER_MOBILE = "chen.customer@mail-example.cn", "13787654321"
BIND_MARKER = "BindValueMarker-a91f"  # written only through bound parameters


@contextmanager
def logging_at_debug(log_format: str) -> Iterator[io.StringIO]:
    """Closeloop's own logging configuration, every logger at DEBUG, written to a buffer."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), {n: logging.getLogger(n).level for n in logging.root.manager.loggerDict})
    buffer = io.StringIO()
    config = logs.dict_config(log_format, "DEBUG")
    config["handlers"]["default"]["stream"] = buffer
    logging.config.dictConfig(config)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "aiohttp", "asyncio", "arq", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        for handler in root.handlers:
            if handler not in saved[1]:
                root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def inbound_signed(body: dict, *, msg_id: str, ts: int) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    mac = hmac.new(INBOUND_KEY, f"{msg_id}.{ts}.".encode() + raw, hashlib.sha256).digest()
    return raw, {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


async def full_run(settings, clock, sessions, arq_redis, botsim) -> list[str]:
    """Channels with credentials in their URLs, people with contacts, tokens issued and used,
    customer feedback by API and by the signed inbound webhook, a breach delivered to three bots, a
    refused request. Returns the API tokens' plaintexts."""
    from services.api.app import create_app

    botsim.add_bots(
        {
            FEISHU_TOKEN: {"kind": "feishu", "secret": FEISHU_SECRET},
            DINGTALK_TOKEN: {"kind": "dingtalk", "secret": DINGTALK_SECRET},
            WECOM_KEY: {"kind": "wecom"},
        }
    )
    await make_policy(sessions, levels=BREACH_ONLY)
    dept = await make_department(sessions)
    admin = await auth(sessions)
    tokens = [admin["Authorization"].removeprefix("Bearer ")]
    app = create_app(settings.model_copy(update={"inbound_webhook_secret": SecretStr(INBOUND_SECRET)}), clock)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for name, kind, url, secret in (
            ("fs", "feishu", botsim.url("feishu", FEISHU_TOKEN), FEISHU_SECRET),
            ("dt", "dingtalk", botsim.url("dingtalk", DINGTALK_TOKEN), DINGTALK_SECRET),
            ("wc", "wecom", botsim.url("wecom", WECOM_KEY), None),
        ):
            r = await c.post(
                "/api/v1/channels", headers=admin, json={"name": name, "kind": kind, "url": url, "secret": secret}
            )
            assert r.status_code == 201, r.text
        user = {"name": "王策划", "email": USER_EMAIL, "mobile": USER_MOBILE, "department_id": dept.id}
        r = await c.post("/api/v1/users", headers=admin, json=user)
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = await c.post("/api/v1/users", headers=admin, json=user)  # the same email again: refused
        assert r.status_code == 409, r.text
        r = await c.post("/api/v1/tokens", headers=admin, json={"user_id": user_id, "name": "ci", "role": "member"})
        assert r.status_code == 201, r.text
        tokens.append(r.json()["token"])
        member = {"Authorization": f"Bearer {tokens[-1]}"}
        due = (clock.now() - timedelta(minutes=5)).isoformat()
        r = await c.post(
            "/api/v1/tasks", headers=member, json={"title": BIND_MARKER, "assignee_id": user_id, "due_at": due}
        )
        assert r.status_code == 201, r.text
        customer = {"customer_name": "陈女士", "customer_contact": f"{CUSTOMER_MOBILE} / {CUSTOMER_EMAIL}"}
        feedback = {"kind": "complaint", "channel": "phone", "content": "投诉：活动页打不开", "owner_id": user_id}
        r = await c.post("/api/v1/feedback", headers=member, json={**feedback, **customer})
        assert r.status_code == 201, r.text
        raw, headers = inbound_signed({**feedback, **customer}, msg_id="msg_logs_1", ts=int(clock.now().timestamp()))
        r = await c.post("/api/v1/inbound/feedback", content=raw, headers=headers)
        assert r.status_code == 201, r.text
        r = await c.get("/api/v1/feedback", headers=member, params={"q": CUSTOMER_MOBILE})
        assert r.status_code in (200, 422), r.text
    async with Sender() as http:
        ctx = {
            "settings": settings,
            "sessions": sessions,
            "clock": clock,
            "redis": arq_redis,
            "http": http,
            "policy": delivery.policy_from(settings),
        }
        await sweep_once(ctx)
        async with unit_of_work(sessions) as s:
            channel_ids = {n.channel_id for n in (await s.scalars(select(Notification))).all()}
        for channel_id in channel_ids:
            await drain(ctx, channel_id)
        async with unit_of_work(sessions) as s:
            states = {n.status for n in (await s.scalars(select(Notification))).all()}
    assert len(channel_ids) == 3 and states == {NotificationStatus.delivered}
    # Each bot: the overdue task's breach, and a "complaint received" card for each of the two complaints.
    assert {bot: len(botsim.messages(bot)) for bot in (FEISHU_TOKEN, DINGTALK_TOKEN, WECOM_KEY)} == dict.fromkeys(
        (FEISHU_TOKEN, DINGTALK_TOKEN, WECOM_KEY), 3
    )
    return tokens


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_full_run_logged_at_debug_carries_no_secret(log_format, settings, clock, sessions, arq_redis, botsim):
    with logging_at_debug(log_format) as buffer:
        tokens = await full_run(settings, clock, sessions, arq_redis, botsim)
    logged = buffer.getvalue()
    # The capture saw the run: SQL statements, the notifier's HTTP, the API's requests.
    assert "INSERT INTO tasks" in logged and "sqlalchemy.engine" in logged
    secrets = {
        "Feishu hook token": FEISHU_TOKEN,
        "Feishu signing secret": FEISHU_SECRET,
        "DingTalk access_token": DINGTALK_TOKEN,
        "DingTalk signing secret": DINGTALK_SECRET,
        "WeCom key": WECOM_KEY,
        "inbound webhook secret": INBOUND_SECRET.removeprefix("whsec_"),
        "user email": USER_EMAIL,
        "user mobile": USER_MOBILE,
        "customer email": CUSTOMER_EMAIL,
        "customer mobile": CUSTOMER_MOBILE,
        "SQL bind value": BIND_MARKER,
        **{f"API token {i}": t for i, t in enumerate(tokens)},
        **{f"API token {i} (its secret part)": t[-20:] for i, t in enumerate(tokens)},
    }
    leaked = {
        what: next(line for line in logged.splitlines() if value in line)
        for what, value in secrets.items()
        if value in logged
    }
    assert leaked == {}


def test_an_access_log_line_keeps_the_path_but_no_query_value():
    """uvicorn's access line for a search by a customer's mobile (the API's processes log it)."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", f"/api/v1/feedback?q={CUSTOMER_MOBILE}&limit=20", "1.1", 200),
        None,
    )
    assert logs.NoSecretsFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:50000 - "GET /api/v1/feedback?q=***&limit=*** HTTP/1.1" 200'


def test_a_bot_url_in_any_log_line_is_masked():
    record = logging.LogRecord(
        "aiohttp.client",
        logging.DEBUG,
        __file__,
        1,
        "POST %s failed",
        (f"https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}&sign=abc",),
        None,
    )
    assert logs.NoSecretsFilter().filter(record)
    assert record.getMessage() == "POST https://oapi.dingtalk.com/robot/send?access_token=***&sign=*** failed"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_traceback_quoting_a_bot_url_is_masked(log_format):
    try:
        raise ValueError(f"cannot post to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}")
    except ValueError:
        with logging_at_debug(log_format) as buffer:
            logging.getLogger("closeloop.test").exception("delivery failed")
    logged = buffer.getvalue()
    assert "delivery failed" in logged and "send?key=***" in logged and WECOM_KEY not in logged
