"""Request-scoped dependencies: one transaction per request, the caller, the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.ratelimit import ApiRateLimiter, client_key
from shared.actor import Actor
from shared.clock import Clock
from shared.db import unit_of_work
from shared.errors import Forbidden, Unauthorized
from shared.models import Role
from shared.org.tokens import authenticate
from shared.settings import Settings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one transaction: committed when the endpoint returns, rolled back on error."""
    async with unit_of_work(request.app.state.sessions) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is an error, not a lie.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


# The small dependencies are `async def` though they never await: FastAPI runs a plain `def`
# dependency in a worker thread, two thread handoffs per request each (~5 % of the API's CPU under
# bench/api.py before this).
async def _clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


async def _now(request: Request) -> datetime:
    return request.app.state.clock.now()  # type: ignore[no-any-return]


async def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


ClockDep = Annotated[Clock, Depends(_clock)]
NowDep = Annotated[datetime, Depends(_now)]
SettingsDep = Annotated[Settings, Depends(_settings)]

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


async def _actor(
    request: Request,
    session: SessionDep,
    now: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    limiter: ApiRateLimiter = request.app.state.rate_limiter
    try:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise Unauthorized("send `Authorization: Bearer <token>`")
        actor = await authenticate(
            session, bearer=credentials.credentials, now=now, cache=request.app.state.token_cache
        )
    except Unauthorized:
        await limiter.check(request, client_key(request))  # guessing tokens is counted too
        raise
    await limiter.check(request, f"token:{actor.token_id}")
    return actor


ActorDep = Annotated[Actor, Depends(_actor)]


def require(role: Role) -> Callable[[Actor], Awaitable[Actor]]:
    async def check(actor: ActorDep) -> Actor:
        if not actor.at_least(role):
            raise Forbidden(f"this needs the {role.value} role; you are {actor.role.value}")
        return actor

    return check


ReaderDep = ActorDep
WriterDep = Annotated[Actor, Depends(require(Role.member))]
ManagerDep = Annotated[Actor, Depends(require(Role.manager))]
AdminDep = Annotated[Actor, Depends(require(Role.admin))]
