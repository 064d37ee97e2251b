"""Handing notifications to the notifier through arq. Redis is only a doorbell: the outbox row
is the job, and the notifier's outbox sweep re-rings for anything Redis lost."""

from __future__ import annotations

from datetime import datetime

from arq.connections import ArqRedis

NOTIFY_QUEUE = "closeloop:notify"
WORKER_QUEUE = "closeloop:worker"
DELIVER_JOB = "deliver"


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
