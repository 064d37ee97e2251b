"""The callbacks' wire, over real HTTP from botsim: what is not the app's vendor is refused (401)
before anything is read or done; the console's URL challenge is answered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.chat import dingtalk
from shared.chat.models import ChatEvent
from shared.db import unit_of_work
from shared.models import AuditLog
from shared.notify.adapters import feishu_app
from tests.chat_wire.conftest import sim
from tests.chat_wire.test_app_channel import BUTTONS, app_channel, send_one
from tests.chat_wire.test_chat_apps import DINGTALK, FEISHU
from tests.factories import auth


async def counts(sessions: Any) -> tuple[int, int]:
    """(chat events remembered, audit rows written by anyone but the setup's admin)."""
    async with unit_of_work(sessions) as s:
        events = await s.scalar(select(func.count()).select_from(ChatEvent))
        audit = await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action != "create"))
    return int(events or 0), int(audit or 0)


async def feishu_app_in_botsim(client: Any, sessions: Any, botsim: Any, live_api: Any, **app: Any) -> dict:
    """The Feishu app (created unless it exists), its callback URL configured in botsim."""
    admin = await auth(sessions)
    existing = (await client.get("/api/v1/chat-apps", headers=admin)).json()["items"]
    created = (
        existing[0]
        if existing
        else (await client.post("/api/v1/chat-apps", headers=admin, json={**FEISHU, **app})).json()
    )
    callback = live_api.base + f"/api/v1/chat/feishu/{created['id']}/events"
    simulated = {
        "vendor": "feishu",
        "app_secret": FEISHU["app_secret"],
        "verification_token": FEISHU["verification_token"],
        "encrypt_key": FEISHU["encrypt_key"] if created["has_encrypt_key"] else "",
        "callback_url": callback,
    }
    botsim.http.post("/_sim/apps", json={FEISHU["app_id"]: simulated}).raise_for_status()
    return created


@pytest.mark.parametrize("encrypted", [True, False])
async def test_the_console_url_challenge_is_answered(client, sessions, botsim, live_api, encrypted):
    await feishu_app_in_botsim(client, sessions, botsim, live_api, **({} if encrypted else {"encrypt_key": None}))
    result = await sim(botsim, "POST", "/_sim/feishu/verify", json={"app": FEISHU["app_id"]})
    assert (result["ok"], result["status"]) == (True, 200)
    assert await counts(sessions) == (0, 0)


async def test_a_forged_click_is_refused_with_401_and_nothing_is_done(
    client, sessions, botsim, live_api, use_botsim_apis, arq_redis, clock, monkeypatch
):
    monkeypatch.setattr(feishu_app, "buttons_for", lambda event_type, payload, *, locale: BUTTONS)
    channel_id = await app_channel(client, sessions, botsim)
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    await feishu_app_in_botsim(client, sessions, botsim, live_api)
    (card,) = botsim.http.get("/_sim/feishu/cards").json()
    before = await counts(sessions)
    click = await sim(
        botsim,
        "POST",
        "/_sim/feishu/click",
        json={"message_id": card["message_id"], "button": "完成", "open_id": "ou_x", "forge": True},
    )
    assert click["status"] == 401 and click["updated"] is False
    assert click["answer"]["title"] == "Unauthorized" and click["answer"]["detail"] == "X-Lark-Signature does not match"
    assert botsim.http.get(f"/_sim/feishu/cards/{card['message_id']}").json()["version"] == 0
    assert await counts(sessions) == before


async def test_a_body_that_is_not_the_apps_is_refused_before_it_is_read(client, sessions):
    admin = await auth(sessions)
    app = (await client.post("/api/v1/chat-apps", headers=admin, json=FEISHU)).json()
    url = f"/api/v1/chat/feishu/{app['id']}/events"
    for body in (b"", b"[]", json.dumps({"type": "url_verification", "token": "vt-s3cret", "challenge": "c"}).encode()):
        r = await client.post(url, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert (await client.post("/api/v1/chat/feishu/999/events", content=b"{}")).status_code == 404
    ding = (await client.post("/api/v1/chat-apps", headers=admin, json=DINGTALK)).json()
    assert (await client.post(f"/api/v1/chat/feishu/{ding['id']}/events", content=b"{}")).status_code == 404
    assert await counts(sessions) == (0, 0)


async def test_an_event_the_app_does_not_act_on_is_acknowledged_and_not_remembered(client, sessions):
    admin = await auth(sessions)
    app = (await client.post("/api/v1/chat-apps", headers=admin, json={**FEISHU, "encrypt_key": None})).json()
    event = {
        "schema": "2.0",
        "header": {"event_id": "e1", "token": FEISHU["verification_token"], "event_type": "im.message.receive_v1"},
        "event": {},
    }
    r = await client.post(f"/api/v1/chat/feishu/{app['id']}/events", json=event)
    assert (r.status_code, r.json()) == (200, {})
    assert await counts(sessions) == (0, 0)


async def test_dingtalk_refuses_a_forged_or_stale_signature_with_401(client, sessions, botsim, live_api, clock):
    admin = await auth(sessions)
    app = (await client.post("/api/v1/chat-apps", headers=admin, json=DINGTALK)).json()
    url = f"/api/v1/chat/dingtalk/{app['id']}/messages"
    botsim.http.post(
        "/_sim/apps",
        json={
            DINGTALK["app_id"]: {"vendor": "dingtalk", "app_secret": "ding-s3cret", "callback_url": live_api.base + url}
        },
    ).raise_for_status()
    said = await sim(
        botsim,
        "POST",
        "/_sim/dingtalk/say",
        json={"app": DINGTALK["app_id"], "user_id": "u1", "text": "完成 T1", "forge": True},
    )
    assert said["status"] == 401 and said["answer"]["detail"] == "sign does not match"
    stale = str(int(clock.now().timestamp() * 1000) - 3_601_000)
    r = await client.post(
        url, json={"msgId": "m1"}, headers={"timestamp": stale, "sign": dingtalk.sign("ding-s3cret", stale)}
    )
    assert r.status_code == 401 and r.json()["detail"] == "timestamp is more than an hour from now"
    assert botsim.http.get("/_sim/dingtalk/answers").json() == []
    assert await counts(sessions) == (0, 0)
