"""An arq worker that outlives Redis: arq's own loop ends the process on the first
`ConnectionError` (a Redis restart, a failover); this one backs off and polls again.

Jobs are doorbells here (the outbox and the timers are the work, in PostgreSQL), so a job lost
with Redis is re-rung by the periodic sweeps; what must not happen is the process going away.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from arq.worker import Worker

from shared.outage import dependency_down, outlasting

# Redis unreachable at start: arq tries once a second; this many tries before giving up (an hour).
START_RETRIES = 3600


class ResilientWorker(Worker):
    async def _poll_iteration(self) -> None:
        await outlasting(f"{self.queue_name} poll", super()._poll_iteration)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except Exception as exc:
            if dependency_down(exc) is not None:
                # arq took a slot for the job it was starting when Redis went away, and only
                # hands it back on its own errors: give it back, or a few outages starve the worker.
                self.job_counter -= 1
                self.sem.release()
            raise


def resilient_worker(settings: dict[str, Any]) -> ResilientWorker:
    """arq's `create_worker`, with the worker above and patience for Redis at start."""
    redis_settings = dataclasses.replace(settings["redis_settings"], conn_retries=START_RETRIES)
    return ResilientWorker(**{**settings, "redis_settings": redis_settings})
