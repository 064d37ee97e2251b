"""What the benches share: a scratch database on embedded (or given) servers, the API as a real
process on a free port, a token for the seeded admin, and the SQL behind a route with its plans.

Uses CLOSELOOP_DATABASE_URL / CLOSELOOP_REDIS_URL when set, else embedded servers under
.closeloop/bench (the same data folder as bench/sweep.py and bench/notifier.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event, select
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.cli import migrate_to_head  # noqa: E402
from shared.actor import Actor  # noqa: E402
from shared.clock import SystemClock  # noqa: E402
from shared.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from shared.embedded import free_port, start_embedded  # noqa: E402
from shared.models import Role, User  # noqa: E402
from shared.org.tokens import create_token  # noqa: E402
from shared.settings import load_settings  # noqa: E402
from tests.conftest import recreate_database  # noqa: E402


@dataclass(frozen=True)
class BenchStack:
    database_url: str  # postgresql+asyncpg://…/<name>
    redis_url: str
    created: bool  # False: an existing database was reused as it was

    @property
    def dsn(self) -> str:
        """The same database for asyncpg."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://")


async def _database_exists(url: str) -> bool:
    admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", make_url(url).database))
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_database(name: str, *, reuse: bool = False) -> AsyncIterator[BenchStack]:
    """Servers up, database `name` recreated and migrated (with `reuse`, an existing one is kept
    as it is and only migrated); the embedded servers stop on exit."""
    db_url, redis_url = os.environ.get("CLOSELOOP_DATABASE_URL"), os.environ.get("CLOSELOOP_REDIS_URL")
    pg = redis = None
    if not db_url or not redis_url:
        pg, redis = start_embedded(
            ROOT / ".closeloop" / "bench",
            database="postgres",
            pg_port=None,
            redis_port=None,
            persistent_redis=False,
            need_postgres=not db_url,
            need_redis=not redis_url,
        )
    try:
        base = (db_url or pg.url).replace("postgresql://", "postgresql+asyncpg://")  # type: ignore[union-attr]
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        created = not (reuse and await _database_exists(url))
        if created:
            url = await asyncio.to_thread(recreate_database, base, name)
        await asyncio.to_thread(migrate_to_head, url)
        yield BenchStack(url, redis_url or redis.url, created)  # type: ignore[union-attr]
    finally:
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()


@dataclass
class ApiProcess:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_api(stack: BenchStack, *, extra_env: dict[str, str] | None = None, timeout_s: float = 60) -> ApiProcess:
    """`closeloop api` as a user runs it, on a free port, against the bench database; waits for /healthz."""
    port = free_port()
    log = ROOT / ".closeloop" / "bench" / f"api-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CLOSELOOP_DATABASE_URL": stack.database_url,
        "CLOSELOOP_REDIS_URL": stack.redis_url,
        "CLOSELOOP_API_PORT": str(port),
        "CLOSELOOP_PUBLIC_URL": "http://bench",
        # One token drives hundreds of requests a second: the per-token limit is still consulted
        # (its Redis call is part of every request measured) but never refuses.
        "CLOSELOOP_API_RATE_PER_S": "100000",
        "CLOSELOOP_API_RATE_BURST": "1000000",
        **(extra_env or {}),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "api"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return ApiProcess(proc, base, log)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the API did not start:\n{log.read_text()[-3000:]}")


async def admin_token(stack: BenchStack) -> str:
    """A token for the seeded admin, minted the way the CLI mints one (shared.org.tokens)."""
    engine = make_engine(stack.database_url, pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            admin = (await session.scalars(select(User).where(User.role == Role.admin).order_by(User.id))).first()
            if admin is None:
                raise SystemExit("the bench database has no admin user: run without --reuse to seed it")
            _, plaintext = await create_token(session, actor=Actor.system("bench"), user_id=admin.id, name="bench")
            return plaintext
    finally:
        await engine.dispose()


# ---- the SQL behind a route ----------------------------------------------------------------------
@dataclass
class Captured:
    statement: str
    parameters: Any
    seconds: float


async def capture_statements(stack: BenchStack, token: str, path: str) -> list[Captured]:
    """Call `path` once in-process (the app on the same database) and record every statement it
    ran, with its parameters and time."""
    from services.api.app import create_app

    captured: list[Captured] = []
    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        t0 = started.pop(id(cursor), None)
        if t0 is not None:
            captured.append(Captured(statement, parameters, time.perf_counter() - t0))

    settings = load_settings(database_url=stack.database_url, redis_url=stack.redis_url, public_url="http://bench")
    app = create_app(settings, SystemClock())
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await client.get(path, headers={"Authorization": f"Bearer {token}"})  # warm caches and pool
                captured.clear()  # the start-up's and the first call's statements are not measured
                await client.get(path, headers={"Authorization": f"Bearer {token}"})
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
    return captured


async def explain(stack: BenchStack, captured: Captured) -> str:
    conn = await asyncpg.connect(stack.dsn)
    try:
        async with conn.transaction():  # EXPLAIN ANALYZE runs the statement: never keep what it wrote
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + captured.statement, *(captured.parameters or ()))
            raise _Rollback("\n".join(r[0] for r in rows))
    except _Rollback as done:
        return str(done)
    finally:
        await conn.close()


class _Rollback(Exception):
    pass


def execution_ms(plan: str) -> float:
    found = re.search(r"Execution Time: ([0-9.]+) ms", plan)
    return float(found.group(1)) if found else 0.0
