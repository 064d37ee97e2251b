"""The published webhook event schema matches what is really sent: events fired by the SLA engine, a
digest, an operator alert and a channel test reach a real receiver (botsim, which checks the
Standard Webhooks signature), and every body received validates against the models with unknown
fields forbidden."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.api.app import openapi_document
from shared import crud
from shared.db import unit_of_work
from shared.models import Campaign, Channel, ChannelKind, Department, TaskStatus
from shared.notify import events, ops
from shared.notify.digest import DIGEST_EVENT
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from tests.conftest import real_now
from tests.factories import SYSTEM, auth, make_channel, make_department, make_policy, make_user
from tests.notify.helpers import make_dispatcher
from tests.sla.conftest import World

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
SLA_TYPES = {"sla.warning", "sla.breach", "sla.escalation", "sla.resolved"}


async def test_every_event_sent_on_the_wire_validates_against_the_published_models(
    settings, sessions, arq_redis, clock, botsim, client
):
    botsim.add_bots({"each": {"kind": "generic", "secret": WHSEC}, "digest": {"kind": "generic", "secret": WHSEC}})
    # One channel takes every event as it comes (and operator alerts); one, limited to a message an
    # hour, gets the same events as a digest.
    each = await make_channel(
        sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "each"), secret=WHSEC, ops_alerts=True
    )
    digested = await make_channel(
        sessions,
        kind=ChannelKind.webhook,
        url=botsim.url("webhook", "digest"),
        secret=WHSEC,
        rate_limits=[{"limit": 1, "per_s": 3600}],
    )
    dept = await make_department(sessions, name="市场部")
    head = await make_user(sessions, name="赵部长", department_id=dept.id, mobile="13800000001")
    manager = await make_user(sessions, name="李经理", department_id=dept.id, dingtalk_user_id="manager01")
    assignee = await make_user(
        sessions,
        name="Zhang",
        department_id=dept.id,
        manager_id=manager.id,
        mobile="13800000000",
        feishu_open_id="ou_7d8a6e6df7621556ce0d21922b676706",
        dingtalk_user_id="zhangsan",
        wecom_user_id="zhang.san",
        locale="en-US",
    )
    async with unit_of_work(sessions) as s:
        (await s.get_one(Department, dept.id)).head_user_id = head.id
        campaign = await crud.create(
            s, actor=SYSTEM, entity_type="campaign", obj=Campaign(name="双十一", owner_id=manager.id)
        )
    await make_policy(
        sessions,
        levels=[
            {"offset": "-PT30M", "recipients": ["assignee"]},
            {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
            # No director above the manager: falls back to the department head (recorded with `via`).
            {"offset": "+PT1H", "recipients": ["director", f"channel:{each.id}"]},
        ],
    )

    # Fire the whole ladder in the past, then deliver now: receivers check the signing timestamp.
    t0 = real_now() - timedelta(hours=3)
    world = World(sessions, clock)
    clock.set(t0)
    task = await world.create(assignee_id=assignee.id, campaign_id=campaign.id, priority="high")
    for minutes in (30, 60, 120):
        clock.set(t0 + timedelta(minutes=minutes))
        assert (await world.sweep()).fired == 1
    clock.set(t0 + timedelta(minutes=150))
    await world.update(task, status=TaskStatus.done)
    assert {n.event_type for n in await world.notifications(task)} == SLA_TYPES

    clock.set(real_now())
    async with unit_of_work(sessions) as s:
        refused = await s.get_one(Channel, digested.id)
        refused.unhealthy_reason = "19021: sign match fail"
        await ops.channel_unhealthy(s, refused, now=clock.now())
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, clock)
        assert (await drain(d, each.id)).outcomes == {"success": 5}
        assert (await drain(d, digested.id)).digests == 1
    r = await client.post(f"/api/v1/channels/{each.id}/test", headers=await auth(sessions))
    assert r.json()["outcome"] == "success", r.text

    received = botsim.messages("each") + botsim.messages("digest")
    assert all(m["webhook_id"] == m["body"]["id"] and not m["duplicate"] for m in received)
    validated = [events.validate_event(m["body"]) for m in received]
    assert sorted(e.type for e in validated) == sorted(
        [*SLA_TYPES, "ops.channel_unhealthy", "channel.test", DIGEST_EVENT]
    )
    assert all(type(e) is events.EVENT_MODELS[e.type] for e in validated)
    (digest,) = [e for e in validated if isinstance(e, events.DigestEvent)]
    assert digest.data.count == 4 and {item.type for item in digest.data.items} == SLA_TYPES
    escalation = next(e for e in validated if e.type == "sla.escalation")
    assert isinstance(escalation, events.SlaEscalationEvent)
    recipients = escalation.data.recipients
    assert any(isinstance(r, events.EventPersonRecipient) and r.via for r in recipients)
    assert any(isinstance(r, events.EventChannelRecipient) and r.channel_id == each.id for r in recipients)
    breach = next(e for e in validated if isinstance(e, events.SlaBreachEvent))
    assert breach.data.assignee is not None and breach.data.assignee.wecom_user_id == "zhang.san"
    assert breach.data.campaign is not None and breach.data.campaign.name == "双十一"


def test_a_payload_that_drifts_from_the_schema_is_rejected():
    now = real_now().isoformat()
    body = {
        "id": "test-1-1",
        "type": "channel.test",
        "version": "1",
        "timestamp": now,
        "data": {"channel": {"id": 1, "name": "ops"}, "requested_by": None},
    }
    assert isinstance(events.validate_event(body), events.ChannelTestEvent)
    added = {**body, "data": {**body["data"], "requested_at": now}}
    missing = {**body, "data": {"channel": {"id": 1}, "requested_by": None}}
    unknown_type = {**body, "type": "channel.tested"}
    for wrong in (added, missing, unknown_type, {**body, "version": "2"}):
        with pytest.raises(ValidationError):
            events.validate_event(wrong)


def test_every_event_type_is_published_as_a_webhook_with_its_own_schema():
    doc = openapi_document()
    assert set(doc["webhooks"]) == set(events.EVENT_MODELS)
    for event_type, item in doc["webhooks"].items():
        op = item["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{events.EVENT_MODELS[event_type].__name__}"}
        assert {p["name"] for p in op["parameters"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert "whsec_" in op["description"] and "dedupe on `webhook-id`" in op["description"]
    # Receivers must ignore fields added within version 1: the published objects stay open.
    published = {k: v for k, v in doc["components"]["schemas"].items() if k in _event_model_names()}
    assert len(published) > 10 and all("additionalProperties" not in s for s in published.values())


def _event_model_names(cls: type[events.EventModel] = events.EventModel) -> set[str]:
    names: set[str] = set()
    for sub in cls.__subclasses__():
        names |= {sub.__name__, *_event_model_names(sub)}
    return names
