"""Never lose an alert: flaky receivers, stale senders, oversized bodies, unresolvable hosts."""

from __future__ import annotations

import base64
from datetime import timedelta

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AttemptOutcome, ChannelKind, DeliveryAttempt, Notification, NotificationStatus
from shared.notify import delivery
from shared.notify.adapters.base import Classified
from shared.notify.delivery import AttemptResult, DeliveryPolicy
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.notify.render import Message
from tests.factories import make_channel
from tests.notify.helpers import enqueue, expire_leases, make_dispatcher, sla_payload, statuses

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


async def test_1000_to_a_flaky_webhook_all_arrive_and_duplicates_share_their_id(
    settings, sessions, arq_redis, clock, botsim
):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    botsim.faults("gw1", http_500=0.3, drop_rate=0.1, seed=7)
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    await enqueue(sessions, channel.id, 1000, now=clock.now())
    async with Sender(max_connections=4) as http:  # botsim's accept queue holds 5
        # Short backoff so the injected clock stays near real time (receivers check timestamps).
        d = make_dispatcher(
            settings, sessions, arq_redis, http, clock, retry_base_s=0.5, retry_cap_s=2.0, max_attempts=40
        )
        for _ in range(100):
            await drain(d, channel.id)
            async with unit_of_work(sessions) as s:  # the next retry anyone booked
                next_at = await s.scalar(
                    select(func.min(Notification.next_attempt_at)).where(
                        Notification.status == NotificationStatus.pending
                    )
                )
            if next_at is None:
                break
            clock.set(max(clock.now(), next_at) + timedelta(seconds=0.5))
    assert await statuses(sessions) == {"delivered": 1000}
    async with unit_of_work(sessions) as s:
        ids = {str(m) for m in await s.scalars(select(Notification.message_id))}
        outcomes = [a.outcome for a in await s.scalars(select(DeliveryAttempt))]
    accepted = botsim.messages("gw1")
    assert {m["webhook_id"] for m in accepted} == ids  # every one arrived
    duplicates = [m for m in accepted if m["duplicate"]]
    assert len(accepted) - len(duplicates) == 1000
    assert all(m["webhook_id"] in ids for m in duplicates)
    faults = botsim.stats()["gw1"]["faults"]
    assert faults["http_500"] > 200 and faults["drop"] > 50  # the faults really happened …
    # … each was retried (so were connections the receiver's small accept queue reset), none given up
    assert outcomes.count(AttemptOutcome.retryable) >= faults["http_500"] + faults["drop"]
    assert AttemptOutcome.permanent not in outcomes


async def test_a_stale_sender_never_overwrites_the_newer_attempt(settings, sessions, clock, botsim):
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"))
    (nid,) = await enqueue(sessions, channel.id, 1, now=clock.now())
    policy = delivery.policy_from(settings)
    async with unit_of_work(sessions) as s:
        (slow,) = await delivery.claim_batch(s, channel.id, now=clock.now(), limit=1)
        target = await delivery.load_target(s, channel.id)
    await expire_leases(sessions)  # the slow sender's lease runs out (on the database's clock) …
    async with unit_of_work(sessions) as s:
        (fresh,) = await delivery.claim_batch(s, channel.id, now=clock.now(), limit=1)  # … and it is taken over
        ok = AttemptResult(Classified(AttemptOutcome.success), 204, 5)
        await delivery.record(s, target, [fresh], [ok], now=clock.now(), policy=policy)
    async with unit_of_work(sessions) as s:  # the slow one finally reports a failure
        failed = AttemptResult(Classified(AttemptOutcome.retryable, error="HTTP 500"), 500, 9000)
        rec = await delivery.record(s, target, [slow], [failed], now=clock.now(), policy=policy)
    assert rec.lost_lease == 1
    async with unit_of_work(sessions) as s:
        n = await s.get_one(Notification, nid)
        attempts = list(await s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.attempt_no)))
    assert (n.status, n.attempts) == (NotificationStatus.delivered, 2)
    assert [(a.attempt_no, a.outcome) for a in attempts] == [(1, "retryable"), (2, "success")]


async def test_oversized_alerts_are_fitted_to_every_vendors_limit(settings, sessions, arq_redis, clock, botsim):
    botsim.add_bots(
        {
            "fs1": {"kind": "feishu", "keywords": ["Closeloop"]},
            "dt1": {"kind": "dingtalk", "keywords": ["Closeloop"]},
            "wc1": {"kind": "wecom"},
        }
    )
    huge = "超长标题" * 3000  # 36 KB of title alone
    kinds = {"fs1": ChannelKind.feishu, "dt1": ChannelKind.dingtalk, "wc1": ChannelKind.wecom}
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, clock)
        for bot, kind in kinds.items():
            channel = await make_channel(
                sessions, kind=kind, url=botsim.url(kind.value, bot), keywords=[] if bot == "wc1" else ["Closeloop"]
            )
            await enqueue(sessions, channel.id, 1, now=clock.now(), start=channel.id * 100, title=huge)
            report = await drain(d, channel.id)
            assert report.outcomes == {"success": 1}, bot
    stats = botsim.stats()
    assert all(stats[b]["accepted"] == 1 and not stats[b]["rejected"] for b in kinds)
    fs = botsim.messages("fs1")[0]["body"]["card"]
    assert "Closeloop" in fs["header"]["title"]["content"] and "…" in fs["header"]["title"]["content"]


async def test_an_unresolvable_host_is_retried_not_dropped(settings, clock):
    from shared.notify.adapters.base import Envelope, Target

    target = Target(id=1, kind="webhook", url="https://closeloop-nowhere.invalid/hook", secret=None, keywords=[])
    envelope = Envelope("m1", "sla.breach", clock.now(), sla_payload(1, "x", now=clock.now()))
    async with Sender() as http:
        result = await delivery.send(
            http,
            target,
            Message(title="x", severity="info"),
            envelope,
            now=clock.now(),
            policy=DeliveryPolicy(timeout_s=3, allow_private=False),
        )
    assert result.classified.outcome == AttemptOutcome.retryable
    assert "DNS" in result.classified.error or "Timeout" in result.classified.error
