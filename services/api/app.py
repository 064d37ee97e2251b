"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from redis.asyncio import Redis
from starlette.routing import NoMatchFound

from services.api import docs, problems, ratelimit, versions, webhooks
from services.api.common import reject_unknown_query_parameters
from services.api.limits import LimitBodies
from services.api.observability import ObserveRequests
from services.api.ratelimit import ApiRateLimiter
from services.api.response_headers import ResponseHeaders
from services.api.routers import (
    analytics,
    approvals,
    audit,
    budget,
    campaigns,
    chat,
    collaboration,
    extensions,
    feedback,
    goals,
    health,
    kpis,
    money,
    notify,
    org,
    pages,
    rectifications,
    reports,
    reviews,
    risks,
    roi,
    sla,
    subscriptions,
    tasks,
    trail,
    workflow,
)
from services.loop import watch_event_loop
from shared.clock import Clock, DatabaseClock, SystemClock, follow_database
from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.org.tokens import TokenCache, ensure_bootstrap_admin
from shared.settings import Settings, get_settings
from shared.workflow.templates import ensure_workflow_defaults

log = logging.getLogger("closeloop.api")

# The API's routers, in the order their tags appear in the document. Adding a domain: one line here.
ROUTERS = (
    org,
    kpis,  # before campaigns: its POST /campaigns/{id}/kpis must not be read as a campaign action
    campaigns,
    budget,  # before workflow: its `/campaigns/{id}/{action}` would take `budget-lines`
    money,
    workflow,
    reviews,
    approvals,
    extensions,
    collaboration,
    feedback,
    tasks,
    rectifications,
    risks,
    reports,
    roi,
    goals,
    analytics,
    sla,
    notify,
    chat,
    subscriptions,
    pages,
    trail,
    audit,
    health,
)

DESCRIPTION = """Closeloop keeps marketing work closed-loop: every campaign stage, task, review,
approval, collaboration request and piece of customer feedback has an owner, a deadline and an
escalation path that lands in Feishu, DingTalk, WeCom or a signed webhook.

Authenticate with `Authorization: Bearer <token>`. Errors are RFC 9457 `application/problem+json`;
validation errors list each offending field in `errors[].field`; a query parameter a route does
not take is one of them (`query.<name>`: "unknown parameter"), never silently ignored. A body that
is not JSON is a 400 (`malformed-json`), one over the size limit a 413 (`body-too-large`). Every list
answers `{items, next_cursor}` and is cursor-paginated: pass `next_cursor` back as `cursor`. A
filter that takes several values (`status`) takes them comma-separated (`status=todo,in_progress`)
or repeated (`status=todo&status=in_progress`); `q` matches text in any case. Each token has a rate
limit (429 with `Retry-After`, `RateLimit-*` headers). Single-item reads and every PATCH/PUT answer an
`ETag`; send it back as `If-Match` and a write over someone else's change is a 412 that changes
nothing."""


def warm_routes(app: FastAPI) -> None:
    """Build, before the first request, what FastAPI and Starlette otherwise build on it: each
    included router's table of routes with their dependencies and limits (FastAPI builds a router's
    on the first request that reaches it, ~1.5 ms of CPU per route: ~270 ms for all of them, which
    a worker's first requests each waited out in part with the event loop blocked, 10–25 ms per
    router) and the middleware stack. `url_path_for` with a name no route has walks every router's
    table — FastAPI's own public way through it — and finds nothing."""
    with contextlib.suppress(NoMatchFound):
        app.url_path_for("closeloop: build every router's table")
    app.middleware_stack = app.build_middleware_stack()


def create_app(settings: Settings | None = None, clock: Clock | None = None, *, freeze_heap: bool = False) -> FastAPI:
    """The API. `freeze_heap` (a serving worker): once started, the routes' tables are built
    (`warm_routes`) and what start-up built (modules, routes, schemas, caches) is moved out of the
    garbage collector's reach (`gc.freeze`): a server process's full collections then walk only what
    requests create — a full collection of the whole heap took ~0.2 s of a worker's CPU, a pause
    every request in flight waited out, and collections cost ~0.6 ms per request of the bench mix
    before, ~0.2 ms after. The server (`closeloop api`) asks for it; tests, which start an app per
    test, do not (each freeze would keep that test's garbage for good, and each warm-up cost ~0.3 s)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.require_database_url(),
            pool_size=settings.api_db_pool_size,
            pool_timeout=settings.api_db_pool_timeout_s,
        )
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.redis = Redis.from_url(settings.require_redis_url())
        app.state.rate_limiter = ApiRateLimiter(
            app.state.redis,
            per_s=settings.api_rate_per_s,
            burst=settings.api_rate_burst,
            # Redis's clock, one for every API process; an injected (test) clock is used as given.
            clock=None if isinstance(app.state.clock, (SystemClock, DatabaseClock)) else app.state.clock,
        )
        if settings.seed_defaults:
            async with unit_of_work(app.state.sessions) as session:
                await ensure_workflow_defaults(session)  # the default calendar, SLA set and campaign template
        if settings.bootstrap_token is not None:
            async with unit_of_work(app.state.sessions) as session:
                await ensure_bootstrap_admin(
                    session, token=settings.bootstrap_token.get_secret_value(), email=settings.bootstrap_email
                )
        loop_watch = asyncio.create_task(watch_event_loop(), name="event loop lag")
        # Business time follows the database's clock, as the worker's does (ADR 0009).
        follower = await follow_database(app.state.clock, engine)
        if freeze_heap:
            warm_routes(app)  # before the freeze: the tables built are kept out of collections too
            gc.collect()  # garbage first: a frozen object is never collected
            gc.freeze()
        try:
            yield
        finally:
            for task in (loop_watch, follower):
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.redis.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Closeloop API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from services.api.docs: no CDN
        redoc_url=None,
        dependencies=[Depends(reject_unknown_query_parameters)],  # on every route, before anything else
    )
    app.state.settings = settings
    app.state.clock = clock or DatabaseClock()
    app.state.token_cache = TokenCache(settings.api_token_cache_s)
    docs.install(app)
    problems.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    # The document's tag list follows the routers (in this order): a new router needs no entry here.
    tags = dict.fromkeys(t for route in app.routes for t in getattr(route, "tags", None) or ())
    app.openapi_tags = [{"name": str(t)} for t in tags] + [
        {"name": webhooks.TAG, "description": webhooks.TAG_DESCRIPTION}
    ]
    webhooks.install(app)
    problems.document_body_errors(app)
    ratelimit.document(app)
    versions.document(app)
    app.add_middleware(ResponseHeaders)  # RateLimit-* and ETag, decided by dependencies
    app.add_middleware(LimitBodies, max_bytes=settings.max_body_bytes)  # before anything reads a body
    app.add_middleware(ObserveRequests)  # outermost: times everything, problems included
    return app


def create_server_app() -> FastAPI:
    """What `closeloop api` serves (uvicorn's factory, in each worker process)."""
    return create_app(freeze_heap=True)


def openapi_document(app: FastAPI | None = None) -> dict:
    """The OpenAPI document, as committed to docs/openapi.json."""
    from shared.settings import load_settings

    app = app or create_app(load_settings(database_url=None, redis_url=None))
    return app.openapi()
