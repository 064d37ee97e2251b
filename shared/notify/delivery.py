"""Delivering notifications: claim a batch with a lease, send, classify, record, schedule retries.

The HTTP call happens outside any transaction. A lease (not a held row lock) marks a row as in
flight; if the process dies mid-send the lease expires and another notifier takes the row over.
Leases are taken and judged on the database's clock (`statement_timestamp()`), never a
process's: a replica whose clock is off can neither steal a live lease nor keep one past its
expiry (docs/adr/0009-one-clock.md).
That is at-least-once: a receiver may see a duplicate only when a send succeeded but its answer
was lost, and a generic webhook retry keeps its `webhook-id` for that. A result is written back
only by the lease's owner (the attempt number it claimed is still the row's), so a slow sender
whose lease was taken over cannot overwrite the newer attempt's outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.chat.models import ChatApp
from shared.crypto import SecretDecryptionError, decrypt_secret
from shared.db import copy_rows, driver_connection
from shared.models import AttemptOutcome, Channel, Notification, NotificationStatus
from shared.notify.adapters import ADAPTERS, Classified, Target
from shared.notify.adapters.base import Envelope, fit
from shared.notify.http import Sender, TransportError
from shared.notify.outbox import DB_NOW, lease_free
from shared.notify.render import Message
from shared.notify.ssrf import UnsafeUrl
from shared.observability import logs
from shared.pages.links import PageLinks
from shared.redact import mask_urls
from shared.settings import Settings
from shared.sla import registry

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
# Permanent answers about one message (its size or shape), not about the bot's configuration.
# Every other permanent answer (bad token, signature, keyword, IP, URL) means the channel is
# misconfigured: it is marked unhealthy and its queue is held until someone fixes it.
MESSAGE_FAULTS = {"9499", "460101", "400402", "40058", "40008", "230001", "230025"}


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_s: float = 10.0
    max_attempts: int = 12
    max_age_s: float = 24 * 3600
    retry_base_s: float = 1.0
    retry_cap_s: float = 600.0
    allow_private: bool = False
    lease_s: float = LEASE.total_seconds()

    def __post_init__(self) -> None:
        if self.timeout_s >= self.lease_s / 2:
            raise ValueError("a send must end well inside its lease: keep the timeout under half the lease")

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_s)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with jitter, capped (attempt counts from 1)."""
        ceiling = min(self.retry_cap_s, self.retry_base_s * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)


def policy_from(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        timeout_s=settings.delivery_timeout_s,
        max_attempts=settings.delivery_max_attempts,
        max_age_s=settings.delivery_max_age_s,
        retry_base_s=settings.retry_base_s,
        retry_cap_s=settings.retry_cap_s,
        allow_private=settings.allow_private_webhooks,
        lease_s=settings.delivery_lease_s,
    )


@dataclass
class Claimed:
    notification_id: int
    attempt_no: int  # the row's attempt counter after this claim: the lease's identity
    budget_from: int  # attempts before the last replay do not count against max_attempts
    envelope: Envelope
    created_at: datetime
    request_id: str | None = None  # the API request that wrote the row (its log lines carry it)

    @property
    def locale(self) -> str | None:
        data = self.envelope.data
        return data.get("locale") or (data.get("assignee") or {}).get("locale")


@dataclass
class AttemptResult:
    classified: Classified
    http_status: int | None
    latency_ms: int


@dataclass
class Recorded:
    outcomes: Counter[str] = field(default_factory=Counter)
    retry_at: datetime | None = None  # the earliest retry this batch scheduled
    held: bool = False  # the channel's configuration was refused: stop sending to it
    lost_lease: int = 0  # results written as attempts only: another notifier had taken over


# HTTP answers about one request (a receiver disliking a payload), not about the endpoint itself.
MESSAGE_HTTP_FAULTS = {400, 413, 415, 422}


def channel_fault(r: AttemptResult) -> bool:
    """A permanent failure that says the channel is misconfigured (token, signature, keyword, IP,
    URL, key) rather than that one message was unacceptable."""
    c = r.classified
    if c.outcome != AttemptOutcome.permanent:
        return False
    if c.vendor_code:
        return c.vendor_code not in MESSAGE_FAULTS
    return r.http_status not in MESSAGE_HTTP_FAULTS


def fingerprint(channel: Channel, app: ChatApp | None = None) -> str:
    """What a send depended on: a refusal is held against the channel only if this still holds
    (an answer that arrives after someone fixed the channel, or the chat app it sends through,
    must not re-break it)."""
    config: tuple[object, ...] = (channel.url, channel.secret_encrypted, sorted(channel.keywords or []))
    if channel.chat_app_id is not None:
        config += (channel.chat_app_id, channel.chat_id)
    if app is not None:
        config += (app.app_id, app.app_secret_encrypted, app.enabled, app.archived_at is None)
    return hashlib.sha256(repr(config).encode()).hexdigest()[:16]


async def load_target(session: AsyncSession, channel_id: int) -> Target | None:
    """The channel as the sender needs it; None while it is disabled or held as unhealthy."""
    channel = await session.get(Channel, channel_id)
    if channel is None or not channel.enabled or not channel.healthy:
        return None
    return await target_for(session, channel)


async def target_for(session: AsyncSession, channel: Channel) -> Target:
    """`target_of`, with the chat app an app channel sends through."""
    app = await session.get(ChatApp, channel.chat_app_id) if channel.chat_app_id is not None else None
    return target_of(channel, app)


def target_of(channel: Channel, app: ChatApp | None = None) -> Target:
    secret, config_error = None, None
    encrypted = channel.secret_encrypted
    if channel.chat_app_id is not None:  # an app channel signs in with its app's secret
        if app is None or app.archived_at is not None or not app.enabled:
            config_error = f"chat app {channel.chat_app_id} is disabled or archived"
        encrypted = app.app_secret_encrypted if app is not None else None
    if encrypted is not None:
        try:
            secret = decrypt_secret(encrypted)
        except SecretDecryptionError as exc:
            config_error = str(exc)
    return Target(
        id=channel.id,
        kind=channel.kind.value,
        url=channel.url,
        secret=secret,
        keywords=list(channel.keywords or []),
        rate_limits=channel.rate_limits,
        config_error=config_error,
        fingerprint=fingerprint(channel, app),
        app_id=app.app_id if app is not None else None,
        chat_id=channel.chat_id,
    )


_N = cast(Table, Notification.__table__)


def with_links(
    payload: dict[str, Any], public_url: str, *, pages: PageLinks | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The outbox stores where an item lives in the API (`subject.path`); what is sent carries the
    full link (`subject.url`), built from this deployment's PUBLIC_URL when the message leaves, and
    the page people open (`subject.page_url`: the team's frontend or the signed item page)."""
    subject = payload.get("subject")
    if not isinstance(subject, dict) or "path" not in subject:
        return payload
    subject = {k: v for k, v in subject.items() if k != "path"}
    subject["url"] = f"{public_url}{payload['subject']['path']}"
    if pages is not None and now is not None and registry.find(str(subject.get("type"))) is not None:
        subject["page_url"] = pages.url(subject["type"], subject["id"], now=now)
    return {**payload, "subject": subject}


async def claim_batch(
    session: AsyncSession,
    channel_id: int,
    *,
    now: datetime,
    limit: int,
    lease: timedelta = LEASE,
    public_url: str = "",
    pages: PageLinks | None = None,
) -> list[Claimed]:
    """Lease up to `limit` due notifications of one channel (oldest first), skipping rows that
    another notifier is claiming this very moment. `now` decides what is due (business time);
    the lease itself runs on the database's clock."""
    due = (
        select(_N.c.id)
        .where(
            _N.c.channel_id == channel_id,
            _N.c.status == NotificationStatus.pending.value,
            _N.c.next_attempt_at <= now,
            lease_free(),
        )
        .order_by(_N.c.next_attempt_at, _N.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    conn = await session.connection()
    rows = await conn.execute(
        update(_N)
        .where(_N.c.id.in_(due))
        .values(lease_until=DB_NOW + lease, attempts=_N.c.attempts + 1, updated_at=now)
        .returning(
            _N.c.id,
            _N.c.attempts,
            _N.c.budget_from,
            _N.c.message_id,
            _N.c.event_type,
            _N.c.payload,
            _N.c.created_at,
            _N.c.replayed_at,
            _N.c.request_id,
        )
    )
    claimed = [
        Claimed(
            notification_id=r.id,
            attempt_no=r.attempts,
            budget_from=r.budget_from,
            envelope=Envelope(
                str(r.message_id), r.event_type, r.created_at, with_links(r.payload, public_url, pages=pages, now=now)
            ),
            created_at=r.replayed_at or r.created_at,
            request_id=r.request_id,
        )
        for r in rows
    ]
    claimed.sort(key=lambda c: (c.envelope.occurred_at, c.notification_id))
    return claimed


async def release(session: AsyncSession, items: list[Claimed]) -> None:
    """Hand claimed rows back unsent: lease cleared, the claim's attempt not counted."""
    await session.execute(
        update(_N)
        .where(
            tuple_(_N.c.id, _N.c.attempts).in_([(c.notification_id, c.attempt_no) for c in items]),
            _N.c.status == NotificationStatus.pending.value,
        )
        .values(lease_until=None, attempts=_N.c.attempts - 1)
    )


async def due_count(session: AsyncSession, channel_id: int, *, now: datetime, cap: int) -> int:
    """How many notifications of a channel wait to be sent now (counted up to `cap`)."""
    waiting = (
        select(_N.c.id)
        .where(
            _N.c.channel_id == channel_id,
            _N.c.status == NotificationStatus.pending.value,
            _N.c.next_attempt_at <= now,
            lease_free(),
        )
        .limit(cap)
        .subquery()
    )
    return int(await session.scalar(select(func.count()).select_from(waiting)) or 0)


async def send(
    client: Sender,
    target: Target,
    message: Message,
    envelope: Envelope,
    *,
    now: datetime,
    policy: DeliveryPolicy,
) -> AttemptResult:
    """One HTTP attempt, signed afresh and fitted to the vendor's size limit. Never raises: every
    failure becomes a classified result."""
    if target.config_error is not None:
        # Sending unsigned would only earn a vendor rejection; no retry fixes a key mismatch.
        return AttemptResult(Classified(AttemptOutcome.permanent, error=target.config_error), None, 0)
    adapter = ADAPTERS[target.kind]  # type: ignore[index]
    started = time.perf_counter()
    status: int | None = None
    try:
        async with asyncio.timeout(policy.timeout_s):
            if adapter.send is not None:  # an app API: its own requests, guarded by the same client
                reply = await adapter.send(client, target, message, envelope, now, policy.allow_private)
            else:
                prepared = fit(adapter, target, message, envelope, now)
                # The SSRF guard runs inside: the address checked is the address connected to.
                reply = await client.post(
                    prepared.url, prepared.body, prepared.headers, allow_private=policy.allow_private
                )
        status = reply.status
        classified = adapter.classify(reply)
    except UnsafeUrl as exc:
        classified = Classified(AttemptOutcome.permanent, error=f"unsafe URL: {exc}")
    except TimeoutError:
        classified = Classified(AttemptOutcome.retryable, error=f"Timeout: no answer within {policy.timeout_s:g} s")
    except (*TransportError, OSError) as exc:
        classified = Classified(AttemptOutcome.retryable, error=mask_urls(f"{type(exc).__name__}: {exc}")[:300])
    except Exception as exc:  # a bug of ours (say, in an adapter): keep the message, loudly
        log.exception("sending notification %s to channel %s failed", envelope.message_id, target.id)
        error = mask_urls(f"internal error: {type(exc).__name__}: {exc}")[:300]  # attempts are read by viewers
        classified = Classified(AttemptOutcome.retryable, error=error)
    return AttemptResult(classified, status, int((time.perf_counter() - started) * 1000))


def log_attempts(
    target: Target, items: list[Claimed], results: list[AttemptResult], *, digest_id: uuid.UUID | None = None
) -> None:
    """One line per notification sent (a digest: one per notification inside it), carrying the
    request id of the API request that wrote it."""
    for c, r in zip(items, results, strict=True):
        k = r.classified
        with logs.for_request(c.request_id):
            log.info(
                "notification %s to channel %s: %s",
                c.notification_id,
                target.id,
                k.outcome.value,
                extra={
                    "notification_id": c.notification_id,
                    "channel_id": target.id,
                    "attempt": c.attempt_no,
                    "outcome": k.outcome.value,
                    "http_status": r.http_status,
                    "vendor_code": k.vendor_code,
                    "latency_ms": r.latency_ms,
                    "digest_id": str(digest_id) if digest_id else None,
                },
            )


_ATTEMPT_COLUMNS = (
    "notification_id",
    "channel_id",
    "attempt_no",
    "attempted_at",
    "latency_ms",
    "outcome",
    "http_status",
    "vendor_code",
    "error",
    "digest_id",
)


async def record(
    session: AsyncSession,
    target: Target,
    items: list[Claimed],
    results: list[AttemptResult],
    *,
    now: datetime,
    policy: DeliveryPolicy,
    digest_id: uuid.UUID | None = None,
) -> Recorded:
    """Store every attempt and each notification's next state (one statement for the batch), and
    the channel's health. A row whose lease was taken over keeps its newer state."""
    out = Recorded()
    await copy_rows(
        session,
        "delivery_attempts",
        _ATTEMPT_COLUMNS,
        [
            (
                c.notification_id,
                target.id,
                c.attempt_no,
                now,
                r.latency_ms,
                r.classified.outcome.value,
                r.http_status,
                r.classified.vendor_code,
                r.classified.error,
                digest_id,
            )
            for c, r in zip(items, results, strict=True)
        ],
    )
    # A refusal of the channel's configuration is one message's fate, not the batch's: the first
    # such row is dead-lettered (replayable), the rest wait, uncounted, until the channel is fixed.
    fault_seen = False
    states: list[tuple[int, int, str, datetime | None, datetime | None, str | None, int]] = []
    for c, r in zip(items, results, strict=True):
        k = r.classified
        if k.outcome == AttemptOutcome.success:
            out.outcomes[k.outcome.value] += 1
            states.append((c.notification_id, c.attempt_no, NotificationStatus.delivered.value, None, now, None, 0))
            continue
        error = k.error or f"vendor code {k.vendor_code}"
        if channel_fault(r):
            out.held = True
            if fault_seen:
                out.outcomes["held"] += 1
                states.append((c.notification_id, c.attempt_no, NotificationStatus.pending.value, None, None, error, 1))
                continue
            fault_seen = True
        out.outcomes[k.outcome.value] += 1
        age = (now - c.created_at).total_seconds()
        tries = c.attempt_no - c.budget_from
        delay = max(policy.backoff(tries), k.retry_after_s or 0)
        exhausted = tries >= policy.max_attempts or age + delay > policy.max_age_s
        if k.outcome == AttemptOutcome.permanent or exhausted:
            states.append((c.notification_id, c.attempt_no, NotificationStatus.dead.value, None, None, error, 0))
        else:
            retry_at = now + timedelta(seconds=delay)
            out.retry_at = min(out.retry_at or retry_at, retry_at)
            states.append((c.notification_id, c.attempt_no, NotificationStatus.pending.value, retry_at, None, error, 0))
    apg = await driver_connection(session)
    kept = await apg.fetch(
        """UPDATE notifications AS n
           SET status = v.status, next_attempt_at = coalesce(v.next_at, n.next_attempt_at),
               delivered_at = v.delivered_at, last_error = v.error, lease_until = NULL,
               budget_from = n.budget_from + v.uncounted,
               digest_id = CASE WHEN v.delivered_at IS NULL THEN n.digest_id ELSE $7 END, updated_at = $8
           FROM unnest($1::bigint[], $2::int[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
                       $9::int[])
                AS v(id, attempt_no, status, next_at, delivered_at, error, uncounted)
           WHERE n.id = v.id AND n.attempts = v.attempt_no AND n.status = 'pending'
           RETURNING n.id""",
        [s[0] for s in states],
        [s[1] for s in states],
        [s[2] for s in states],
        [s[3] for s in states],
        [s[4] for s in states],
        [s[5] for s in states],
        digest_id,
        now,
        [s[6] for s in states],
    )
    out.lost_lease = len(states) - len(kept)
    await _channel_health(session, target, results, now=now, out=out)
    return out


async def _channel_health(
    session: AsyncSession, target: Target, results: list[AttemptResult], *, now: datetime, out: Recorded
) -> None:
    from shared.notify.ops import channel_unhealthy  # ops alerts go through the outbox too

    # FOR NO KEY UPDATE: outbox inserts referencing the channel (key-share locks) go on meanwhile.
    channel = (
        await session.scalars(select(Channel).where(Channel.id == target.id).with_for_update(key_share=True))
    ).one()
    failures = [r.classified for r in results if r.classified.outcome != AttemptOutcome.success]
    if len(failures) < len(results):
        channel.last_success_at = now
    if failures:
        last = failures[-1]
        channel.last_error = last.error or f"vendor code {last.vendor_code}"
    faults = [r.classified for r in results if channel_fault(r)]
    # One operator alert per episode, and only if the channel is still configured as it was when
    # this send started: a late answer must not re-break a channel someone has just fixed.
    app = await session.get(ChatApp, channel.chat_app_id) if channel.chat_app_id is not None else None
    if faults and channel.healthy and fingerprint(channel, app) == target.fingerprint:
        reason = faults[0].error or f"vendor code {faults[0].vendor_code}"
        if faults[0].vendor_code:
            reason = f"{faults[0].vendor_code}: {reason}"
        channel.healthy, channel.unhealthy_since, channel.unhealthy_reason = False, now, reason
        await channel_unhealthy(session, channel, now=now)
    await session.flush()
