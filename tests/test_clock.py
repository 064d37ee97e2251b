"""The production clock follows the database's (ADR 0009); tests' frozen clocks stay frozen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.clock import DatabaseClock, FrozenClock, follow_database


def test_the_database_read_its_clock_half_way_through_the_round_trip():
    clock = DatabaseClock()
    before = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)
    clock.observe(before, datetime(2026, 12, 3, 10, 2, 0, 500000, tzinfo=UTC), before + timedelta(seconds=1))
    assert clock.offset == timedelta(minutes=2)  # this host runs 2 minutes behind the database
    assert clock.synced


def test_now_is_this_hosts_time_moved_by_the_offset():
    clock = DatabaseClock()
    clock.offset = timedelta(minutes=-2)
    assert abs(clock.now() - (datetime.now(UTC) - timedelta(minutes=2))) < timedelta(seconds=1)


async def test_a_database_clock_reads_postgres_and_keeps_following_it(engine):
    clock = DatabaseClock()
    follower = await follow_database(clock, engine)
    assert follower is not None
    follower.cancel()
    assert clock.synced and abs(clock.offset) < timedelta(seconds=1)  # the same host: nearly no offset


async def test_a_frozen_clock_is_left_alone(engine):
    frozen = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert await follow_database(frozen, engine) is None
    assert frozen.now() == datetime(2026, 1, 1, tzinfo=UTC)


def test_the_processes_use_the_database_clock_by_default(settings):
    from services.api.app import create_app

    assert isinstance(create_app(settings).state.clock, DatabaseClock)
