"""A periodic loop inside an arq worker process, for sweeps that must run every second or faster
(arq's cron is minute-oriented and whole-second)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

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
