"""A periodic loop inside an arq worker process, for sweeps that must run every second or faster
(arq's cron is minute-oriented and whole-second)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from shared.observability.metrics import EVENT_LOOP_LAG

log = logging.getLogger("closeloop.loop")


async def run_every(interval_s: float, step: Callable[[], Awaitable[bool]], *, name: str) -> None:
    """Call `step` every interval; when it reports more work waiting, call again at once."""
    while True:
        more = False
        try:
            more = await step()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bad cycle (DB restart, Redis blip) must not kill the loop
            log.exception("%s: sweep failed; retrying in %.1fs", name, interval_s)
        if not more:
            await asyncio.sleep(interval_s)


async def watch_event_loop(interval_s: float = 0.1) -> None:
    """How late the loop wakes a task asking to sleep `interval_s`: CPU work that blocks the loop
    shows here (`closeloop_event_loop_lag_seconds`; the target is under 10 ms)."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(interval_s)
        EVENT_LOOP_LAG.observe(max(0.0, loop.time() - before - interval_s))
