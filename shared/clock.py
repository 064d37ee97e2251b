"""Time is injected: domain code asks a Clock, so tests can move time without sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("closeloop.clock")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DatabaseClock:
    """Production time: the database's clock (docs/adr/0009-one-clock.md). Every process reads
    PostgreSQL's `clock_timestamp()` now and then and keeps the difference to its own clock, so
    "is this level due?" is answered by one clock on every replica, however far a host's own has
    drifted. `now()` stays a cheap local call (no round trip per question)."""

    RESYNC_S = 30.0

    def __init__(self) -> None:
        self.offset = timedelta(0)  # the database's clock minus this host's
        self.synced = False

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def observe(self, before: datetime, database_now: datetime, after: datetime) -> None:
        """One reading of the database's clock taken between two local readings: the database
        read it, on average, half-way through the round trip."""
        self.offset = database_now - (before + (after - before) / 2)
        self.synced = True

    async def sync(self, engine: AsyncEngine) -> None:
        from sqlalchemy import text

        async with engine.connect() as conn:
            before = datetime.now(UTC)
            database_now = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
            after = datetime.now(UTC)
        self.observe(before, database_now, after)

    async def follow(self, engine: AsyncEngine) -> None:
        """Re-read the database's clock every RESYNC_S for as long as the process runs; while the
        database is unreachable the last offset holds (clocks drift by milliseconds a day)."""
        while True:
            await asyncio.sleep(self.RESYNC_S if self.synced else 1.0)
            try:
                await self.sync(engine)
            except Exception as exc:  # the database is down: keep the last offset
                log.warning("clock: cannot read the database's clock (%s); keeping the last offset", type(exc).__name__)


async def follow_database(clock: object, engine: AsyncEngine) -> asyncio.Task[None] | None:
    """For a DatabaseClock: read the database's clock once now (best effort) and keep following it
    in a task (the caller cancels it at shutdown). Any other clock (a test's) is left alone."""
    if not isinstance(clock, DatabaseClock):
        return None
    with contextlib.suppress(Exception):  # down at start: `follow` keeps trying every second
        await clock.sync(engine)
    return asyncio.create_task(clock.follow(engine), name="database clock")


class FrozenClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
