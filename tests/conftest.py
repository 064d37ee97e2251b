"""Test fixtures: real PostgreSQL and Redis (embedded unless URLs are given), real HTTP to botsim.

Migrations run once per session; every test starts from empty tables and an empty Redis.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.cli import migrate_to_head
from shared import subjects  # noqa: F401 — every domain-owned table is on Base.metadata
from shared.clock import FrozenClock
from shared.db import make_engine, make_sessionmaker
from shared.embedded import EmbeddedPostgres, EmbeddedRedis, free_port, start_embedded
from shared.models import Base
from shared.notify import delivery
from shared.notify.http import Sender
from shared.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
TEST_DB = "closeloop_test"


def run_in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking or asyncio.run-based code (alembic's async env) off the test event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


async def _recreate_database_async(url: str, name: str) -> None:
    import asyncpg

    admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def recreate_database(url: str, name: str) -> str:
    """Drop and create `name` on the server of `url`; return the URL of the new database."""
    run_in_thread(asyncio.run, _recreate_database_async(url, name))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@dataclass
class Stack:
    database_url: str
    redis_url: str
    pg: EmbeddedPostgres | None
    redis: EmbeddedRedis | None


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    db_url = os.environ.get("CLOSELOOP_DATABASE_URL")
    redis_url = os.environ.get("CLOSELOOP_REDIS_URL")
    pg = redis = None
    if not db_url or not redis_url:
        pg, redis = start_embedded(
            # Its own folder per checkout; CLOSELOOP_TEST_DATA_DIR lets parallel runs keep apart.
            Path(os.environ.get("CLOSELOOP_TEST_DATA_DIR", REPO / ".closeloop" / "test")),
            database="postgres",
            pg_port=None,
            redis_port=None,
            fast_unsafe=True,
            persistent_redis=False,
            need_postgres=not db_url,
            need_redis=not redis_url,
        )
    base_url = load_settings(database_url=db_url or pg.url).database_url  # type: ignore[union-attr]
    assert base_url is not None
    test_url = recreate_database(base_url, TEST_DB)
    run_in_thread(migrate_to_head, test_url)
    yield Stack(test_url, redis_url or redis.url, pg, redis)  # type: ignore[union-attr]
    if redis is not None:
        redis.stop()
    if pg is not None:
        pg.stop()


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    return load_settings(
        env="test",
        database_url=stack.database_url,
        redis_url=stack.redis_url,
        allow_private_webhooks=True,
        seed_defaults=False,  # every test starts from an empty database
        public_url="http://closeloop.test",
        retry_base_s=1.0,
        retry_cap_s=30.0,
        api_rate_burst=1_000_000,  # the frozen clock never refills a bucket; tests/api/test_rate_limit.py sets its own
    )


TABLES = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))


@pytest.fixture(scope="session")
async def shared_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.require_database_url(), pool_size=20)
    async with engine.begin() as conn:  # every test starts empty, the first one too (no seeded rows)
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(settings.require_redis_url()))
    yield pool
    await pool.aclose()


@pytest.fixture
async def engine(shared_engine: AsyncEngine, arq_redis: ArqRedis) -> AsyncIterator[AsyncEngine]:
    """The database, emptied after the test (tables truncated, Redis flushed): no state leaks."""
    yield shared_engine
    async with shared_engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    await arq_redis.flushdb()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


def real_now() -> datetime:
    # Near real time: vendors (and botsim) reject signatures more than minutes away from now.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(real_now())


# ---- the API -------------------------------------------------------------------------------------
@pytest.fixture
async def ctx(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock, arq_redis: ArqRedis
) -> AsyncIterator[dict[str, Any]]:
    """The `ctx` arq hands the notifier's and the worker's jobs (their `startup`): settings,
    sessions, the test's clock, Redis, an HTTP sender and the delivery policy."""
    async with Sender() as http:
        yield {
            "settings": settings,
            "sessions": sessions,
            "clock": clock,
            "redis": arq_redis,
            "http": http,
            "policy": delivery.policy_from(settings),
        }


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock, engine: AsyncEngine) -> AsyncIterator[Any]:
    from services.api.app import create_app

    application = create_app(settings, clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


# ---- botsim: the local stand-in for Feishu / DingTalk / WeCom / webhook receivers -----------------
class Botsim:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10)

    def reset(self) -> None:
        self.http.post("/_sim/reset").raise_for_status()

    def add_bots(self, bots: dict[str, dict[str, Any]]) -> None:
        self.http.post("/_sim/bots", json=bots).raise_for_status()

    def faults(self, bot: str, **faults: Any) -> None:
        self.http.post("/_sim/faults", json={"bot": bot, **faults}).raise_for_status()

    def messages(self, bot: str) -> list[dict[str, Any]]:
        return self.http.get("/_sim/messages", params={"bot": bot}).json()  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self.http.get("/_sim/stats").json()  # type: ignore[no-any-return]

    def url(self, kind: str, bot: str) -> str:
        return {
            "feishu": f"{self.base}/open-apis/bot/v2/hook/{bot}",
            "dingtalk": f"{self.base}/robot/send?access_token={bot}",
            "wecom": f"{self.base}/cgi-bin/webhook/send?key={bot}",
            "webhook": f"{self.base}/hooks/{bot}",
        }[kind]


def stop_processes(procs: list[subprocess.Popen[bytes]], *, grace_s: float = 60.0) -> list[int]:
    """SIGTERM every process still running, wait for them to finish what they were doing — up to
    `grace_s` in all, which a loaded machine may need, returning as soon as they have exited — and
    SIGKILL any still running then. Returns their exit codes (-9: it had to be killed)."""
    running = [p for p in procs if p.poll() is None]
    for p in running:
        p.terminate()
    deadline = time.monotonic() + grace_s
    for p in running:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(grace_s)
    return [p.returncode for p in procs]


def start_botsim(tmp: Path, window_scale: float = 1.0) -> tuple[subprocess.Popen[bytes], str]:
    """The project's simulator (services/devtools/botsim.py), started as a user would: `closeloop dev botsim`."""
    port = free_port()
    log = tmp / f"botsim-{port}.log"
    command = ["dev", "botsim", "--port", str(port), "--window-scale", str(window_scale)]
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "services.cli", *command], stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/_sim/health", timeout=0.5).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"botsim did not start:\n{log.read_text()}")


@pytest.fixture(scope="session")
def botsim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, base = start_botsim(tmp_path_factory.mktemp("botsim"))
    yield base
    stop_processes([proc])


# Bot rate-limit windows 20× shorter (DingTalk's minute is 3 s, its 10-minute throttle 30 s), in
# botsim and in Closeloop alike, so limit tests take seconds.
WINDOW_SCALE = 0.05


@pytest.fixture(scope="session")
def fast_botsim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, base = start_botsim(tmp_path_factory.mktemp("fast-botsim"), WINDOW_SCALE)
    yield base
    stop_processes([proc])


@pytest.fixture
def fast_botsim(fast_botsim_server: str) -> Iterator[Botsim]:
    sim = Botsim(fast_botsim_server)
    sim.reset()
    yield sim
    sim.http.close()


@pytest.fixture
def botsim(botsim_server: str) -> Iterator[Botsim]:
    sim = Botsim(botsim_server)
    sim.reset()
    yield sim
    sim.http.close()
