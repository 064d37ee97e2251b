"""Handing notifications to the notifier through arq. Redis is only a doorbell: the outbox row
is the job, and the notifier's outbox sweep re-rings for anything Redis lost."""

from __future__ import annotations

from datetime import datetime

from arq.connections import ArqRedis

NOTIFY_QUEUE = "closeloop:notify"
WORKER_QUEUE = "closeloop:worker"
DELIVER_JOB = "deliver"
DELIVER_MANY_JOB = "deliver_many"
CHUNK = 50


async def enqueue_delivery(
    redis: ArqRedis, notification_id: int, *, attempts_so_far: int, defer_until: datetime | None = None
) -> None:
    # One job id per attempt: a duplicate doorbell for the same attempt is dropped by arq.
    await redis.enqueue_job(
        DELIVER_JOB,
        notification_id,
        _job_id=f"deliver:{notification_id}:{attempts_so_far}",
        _queue_name=NOTIFY_QUEUE,
        _defer_until=defer_until,
    )


async def enqueue_deliveries(redis: ArqRedis, notification_ids: list[int]) -> None:
    """Ring for many new notifications at once: one job per chunk, not one Redis transaction per
    notification (10 000 alerts in one second must not wait on 10 000 round trips)."""
    for i in range(0, len(notification_ids), CHUNK):
        chunk = notification_ids[i : i + CHUNK]
        await redis.enqueue_job(
            DELIVER_MANY_JOB, chunk, _job_id=f"deliver-many:{chunk[0]}:{len(chunk)}", _queue_name=NOTIFY_QUEUE
        )
