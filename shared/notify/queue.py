"""Ringing the notifier through arq. Redis is only a doorbell: the outbox rows are the work, a
`drain` job empties one channel's queue, and the notifier's outbox sweep re-rings for anything
Redis lost (Redis is never the source of truth)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from arq.connections import ArqRedis

NOTIFY_QUEUE = "closeloop:notify"
WORKER_QUEUE = "closeloop:worker"
DRAIN_JOB = "drain"
# Drains of one channel that may run at once (each leases its own rows): lets several notifier
# processes share a busy unlimited channel. Rate-limited bots stay within their limit regardless,
# because every send takes a slot of the shared limiter first.
SLOTS = 2


async def ring(redis: ArqRedis, channel_ids: Iterable[int]) -> None:
    """Ask for the channels' queues to be drained now. A doorbell rung twice within 100 ms is
    one job; a drain already running when a new row lands is covered by the next ring or sweep."""
    bucket = int(time.time() * 10)
    for channel_id in sorted(set(channel_ids)):
        for slot in range(SLOTS):
            await redis.enqueue_job(
                DRAIN_JOB, channel_id, _job_id=f"drain:{channel_id}:{slot}:{bucket}", _queue_name=NOTIFY_QUEUE
            )


async def ring_at(redis: ArqRedis, channel_id: int, at: datetime) -> None:
    """Ask for a drain when a retry or a rate-limit slot comes due."""
    await redis.enqueue_job(
        DRAIN_JOB,
        channel_id,
        _job_id=f"drain:{channel_id}:at:{int(at.timestamp() * 10)}",
        _queue_name=NOTIFY_QUEUE,
        _defer_until=at,
    )
