"""Signed inbound intake (Standard Webhooks): verified, deduped on webhook-id, disabled without a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AuditLog, Feedback, SlaTimer, TimerState

KEY = b"closeloop-inbound-test-key-32byt"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
URL = "/api/v1/inbound/feedback"


@pytest.fixture
async def inbound_client(settings, clock, engine) -> AsyncIterator[httpx.AsyncClient]:
    from services.api.app import create_app

    app = create_app(settings.model_copy(update={"inbound_webhook_secret": SecretStr(SECRET)}), clock)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def signed(body: dict[str, Any], *, msg_id: str, ts: int, key: bytes = KEY) -> tuple[bytes, dict[str, str]]:
    """Sign as any Standard Webhooks sender would (written here independently of Closeloop's code)."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + raw, hashlib.sha256).digest()
    signature = "v1," + base64.b64encode(mac).decode()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature,
    }
    return raw, headers


COMPLAINT = {"kind": "complaint", "severity": "high", "channel": "phone", "customer_name": "陈女士", "content": "投诉"}


async def _rows(sessions) -> list[Feedback]:
    async with unit_of_work(sessions) as s:
        return list(await s.scalars(select(Feedback).order_by(Feedback.id)))


async def test_signed_delivery_creates_feedback_with_a_running_timer(inbound_client, sessions, org, world, clock):
    ts = int(clock.now().timestamp())
    raw, headers = signed({**COMPLAINT, "owner_id": org.owner.id}, msg_id="msg_2f9a", ts=ts)
    r = await inbound_client.post(URL, content=raw, headers=headers)  # no Authorization header
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["source"] == "webhook" and item["external_id"] == "msg_2f9a"
    assert item["customer_name"] == "陈女士" and item["owner_id"] == org.owner.id
    # A high-severity complaint: first response in 1 h, resolution in 3 working days.
    assert [(t["state"], t["target"]["value"]) for t in item["sla"]] == [("running", "PT1H"), ("running", "3")]

    # A redelivery (fresh timestamp and signature, same id) returns the first item and writes nothing.
    world.at("2025-03-04T10:03:00+08:00")
    raw, headers = signed({**COMPLAINT, "owner_id": org.owner.id}, msg_id="msg_2f9a", ts=ts + 180)
    r = await inbound_client.post(URL, content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == item["id"]
    assert len(await _rows(sessions)) == 1
    async with unit_of_work(sessions) as s:
        timers = list(await s.scalars(select(SlaTimer)))
        audits = list(await s.scalars(select(AuditLog).where(AuditLog.entity_type == "feedback")))
    assert [t.state for t in timers] == [TimerState.running, TimerState.running]
    assert [(a.action, a.actor) for a in audits] == [("create", "system:inbound-webhook")]


async def test_any_listed_signature_may_match(inbound_client, sessions, org, world, clock):
    ts = int(clock.now().timestamp())
    raw, headers = signed(COMPLAINT, msg_id="msg_rotated", ts=ts)
    _, old = signed(COMPLAINT, msg_id="msg_rotated", ts=ts, key=b"the-previous-key")
    headers["webhook-signature"] = f"{old['webhook-signature']} v2,ignored {headers['webhook-signature']}"
    r = await inbound_client.post(URL, content=raw, headers=headers)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "tamper",
    ["wrong_key", "altered_body", "no_signature", "no_id", "stale", "future", "garbled_timestamp"],
)
async def test_unverified_delivery_is_refused_and_writes_nothing(inbound_client, sessions, org, world, clock, tamper):
    ts = int(clock.now().timestamp())
    key = b"not-the-configured-key" if tamper == "wrong_key" else KEY
    if tamper == "stale":
        ts -= 301
    elif tamper == "future":
        ts += 301
    raw, headers = signed(COMPLAINT, msg_id="msg_bad", ts=ts, key=key)
    if tamper == "altered_body":
        raw = raw.replace("投诉".encode(), "表扬".encode())
    elif tamper == "no_signature":
        del headers["webhook-signature"]
    elif tamper == "no_id":
        del headers["webhook-id"]
    elif tamper == "garbled_timestamp":
        headers["webhook-timestamp"] = "yesterday"
    r = await inbound_client.post(URL, content=raw, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await _rows(sessions) == []


async def test_timestamp_just_inside_five_minutes_is_accepted(inbound_client, sessions, org, world, clock):
    raw, headers = signed(COMPLAINT, msg_id="msg_late", ts=int(clock.now().timestamp()) - 300)
    r = await inbound_client.post(URL, content=raw, headers=headers)
    assert r.status_code == 201, r.text


async def test_invalid_body_is_refused_naming_the_field(inbound_client, sessions, org, world, clock):
    ts = int(clock.now().timestamp())
    raw, headers = signed({**COMPLAINT, "kind": "praise", "owner_id": 999_999}, msg_id="msg_kind", ts=ts)
    r = await inbound_client.post(URL, content=raw, headers=headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.kind"]

    raw, headers = signed({**COMPLAINT, "owner_id": 999_999}, msg_id="msg_owner", ts=ts)
    r = await inbound_client.post(URL, content=raw, headers=headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.owner_id"]

    raw, headers = signed({**COMPLAINT, "extra": 1}, msg_id="msg_extra", ts=ts)
    r = await inbound_client.post(URL, content=raw, headers=headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.extra"]
    assert await _rows(sessions) == []


async def test_intake_is_disabled_without_a_secret(client, sessions, org, world, clock):
    raw, headers = signed(COMPLAINT, msg_id="msg_off", ts=int(clock.now().timestamp()))
    r = await client.post(URL, content=raw, headers=headers)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await _rows(sessions) == []


async def test_receiver_verifies_what_closeloop_itself_signs(inbound_client, sessions, org, world, clock):
    """The outbound notifier's signer and the inbound verifier agree (one algorithm, one helper)."""
    from shared.notify.adapters.webhook import sign

    ts = int(clock.now().timestamp())
    raw = json.dumps(COMPLAINT).encode()
    headers = {
        "content-type": "application/json",
        "webhook-id": "msg_self",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(SECRET, "msg_self", ts, raw),
    }
    r = await inbound_client.post(URL, content=raw, headers=headers)
    assert r.status_code == 201
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Feedback)) == 1
