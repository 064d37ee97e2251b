"""The engine's pool: a connection the server closed is replaced at checkout, without a ping per checkout."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from shared.db import make_engine


async def _backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def test_a_connection_the_server_closed_is_replaced_at_checkout_and_the_next_statement_works(settings):
    engine = make_engine(settings.require_database_url(), pool_size=1)
    other = make_engine(settings.require_database_url(), pool_size=1)
    try:
        first = await _backend_pid(engine)
        assert await _backend_pid(engine) == first  # pooled: the same server process again
        async with other.connect() as conn:  # what a PostgreSQL restart does to every pooled connection
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            for _ in range(100):  # until the server process is gone (and its socket closed)
                gone = not await conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}
                )
                if gone:
                    break
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # the event loop reads the closed socket
        second = await _backend_pid(engine)  # no error: the closed connection was never handed out
        assert second != first
    finally:
        await engine.dispose()
        await other.dispose()


async def test_a_checkout_sends_nothing_to_the_server(settings):
    """No `pool_pre_ping` (BEGIN, `;`, ROLLBACK with asyncpg on every checkout): the first statement
    the server sees on a checked-out connection is the caller's own."""
    engine = make_engine(settings.require_database_url(), pool_size=1)
    sent: list[str] = []
    try:
        async with engine.connect() as conn:  # the connection exists and goes back to the pool
            driver = (await conn.get_raw_connection()).driver_connection
        driver.add_query_logger(lambda query: sent.append(query.query))
        async with engine.connect() as conn:
            assert (await conn.get_raw_connection()).driver_connection is driver
            await conn.execute(text("SELECT 41 + 1"))
        # The statement's own transaction, begun with it and rolled back when the connection goes
        # back; a ping would add a BEGIN and a ROLLBACK of its own before it.
        assert sent == ["BEGIN;", "ROLLBACK;"]
    finally:
        await engine.dispose()
