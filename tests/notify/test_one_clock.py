"""One clock for leases: the database's. Two notifiers, one whose clock runs 2 minutes ahead and
one 2 minutes behind, share one outbox: no lease is stolen, none is kept past its expiry, and
every message reaches the receiver exactly once (docs/adr/0009-one-clock.md)."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

from sqlalchemy import func, select

from shared.clock import FrozenClock
from shared.db import unit_of_work
from shared.models import ChannelKind, DeliveryAttempt, Notification
from shared.notify import delivery
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.notify.outbox import channels_with_due
from tests.conftest import real_now
from tests.factories import make_channel
from tests.notify.helpers import enqueue, expire_leases, make_dispatcher, statuses

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
SKEW = timedelta(minutes=2)


def skewed() -> tuple[FrozenClock, FrozenClock]:
    """A notifier host 2 minutes ahead of the database and one 2 minutes behind it."""
    return FrozenClock(real_now() + SKEW), FrozenClock(real_now() - SKEW)


async def lease_left_s(sessions, nid: int) -> float:
    """Seconds the row's lease still runs, on the database's clock."""
    async with unit_of_work(sessions) as s:
        left = await s.scalar(
            select(func.extract("epoch", Notification.lease_until - func.statement_timestamp())).where(
                Notification.id == nid
            )
        )
    return float(left)


async def test_a_notifier_ahead_cannot_steal_the_live_lease_of_one_behind(sessions, botsim):
    ahead, behind = skewed()
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"))
    ids = await enqueue(sessions, channel.id, 5, now=behind.now() - timedelta(minutes=1))
    async with unit_of_work(sessions) as s:
        taken = await delivery.claim_batch(s, channel.id, now=behind.now(), limit=10)
    assert [c.notification_id for c in taken] == ids
    # By its own clock the lease ended a minute ago; by the database's it has 60 s to run.
    async with unit_of_work(sessions) as s:
        assert await delivery.claim_batch(s, channel.id, now=ahead.now(), limit=10) == []
        assert await delivery.due_count(s, channel.id, now=ahead.now(), cap=10) == 0
        assert await channels_with_due(s, now=ahead.now()) == []
    assert 58 <= await lease_left_s(sessions, ids[0]) <= 60


async def test_a_notifier_ahead_keeps_its_lease_only_as_long_as_the_lease_lasts(sessions, botsim):
    ahead, behind = skewed()
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"))
    (nid,) = await enqueue(sessions, channel.id, 1, now=behind.now() - timedelta(minutes=1))
    async with unit_of_work(sessions) as s:
        (mine,) = await delivery.claim_batch(s, channel.id, now=ahead.now(), limit=1)
    # Not 3 minutes (its own clock + 60 s): 60 s on the database's clock.
    assert 58 <= await lease_left_s(sessions, nid) <= 60
    await expire_leases(sessions)  # the database's clock passes the lease: the one behind takes over
    async with unit_of_work(sessions) as s:
        (theirs,) = await delivery.claim_batch(s, channel.id, now=behind.now(), limit=1)
    assert (mine.attempt_no, theirs.attempt_no) == (1, 2)


async def test_two_skewed_notifiers_draining_one_outbox_deliver_every_message_once(
    settings, sessions, arq_redis, botsim
):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    botsim.faults("gw1", delay_rate=1.0, delay_s=0.2)  # sends overlap: each drain finds the other's leases
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    ahead, behind = skewed()
    ids = await enqueue(sessions, channel.id, 120, now=behind.now() - timedelta(minutes=1))
    async with Sender(max_connections=8) as http:
        early = make_dispatcher(settings, sessions, arq_redis, http, ahead)
        late = make_dispatcher(settings, sessions, arq_redis, http, behind)
        early.batch_size = late.batch_size = 20
        sent = {"early": 0, "late": 0}
        for _ in range(10):
            by_late, by_early = await asyncio.gather(drain(late, channel.id), drain(early, channel.id))
            sent["late"] += by_late.messages
            sent["early"] += by_early.messages
            if (await statuses(sessions)) == {"delivered": len(ids)}:
                break
    assert await statuses(sessions) == {"delivered": 120}
    accepted = botsim.messages("gw1")
    assert len(accepted) == 120 and not any(m["duplicate"] for m in accepted)
    assert botsim.stats()["gw1"]["duplicates"] == 0
    async with unit_of_work(sessions) as s:
        attempts = list(await s.scalars(select(DeliveryAttempt.outcome)))
    assert attempts == ["success"] * 120  # nobody sent a row another notifier held
    assert sent["early"] > 0 and sent["late"] > 0 and sent["early"] + sent["late"] == 120  # both took part
