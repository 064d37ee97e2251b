"""When a vendor refuses a channel's configuration: unhealthy, one operator alert, the queue held
(not dead-lettered) until the channel is fixed; dead letters replayed; channels tested for real."""

from __future__ import annotations

import base64

from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import ChannelKind, DeliveryAttempt, Notification, NotificationStatus
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from tests.factories import auth, make_channel
from tests.notify.helpers import enqueue, make_dispatcher, statuses
from tests.test_cli import closeloop

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


async def test_a_refused_channel_is_held_with_one_ops_alert_and_resumes_when_fixed(
    settings, sessions, arq_redis, clock, botsim, client
):
    botsim.add_bots({"fs1": {"kind": "feishu", "secret": "right"}, "ops": {"kind": "generic", "secret": WHSEC}})
    ops = await make_channel(
        sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "ops"), secret=WHSEC, ops_alerts=True
    )
    feishu = await make_channel(sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs1"), secret="wrong")
    ids = await enqueue(sessions, feishu.id, 4, now=clock.now())
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, clock)
        report = await drain(d, feishu.id)
        assert report.held and report.outcomes == {"permanent": 1}
        assert (await drain(d, feishu.id)).messages == 0  # held: nothing more is tried
        assert (await drain(d, ops.id)).outcomes == {"success": 1}
    assert botsim.stats()["fs1"]["rejected"] == {"19021": 1}
    (alert,) = botsim.messages("ops")
    assert alert["body"]["type"] == "ops.channel_unhealthy"
    assert alert["body"]["data"]["channel"]["id"] == feishu.id and "19021" in alert["body"]["data"]["reason"]
    headers = await auth(sessions)
    seen = (await client.get(f"/api/v1/channels/{feishu.id}", headers=headers)).json()
    assert seen["healthy"] is False and "19021" in seen["unhealthy_reason"]
    failing = (await client.get("/api/v1/channels?healthy=false", headers=headers)).json()["items"]
    assert [c["id"] for c in failing] == [feishu.id]
    assert (await client.get("/api/v1/notifications?status=dead", headers=headers)).json()["items"][0]["id"] == ids[0]
    async with unit_of_work(sessions) as s:
        waiting = list(await s.scalars(select(Notification).where(Notification.id.in_(ids[1:]))))
    assert all(n.status == NotificationStatus.pending and n.attempts == 0 for n in waiting)

    # Fixed: the secret is corrected; the held messages flow, the dead one is replayed.
    r = await client.patch(f"/api/v1/channels/{feishu.id}", headers=headers, json={"secret": "right"})
    assert r.status_code == 200 and r.json()["healthy"] is True
    r = await client.post(f"/api/v1/notifications/{ids[0]}/replay", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, clock)
        assert (await drain(d, feishu.id)).outcomes == {"success": 4}
    assert len(botsim.messages("fs1")) == 4 and len(botsim.messages("ops")) == 1
    assert (await statuses(sessions)) == {"delivered": 5}
    history = (await client.get(f"/api/v1/notifications/{ids[0]}/attempts", headers=headers)).json()["items"]
    assert [(a["attempt_no"], a["outcome"], a["vendor_code"]) for a in history] == [
        (1, "permanent", "19021"),
        (2, "success", "0"),
    ]
    by_channel = (await client.get(f"/api/v1/channels/{feishu.id}/attempts", headers=headers)).json()["items"]
    assert len(by_channel) == 5


async def test_replay_is_only_for_dead_letters(sessions, clock, client):
    channel = await make_channel(sessions)
    (nid,) = await enqueue(sessions, channel.id, 1, now=clock.now())
    headers = await auth(sessions)
    r = await client.post(f"/api/v1/notifications/{nid}/replay", headers=headers)
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert "pending" in r.json()["detail"]
    assert (await client.post("/api/v1/notifications/999/replay", headers=headers)).status_code == 404


async def test_a_replayed_dead_letter_gets_a_fresh_budget_and_keeps_its_webhook_id(
    settings, sessions, arq_redis, clock, botsim, client
):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    botsim.faults("gw1", http_500=1.0)
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    (nid,) = await enqueue(sessions, channel.id, 1, now=clock.now())
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, clock, max_attempts=2)
        await drain(d, channel.id)
        clock.advance(5)
        await drain(d, channel.id)
        assert await statuses(sessions) == {"dead": 1}
        r = await client.post(f"/api/v1/notifications/{nid}/replay", headers=await auth(sessions))
        assert r.status_code == 200 and r.json()["replayed_at"] is not None
        await drain(d, channel.id)  # fails again: the budget is fresh, so it stays pending …
        assert await statuses(sessions) == {"pending": 1}
        botsim.faults("gw1", http_500=0.0)
        clock.advance(5)
        assert (await drain(d, channel.id)).outcomes == {"success": 1}  # … and gets through
    async with unit_of_work(sessions) as s:
        n = await s.get_one(Notification, nid)
        assert len(list(await s.scalars(select(DeliveryAttempt)))) == 4
    assert botsim.messages("gw1")[0]["webhook_id"] == str(n.message_id)


async def test_channel_test_returns_the_vendors_answer_and_clears_an_unhealthy_mark(sessions, botsim, client, stack):
    botsim.add_bots({"dt1": {"kind": "dingtalk", "secret": "SECright", "keywords": ["告警"]}})
    channel = await make_channel(
        sessions,
        kind=ChannelKind.dingtalk,
        url=botsim.url("dingtalk", "dt1"),
        secret="SECwrong",
        keywords=["告警"],
        healthy=False,
        unhealthy_reason="310000: sign not match",
    )
    headers = await auth(sessions)
    r = await client.post(f"/api/v1/channels/{channel.id}/test", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() | {"latency_ms": 0} == {
        "outcome": "permanent",
        "http_status": 200,
        "vendor_code": "310000",
        "error": "sign not match",
        "latency_ms": 0,
        "healthy": False,
    }
    async with unit_of_work(sessions) as s:  # fix the secret behind the API's back, then test from the CLI
        from shared.crypto import encrypt_secret
        from shared.models import Channel

        (await s.get_one(Channel, channel.id)).secret_encrypted = encrypt_secret("SECright")
    loopback = {"CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS": "true", "COLUMNS": "200"}
    proc = closeloop(stack, "channel", "test", str(channel.id), "--locale", "en-US", env=loopback)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "success" in proc.stdout
    (message,) = botsim.messages("dt1")
    assert "告警" in message["body"]["markdown"]["text"] and "test message" in message["body"]["markdown"]["text"]
    assert (await client.get(f"/api/v1/channels/{channel.id}", headers=headers)).json()["healthy"] is True
    assert closeloop(stack, "channel", "test", "999").returncode == 2
    viewer = await auth(sessions, role="viewer")
    assert (await client.post(f"/api/v1/channels/{channel.id}/test", headers=viewer)).status_code == 403


async def test_a_refused_batch_costs_one_dead_letter_not_the_whole_batch(settings, sessions, arq_redis, clock, botsim):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    wrong = "whsec_" + base64.b64encode(b"another-secret-another-secret-32").decode()
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=wrong)
    ids = await enqueue(sessions, channel.id, 10, now=clock.now())
    async with Sender() as http:
        report = await drain(make_dispatcher(settings, sessions, arq_redis, http, clock), channel.id)
    assert report.held and report.outcomes == {"permanent": 1, "held": 9}
    assert await statuses(sessions) == {"dead": 1, "pending": 9}
    async with unit_of_work(sessions) as s:
        waiting = list(await s.scalars(select(Notification).where(Notification.status == NotificationStatus.pending)))
    assert all(n.attempts - n.budget_from == 0 for n in waiting)  # the refusal did not use their retries
    assert len(ids) == 10


async def test_a_late_refusal_does_not_re_break_a_channel_fixed_meanwhile(settings, sessions, clock):
    from shared.crypto import encrypt_secret
    from shared.models import AttemptOutcome, Channel
    from shared.notify import delivery
    from shared.notify.adapters.base import Classified
    from shared.notify.delivery import AttemptResult

    channel = await make_channel(sessions, kind=ChannelKind.webhook, secret=WHSEC)
    (nid,) = await enqueue(sessions, channel.id, 1, now=clock.now())
    async with unit_of_work(sessions) as s:
        target = await delivery.load_target(s, channel.id)
        claimed = await delivery.claim_batch(s, channel.id, now=clock.now(), limit=1)
    async with unit_of_work(sessions) as s:  # an admin fixes the secret while the send is in flight
        (await s.get_one(Channel, channel.id)).secret_encrypted = encrypt_secret(WHSEC.replace("w", "W", 1)[:-2] + "==")
    refused = AttemptResult(Classified(AttemptOutcome.permanent, error="HTTP 401"), 401, 3)
    async with unit_of_work(sessions) as s:
        await delivery.record(s, target, claimed, [refused], now=clock.now(), policy=delivery.policy_from(settings))
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Channel, channel.id)).healthy
        assert (
            list(await s.scalars(select(Notification).where(Notification.event_type == "ops.channel_unhealthy"))) == []
        )
    assert nid


def test_which_permanent_answers_blame_the_channel():
    from shared.models import AttemptOutcome
    from shared.notify.adapters.base import Classified
    from shared.notify.delivery import AttemptResult, channel_fault

    def answer(status, code=None):
        return AttemptResult(Classified(AttemptOutcome.permanent, vendor_code=code), status, 1)

    assert channel_fault(answer(200, "19021")) and channel_fault(answer(200, "310000"))
    assert not channel_fault(answer(200, "460101")) and not channel_fault(answer(200, "9499"))
    assert channel_fault(answer(401)) and channel_fault(answer(404)) and channel_fault(answer(None))
    assert not channel_fault(answer(400)) and not channel_fault(answer(413)) and not channel_fault(answer(422))
    retry = AttemptResult(Classified(AttemptOutcome.retryable, error="HTTP 500"), 500, 1)
    assert not channel_fault(retry)


async def test_channel_test_takes_a_slot_of_the_bots_shared_limit(sessions, botsim, client, arq_redis):
    from shared.notify.dispatch import limiter_key
    from shared.notify.ratelimit import RateLimiter, limits_for

    botsim.add_bots({"wc1": {"kind": "wecom"}})
    channel = await make_channel(sessions, kind=ChannelKind.wecom, url=botsim.url("wecom", "wc1"))
    limiter = RateLimiter(arq_redis)
    assert await limiter.acquire(limiter_key(channel.id), limits_for("wecom", None), n=20) == 0.0  # a full minute
    r = await client.post(f"/api/v1/channels/{channel.id}/test", headers=await auth(sessions))
    assert r.status_code == 200 and r.json()["outcome"] == "retryable" and "rate limit" in r.json()["error"]
    assert botsim.messages("wc1") == []
