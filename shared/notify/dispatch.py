"""Draining one channel's queue: the notifier's whole job, per bot.

Unlimited channels (generic webhooks by default) go in leased batches sent concurrently. A bot
with vendor limits takes one slot of its shared (Redis) rate limit before every message; when
its queue holds more than the limit lets out now, the waiting messages are coalesced into one
digest per slot, so a burst of 200 breaches reaches a DingTalk group as a handful of messages and
never trips its 10-minute throttle.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import Clock
from shared.db import unit_of_work
from shared.notify import delivery, digest
from shared.notify.adapters.base import Target
from shared.notify.delivery import AttemptResult, Claimed, DeliveryPolicy, Recorded
from shared.notify.http import Sender
from shared.notify.ratelimit import RateLimiter, Window, limits_for
from shared.notify.render import Message, render_safely
from shared.outage import outlasting
from shared.pages.links import PageLinks


@dataclass
class Dispatcher:
    sessions: async_sessionmaker[AsyncSession]
    http: Sender
    limiter: RateLimiter
    clock: Clock
    policy: DeliveryPolicy
    tz: ZoneInfo
    public_url: str
    pages: PageLinks | None = None  # where cards' buttons lead; None: the item's API URL
    window_scale: float = 1.0
    batch_size: int = 100
    send_concurrency: int = 100  # = batch_size: a round is one wave of sends, well inside the lease
    # Then hand the channel back to the queue (fair to other channels, and well inside a job's timeout).
    max_rounds: int = 50
    max_seconds: float = 60.0


@dataclass
class DrainReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    messages: int = 0  # HTTP requests made
    digests: int = 0
    retry_at: datetime | None = None  # when this channel needs another look (backoff, rate limit)
    held: bool = False
    more: bool = False  # stopped after max_rounds with work left
    rate_limit_waits: int = 0  # times the channel's limit had no room

    def add(self, rec: Recorded) -> None:
        self.outcomes.update(rec.outcomes)
        self.held = self.held or rec.held
        if rec.retry_at is not None:
            self.later(rec.retry_at)

    def later(self, at: datetime) -> None:
        self.retry_at = min(self.retry_at or at, at)


def limiter_key(channel_id: int) -> str:
    return f"channel:{channel_id}"


async def drain(d: Dispatcher, channel_id: int) -> DrainReport:
    report = DrainReport()
    started = time.monotonic()
    for _ in range(d.max_rounds):
        if time.monotonic() - started > d.max_seconds:
            break
        async with unit_of_work(d.sessions) as s:
            target = await delivery.load_target(s, channel_id)
        if target is None:  # disabled or held: its queue waits
            return report
        windows = limits_for(target.kind, target.rate_limits, scale=d.window_scale)
        if not windows:
            go_on = await _unlimited_round(d, target, report)
        else:
            go_on = await _limited_round(d, target, windows, report)
        if not go_on or report.held:
            return report
    report.more = True
    return report


async def _unlimited_round(d: Dispatcher, target: Target, report: DrainReport) -> bool:
    async with unit_of_work(d.sessions) as s:
        claimed = await delivery.claim_batch(
            s,
            target.id,
            now=d.clock.now(),
            limit=d.batch_size,
            lease=d.policy.lease,
            public_url=d.public_url,
            pages=d.pages,
        )
    if not claimed:
        return False
    slots = asyncio.Semaphore(d.send_concurrency)

    async def one(c: Claimed) -> AttemptResult:
        async with slots:
            now = d.clock.now()
            message = _message(d, target, c, now)
            return await delivery.send(d.http, target, message, c.envelope, now=now, policy=d.policy)

    results = await asyncio.gather(*(one(c) for c in claimed))
    report.messages += len(claimed)
    await _record(d, target, claimed, list(results), report)
    return len(claimed) == d.batch_size


async def _limited_round(d: Dispatcher, target: Target, windows: tuple[Window, ...], report: DrainReport) -> bool:
    key = limiter_key(target.id)
    spare, wait = await d.limiter.peek(key, windows)
    if spare == 0:  # no slot now: come back when one frees up
        report.rate_limit_waits += 1
        report.later(_after(d.clock.now(), wait))
        return False
    async with unit_of_work(d.sessions) as s:
        backlog = await delivery.due_count(s, target.id, now=d.clock.now(), cap=spare + 1)
    if backlog == 0:
        return False
    limit = 1 if backlog <= spare else digest.items_per_digest(target.kind)
    async with unit_of_work(d.sessions) as s:
        claimed = await delivery.claim_batch(
            s, target.id, now=d.clock.now(), limit=limit, lease=d.policy.lease, public_url=d.public_url, pages=d.pages
        )
    if not claimed:
        return False  # another notifier took them
    now = d.clock.now()
    digest_id = None
    if len(claimed) == 1:
        c = claimed[0]
        message, envelope = _message(d, target, c, now), c.envelope
    else:
        digest_id = digest.digest_id(claimed)
        message, envelope = digest.build(claimed, digest_id=digest_id, tz=d.tz, now=now, public_url=d.public_url)
    # The slot is taken at the last moment, so the time between our grant and the vendor's arrival
    # stamp is one HTTP request (the limiter's margin covers that), not our own DB work.
    wait = await d.limiter.acquire(key, windows)
    if wait > 0:  # another replica took the room meanwhile: hand the rows back untouched
        async with unit_of_work(d.sessions) as s:
            await delivery.release(s, claimed)
        report.rate_limit_waits += 1
        report.later(_after(d.clock.now(), wait))
        return False
    result = await delivery.send(d.http, target, message, envelope, now=d.clock.now(), policy=d.policy)
    report.messages += 1
    report.digests += digest_id is not None
    if result.classified.retry_after_s:  # the vendor throttled the bot: nobody sends to it meanwhile
        pause = result.classified.retry_after_s * d.window_scale
        await d.limiter.block(key, pause)
        result = replace(result, classified=replace(result.classified, retry_after_s=pause))
    await _record(d, target, claimed, [result] * len(claimed), report, digest_id=digest_id)
    return True


async def _record(
    d: Dispatcher,
    target: Target,
    claimed: list[Claimed],
    results: list[AttemptResult],
    report: DrainReport,
    *,
    digest_id: uuid.UUID | None = None,
) -> None:

    async def write() -> Recorded:
        async with unit_of_work(d.sessions) as s:
            return await delivery.record(
                s, target, claimed, results, now=d.clock.now(), policy=d.policy, digest_id=digest_id
            )

    # The messages are out: if PostgreSQL is restarting, wait for it (inside the lease) rather than
    # leave the rows leased, which would send them all again once the lease ran out.
    report.add(await outlasting("recording deliveries", write, give_up_after_s=d.policy.lease_s / 2))
    delivery.log_attempts(target, claimed, results, digest_id=digest_id)


def _message(d: Dispatcher, target: Target, c: Claimed, now: datetime) -> Message:
    if target.kind == "webhook":  # a generic webhook carries the event itself, not chat text
        return Message(title=c.envelope.event_type, severity="info")
    return render_safely(c.envelope.event_type, c.envelope.data, locale=c.locale, tz=d.tz, sent_at=now)


def _after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
