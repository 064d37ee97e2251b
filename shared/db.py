"""Async engine and session factory shared by the api, the worker and the notifier."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Row
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.sql import Select

from shared import jsontext

# A pooled connection older than this is replaced at its next checkout: what a server-side idle
# timeout or a silently dropped connection can cost is bounded, without a round trip per checkout.
POOL_RECYCLE_S = 1800


def make_engine(url: str, *, pool_size: int = 10, pool_timeout: float = 30.0, echo: bool = False) -> AsyncEngine:
    """The engine every process uses. Pooled connections are checked for liveness without a round
    trip (`_discard_closed`): not `pool_pre_ping`, which with asyncpg is BEGIN, `;`, ROLLBACK on every
    checkout — three round trips, ~4 % of the API's CPU per request."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_recycle=POOL_RECYCLE_S,
        echo=echo,
        hide_parameters=True,  # no bind parameter (emails, mobiles, tokens) in a logged SQL error
        json_serializer=jsontext.dumps,  # every JSONB column: orjson, not the standard library
        json_deserializer=jsontext.loads,
        connect_args={"server_settings": {"application_name": "closeloop", "timezone": "UTC"}},
    )
    event.listen(engine.sync_engine.pool, "checkout", _discard_closed)
    return engine


def _discard_closed(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
    """A connection the server closed (a PostgreSQL restart, `pg_terminate_backend`, an idle timeout)
    is known closed to asyncpg as soon as the event loop has read the end of its socket: the pool
    then takes a new one instead (SQLAlchemy retries the checkout on DisconnectionError). One that
    died unnoticed fails its first statement, which invalidates the pool (503, retry)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One job, one transaction: commit on success, roll back on any exception."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction (for COPY and array-bound statements).
    Only once a statement has run through the session: SQLAlchemy begins the transaction lazily, and
    the driver's own statements would run outside it."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def copy_rows(
    session: AsyncSession, table: str, columns: Sequence[str], records: Iterable[tuple[Any, ...]]
) -> bool:
    """COPY records into `table` inside a savepoint, in the session's transaction.

    Returns False — with nothing written — when a unique key already exists, so the caller can
    fall back to `INSERT … ON CONFLICT DO NOTHING`. COPY is the fast path for the sweep's bulk
    writes; the unique keys, not this function, are what make firing idempotent.
    """
    import asyncpg

    apg = await driver_connection(session)
    try:
        async with apg.transaction():  # a savepoint: the outer transaction is the session's
            await apg.copy_records_to_table(table, records=list(records), columns=list(columns))
    except asyncpg.UniqueViolationError:
        return False
    return True


class RawSelect:
    """A Core SELECT compiled once and run as driver SQL in the session's transaction, without
    SQLAlchemy's per-column result processing: columns come back as asyncpg decodes them (a string
    enum column is its plain value). For hot paths that read thousands of rows per call, such as
    the sweep's claim and its subject loaders. (Through SQLAlchemy, not `driver_connection`: the
    statement may be the transaction's first, and must begin it — a claim's FOR UPDATE run outside
    the transaction would lock nothing.)"""

    _DIALECT = asyncpg_dialect(paramstyle="numeric_dollar")

    def __init__(self, stmt: Select[*tuple[Any, ...]]) -> None:
        compiled = stmt.compile(dialect=self._DIALECT)
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        # Values written into the statement (`state == 'running'`): as the driver wants them.
        self._fixed = {
            k: v.value if isinstance(v, enum.Enum) else v
            for k, v in compiled.params.items()
            if not compiled.binds[k].required
        }

    async def fetch(self, session: AsyncSession, **params: Any) -> Sequence[Row[*tuple[Any, ...]]]:
        values = self._fixed | params  # a parameter left out is a KeyError, never a silent NULL
        conn = await session.connection()
        result = await conn.exec_driver_sql(self.sql, tuple(values[n] for n in self._names))
        return result.all()
