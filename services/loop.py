"""A periodic loop inside an arq worker process, for sweeps that must run every second or faster
(arq's cron is minute-oriented and whole-second)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from shared.observability.metrics import EVENT_LOOP_LAG
from shared.outage import outlasting

log = logging.getLogger("closeloop.loop")


async def run_every(
    interval_s: float,
    step: Callable[[], Awaitable[bool]],
    *,
    name: str,
    first_after_s: float = 0.0,
    crew: asyncio.Event | None = None,
) -> None:
    """Call `step` every interval; when it reports more work waiting, call again at once.

    Loops that share one piece of work (a process's sweep loops) share a `crew` event and start
    `first_after_s` apart: their ticks spread over the interval, so new work is seen sooner, and a
    loop that finds more waiting wakes the resting ones at once instead of at their next tick.

    While PostgreSQL or Redis is unreachable the step is retried with backoff (shared/outage.py)
    until it is back; the loop never ends on an outage."""
    if first_after_s:
        await _rest(first_after_s, crew)
    while True:
        more = False
        try:
            more = await outlasting(name, step)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in one cycle must not kill the loop either
            log.exception("%s: sweep failed; retrying in %.1fs", name, interval_s)
        if crew is not None and more:
            crew.set()
        elif crew is not None:  # the loop that finds no more clears it before it rests
            crew.clear()
        if not more:
            await _rest(interval_s, crew)


async def _rest(seconds: float, crew: asyncio.Event | None) -> None:
    """Sleep, or less if another loop of the crew finds more work waiting."""
    if crew is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(crew.wait(), seconds)


def run_crew(
    count: int, interval_s: float, step: Callable[[], Awaitable[bool]], *, name: str
) -> list[asyncio.Task[None]]:
    """`count` loops of `step` (see run_every): ticks spread evenly over the interval, and each
    wakes the others when it finds more work than one step takes."""
    crew = asyncio.Event()
    return [
        asyncio.create_task(
            run_every(interval_s, step, name=f"{name} {i}", first_after_s=interval_s * i / count, crew=crew),
            name=f"{name} {i}",
        )
        for i in range(count)
    ]


async def watch_event_loop(interval_s: float = 0.1) -> None:
    """How late the loop wakes a task asking to sleep `interval_s`: CPU work that blocks the loop
    shows here (`closeloop_event_loop_lag_seconds`; the target is under 10 ms)."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(interval_s)
        EVENT_LOOP_LAG.observe(max(0.0, loop.time() - before - interval_s))
