"""PostgreSQL or Redis going away: which one, and waiting for it with backoff instead of dying.

A worker or notifier outlives any outage of its servers: each loop and each arq poll that fails
because PostgreSQL or Redis is unreachable is logged once per attempt (no traceback), counted
(`closeloop_dependency_down_total`) and retried with exponential backoff and jitter until the
server is back (tenacity). Any other exception is a bug and is raised as before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import redis.exceptions
import sqlalchemy.exc
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    stop_never,
    wait_exponential,
    wait_random,
)

from shared.observability.metrics import DEPENDENCY_DOWN

log = logging.getLogger("closeloop.outage")
T = TypeVar("T")

REDIS = "redis"
POSTGRES = "postgres"
# First retry after 0.2 s, then doubling with jitter up to 5 s: a 2-second Redis restart costs about
# two seconds, and a long outage costs one log line every 5 s per loop.
BACKOFF_FIRST_S, BACKOFF_CAP_S = 0.2, 5.0
_POSTGRES_DOWN = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE 08: the connection failed or was refused
    asyncpg.exceptions.AdminShutdownError,  # 57P01: a fast shutdown ended our session
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.exceptions.InterfaceError,  # the connection is closed (mid-operation)
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def dependency_down(exc: BaseException) -> str | None:
    """Which server the failure says is unreachable (`redis` / `postgres`), or None when it is not
    an outage. Follows the exception's causes (SQLAlchemy wraps the driver's errors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return REDIS
        if isinstance(current, _POSTGRES_DOWN):
            return POSTGRES
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return POSTGRES
        if isinstance(current, sqlalchemy.exc.InterfaceError | sqlalchemy.exc.OperationalError):
            return POSTGRES
        # A refused or reset socket outside redis-py (which wraps its own): the database driver's.
        if isinstance(current, ConnectionError | TimeoutError):
            return POSTGRES
        orig = current.orig if isinstance(current, sqlalchemy.exc.DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__
    return None


def _log_outage(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        dependency = dependency_down(exc) if exc else None
        DEPENDENCY_DOWN.labels(dependency or "unknown").inc()
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s: %s unreachable (%s); retry %d in %.1fs",
            what,
            dependency,
            type(exc).__name__,
            state.attempt_number,
            wait,
        )

    return before_sleep


def while_down(what: str, *, give_up_after_s: float | None = None) -> AsyncRetrying:
    """Retry while PostgreSQL or Redis is unreachable (forever, or up to `give_up_after_s`, then the
    last error is raised); any other exception is raised at once."""
    return AsyncRetrying(
        retry=retry_if_exception(lambda exc: dependency_down(exc) is not None),
        wait=wait_exponential(multiplier=BACKOFF_FIRST_S, max=BACKOFF_CAP_S) + wait_random(0, BACKOFF_FIRST_S / 2),
        stop=stop_never if give_up_after_s is None else stop_after_delay(give_up_after_s),
        before_sleep=_log_outage(what),
        reraise=True,
    )


async def outlasting(what: str, step: Callable[[], Awaitable[T]], *, give_up_after_s: float | None = None) -> T:
    """`step()`, retried with backoff for as long as a server it needs is unreachable."""

    async def attempt() -> T:  # a coroutine function: tenacity awaits only those (a lambda's result it would not)
        return await step()

    return await while_down(what, give_up_after_s=give_up_after_s)(attempt)
