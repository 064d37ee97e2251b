"""`closeloop` — run the whole system locally, or one service, and do ops chores."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shared.settings import ENV_PREFIX, Settings, SettingsError, get_settings

app = typer.Typer(
    help="Closeloop: closed-loop marketing work with working-calendar deadlines.",
    no_args_is_help=True,
    add_completion=False,
)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
secrets_app = typer.Typer(help="The key that encrypts channel secrets at rest.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
channel_app = typer.Typer(help="Notification channels.", no_args_is_help=True)
app.add_typer(channel_app, name="channel")
calendar_app = typer.Typer(help="Working calendars: load and export a year's statutory schedule.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
privacy_app = typer.Typer(help="Customer data: retention.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")
dev_app = typer.Typer(help="Local development tools.", no_args_is_help=True)
app.add_typer(dev_app, name="dev")
console = Console(stderr=True)

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("api", "worker", "notifier")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Restarts:
    """`closeloop run`'s restart policy: a child that exits is started again after 1, 2, 4 … 30 s
    (the delay doubles with each crash in a row and resets once it has run for a minute)."""

    FIRST_S, CAP_S, STABLE_S = 1.0, 30.0, 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.count: dict[str, int] = {}
        self._at: dict[str, float] = {}  # name → when to start it again
        self._since: dict[str, float] = {}  # name → when it was last started

    def crashed(self, name: str) -> float:
        if self.clock() - self._since.get(name, -self.STABLE_S) >= self.STABLE_S:
            self.count[name] = 0
        self.count[name] = self.count.get(name, 0) + 1
        delay = min(self.CAP_S, self.FIRST_S * 2 ** (self.count[name] - 1))
        self._at[name] = self.clock() + delay
        return delay

    def due_in(self, name: str) -> float | None:
        """Seconds until the crashed child is due again (≤ 0: now); None if it is not waiting."""
        at = self._at.get(name)
        return None if at is None else at - self.clock()

    def started(self, name: str) -> None:
        self._at.pop(name, None)
        self._since[name] = self.clock()

    def running(self, name: str) -> None:
        self._since.setdefault(name, self.clock())


def mark_process_dead_in(metrics_dir: Path, pid: int) -> None:
    """A dead child's live gauges stop counting in /metrics (prometheus-client's bookkeeping)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(metrics_dir))  # type: ignore[no-untyped-call]


def _settings() -> Settings:
    return get_settings()


def _alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


def migrate_to_head(url: str) -> None:
    from alembic import command

    command.upgrade(_alembic_config(url), "head")


@app.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    try:
        migrate_to_head(_settings().require_database_url())
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print("database is at the latest migration")


@app.command()
def api() -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    from shared.observability import logs

    settings = _settings()
    uvicorn.run(
        "services.api.app:create_server_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_config=logs.dict_config(settings.log_format),
        proxy_headers=True,
        # Named, not "auto": without them uvicorn would fall back silently to asyncio's loop and h11,
        # each a few times slower per request (both come with uvicorn[standard]).
        loop="uvloop",
        http="httptools",
        access_log=settings.access_log,  # ~40 µs of formatting and writing per request
    )


def _run_arq(settings_dict: dict) -> None:  # type: ignore[type-arg]
    from services.resilient import resilient_worker
    from shared.observability import logs

    logs.configure(settings_dict["ctx"]["settings"].log_format)
    # arq's run_worker wants a class; we build the worker from our runtime-built settings, as one
    # that survives Redis and PostgreSQL outages (services/resilient.py).
    worker = resilient_worker(settings_dict)
    worker.run()


@app.command()
def worker() -> None:
    """Run the deadline worker (arq)."""
    from services.worker.main import worker_settings

    _run_arq(worker_settings(_settings()))


@app.command()
def notifier() -> None:
    """Run the notifier (arq)."""
    from services.notifier.main import worker_settings

    _run_arq(worker_settings(_settings()))


async def _seed(url: str, token: str) -> int | None:
    """Seed the demo data; the id of its report (to print a link to its page)."""
    from shared.clock import SystemClock
    from shared.db import make_engine, make_sessionmaker, unit_of_work
    from shared.demo import demo_report_id, seed_demo

    engine = make_engine(url, pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            await seed_demo(session, admin_token=token, now=SystemClock().now())
            return await demo_report_id(session)
    finally:
        await engine.dispose()


def _report_link(settings: Settings, report_id: int | None, base: str) -> str:
    """The demo report's page, signed like a chat card's button (opens without a token)."""
    if report_id is None:
        return ""
    from datetime import UTC, datetime, timedelta

    from shared.links import signed_path
    from shared.reports.service import page_path

    expires = datetime.now(UTC) + timedelta(days=settings.report_link_ttl_days)
    path = signed_path(page_path(report_id), expires_at=expires, secret=settings.secret_key.get_secret_value())
    return f"  demo report: {base}{path}\n"


def _demo_token(settings: Settings) -> str:
    if settings.bootstrap_token is not None:
        return settings.bootstrap_token.get_secret_value()
    path = settings.data_dir / "demo-admin-token"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    token = "cl_demo_" + secrets.token_urlsafe(24)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


@app.command()
def run(
    seed: Annotated[
        bool,
        typer.Option(
            help="load the demo data once: six demo departments, four people, a campaign and three tasks "
            "(see the README); --no-seed starts without it"
        ),
    ] = True,
) -> None:
    """Start everything: embedded PostgreSQL and Redis (unless URLs are set), migrations, demo data,
    then the api, worker and notifier as separate processes. Ctrl-C stops all of them."""
    from shared.embedded import start_embedded

    settings = _settings()
    env = dict(os.environ)
    pg = redis = None
    if not settings.database_url or not settings.redis_url:
        console.print(f"starting embedded servers under {settings.data_dir.resolve()} …")
        pg, redis = start_embedded(
            settings.data_dir, need_postgres=not settings.database_url, need_redis=not settings.redis_url
        )
    db_url = settings.database_url or (pg.url if pg else "")
    redis_url = settings.redis_url or (redis.url if redis else "")
    env[f"{ENV_PREFIX}DATABASE_URL"] = db_url
    env[f"{ENV_PREFIX}REDIS_URL"] = redis_url
    if f"{ENV_PREFIX}PUBLIC_URL" not in os.environ:  # links in messages point at this very API
        env[f"{ENV_PREFIX}PUBLIC_URL"] = f"http://{settings.api_host}:{settings.api_port}"
    # One metrics directory for every child: the API's /metrics adds up all their samples.
    metrics_dir = Path(env.get(MULTIPROC_ENV) or settings.data_dir / "metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env[MULTIPROC_ENV] = str(metrics_dir.resolve())
    children: list[subprocess.Popen[bytes]] = []

    def spawn(name: str) -> subprocess.Popen[bytes]:
        # Own process group: Ctrl-C reaches only this supervisor, which stops children in order.
        return subprocess.Popen([sys.executable, "-m", "services.cli", name], env=env, start_new_session=True)

    def stop_everything(code: int) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()
        console.print("all Closeloop processes stopped")
        raise typer.Exit(code)

    try:
        migrate_to_head(db_url)
        token = _demo_token(settings)
        report_id = asyncio.run(_seed(db_url, token)) if seed else None
        env[f"{ENV_PREFIX}BOOTSTRAP_TOKEN"] = token
        children.extend(spawn(name) for name in SERVICES)
    except BaseException as exc:
        console.print(f"[red]start-up failed: {type(exc).__name__}: {exc}[/red]")
        stop_everything(1)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a shell may start us with SIGINT ignored (e.g. `make run &`).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    base = f"http://{settings.api_host}:{settings.api_port}"
    console.print(
        f"\n[bold green]Closeloop is up[/bold green]\n  API docs:  {base}/docs\n"
        f"  admin token: [bold]{token}[/bold]\n"
        f"  try: curl -H 'Authorization: Bearer {token}' {base}/api/v1/tasks\n"
        f"{_report_link(settings, report_id, env[f'{ENV_PREFIX}PUBLIC_URL'])}"
        "  Ctrl-C stops everything.\n",
        soft_wrap=True,  # long links stay on one line, so they can be copied
    )
    restarts = Restarts()
    try:
        while True:
            for i, name in enumerate(SERVICES):
                child = children[i]
                if child.poll() is None:
                    restarts.running(name)
                    continue
                if (delay := restarts.due_in(name)) is None:
                    mark_process_dead_in(metrics_dir, child.pid)
                    delay = restarts.crashed(name)
                    console.print(
                        f"[red]{name} exited with {child.returncode}; restarting it in {delay:.0f}s[/red] "
                        f"(crash {restarts.count[name]} in a row)"
                    )
                elif delay <= 0:
                    children[i] = spawn(name)
                    restarts.started(name)
                    console.print(f"[yellow]{name} restarted (pid {children[i].pid})[/yellow]")
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("\nstopping …")
        stop_everything(0)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="the user's email")],
    role: Annotated[
        str | None,
        typer.Option(
            help="admin|manager|member|viewer; creates the user with it if missing, else narrows this token to it"
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="a label for the token")] = "cli",
) -> None:
    """Print a new API token for a user (created if missing)."""
    from shared.models import Role

    try:
        role_value = Role(role) if role else None
    except ValueError:
        console.print(f"[red]--role must be one of {', '.join(r.value for r in Role)}[/red]")
        raise typer.Exit(2) from None
    from shared.clock import SystemClock

    settings = _settings()
    ttl = settings.token_default_ttl  # CLOSELOOP_TOKEN_DEFAULT_TTL_DAYS, as for tokens the API issues
    expires_at = SystemClock().now() + ttl if ttl is not None else None
    token = asyncio.run(_token_create(settings.require_database_url(), user, role_value, name, expires_at))
    print(token)


async def _token_create(url: str, email: str, role, name: str, expires_at) -> str:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from shared import crud
    from shared.actor import Actor
    from shared.db import make_engine, make_sessionmaker, unit_of_work
    from shared.models import Role, User
    from shared.org.tokens import create_token

    actor = Actor(label="cli", role=Role.admin)
    engine = make_engine(url, pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            user = (await session.scalars(select(User).where(func.lower(User.email) == email.lower()))).one_or_none()
            created = user is None
            if user is None:
                user = await crud.create(
                    session,
                    actor=actor,
                    entity_type="user",
                    obj=User(name=email.split("@")[0], email=email, role=role or Role.member),
                )
            _, plaintext = await create_token(
                session, actor=actor, user_id=user.id, name=name, role=None if created else role, expires_at=expires_at
            )
            return plaintext
    finally:
        await engine.dispose()


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh key for CLOSELOOP_SECRET_KEY."""
    from shared.crypto import new_key

    print(new_key())


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every channel and chat app secret under CLOSELOOP_SECRET_KEY (old keys in
    CLOSELOOP_SECRET_KEY_PREVIOUS)."""
    from shared.crypto import SecretDecryptionError

    try:
        count, apps = asyncio.run(_secrets_rotate(_settings().require_database_url()))
    except (SettingsError, SecretDecryptionError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"re-encrypted {count} channel secret(s) and {apps} chat app secret(s) under the current key")


async def _secrets_rotate(url: str) -> tuple[int, int]:
    from shared.chat.apps import reencrypt_app_secrets
    from shared.db import make_engine, make_sessionmaker, unit_of_work
    from shared.notify.channels import reencrypt_secrets

    engine = make_engine(url, pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            return await reencrypt_secrets(session), await reencrypt_app_secrets(session)
    finally:
        await engine.dispose()


@channel_app.command("test")
def channel_test(
    channel_id: Annotated[int, typer.Argument(help="the channel's id")],
    locale: Annotated[str | None, typer.Option(help="zh-CN or en-US")] = None,
) -> None:
    """Send a test message to a channel now and print the vendor's answer (exit 1 unless accepted)."""
    from rich.console import Console
    from rich.table import Table

    from shared.errors import NotFound

    settings = _settings()
    try:
        result = asyncio.run(_channel_test(settings, channel_id, locale))
    except NotFound:
        print(f"closeloop: no channel {channel_id}", file=sys.stderr)
        raise typer.Exit(2) from None
    table = Table(title=f"channel {channel_id} test")
    row = result.as_dict()
    for key in row:
        table.add_column(key)
    table.add_row(*(str(v) if v is not None else "—" for v in row.values()))
    Console().print(table)
    if result.outcome != "success":
        raise typer.Exit(1)


async def _channel_test(settings: Settings, channel_id: int, locale: str | None):  # type: ignore[no-untyped-def]
    from redis.asyncio import Redis

    from shared.actor import Actor
    from shared.clock import SystemClock
    from shared.db import make_engine, make_sessionmaker, unit_of_work
    from shared.models import Role
    from shared.notify.admin import test_channel
    from shared.notify.delivery import policy_from
    from shared.notify.http import Sender
    from shared.notify.ratelimit import RateLimiter

    engine = make_engine(settings.require_database_url(), pool_size=1)
    redis = Redis.from_url(settings.require_redis_url())
    try:
        async with Sender() as http, unit_of_work(make_sessionmaker(engine)) as s:
            return await test_channel(
                s,
                actor=Actor(label="cli", role=Role.admin),
                channel_id=channel_id,
                http=http,
                now=SystemClock().now(),
                policy=policy_from(settings),
                tz=settings.tz,
                limiter=RateLimiter(redis),
                window_scale=settings.rate_window_scale,
                locale=locale,
            )
    finally:
        await redis.aclose()
        await engine.dispose()


@calendar_app.command("import")
def calendar_import(
    calendar_id: Annotated[int, typer.Argument(help="the calendar's id")],
    file: Annotated[Path, typer.Argument(help="a JSON list or an iCalendar (.ics) file", exists=True, dir_okay=False)],
    mode: Annotated[str, typer.Option(help="merge: set these days; replace: drop the years' loaded days first")] = (
        "merge"
    ),
) -> None:
    """Load an announced statutory schedule (holidays and 调休 workdays) into a calendar."""
    from shared.calendar.schedule import ImportMode
    from shared.errors import AppError

    if mode not in tuple(ImportMode):
        print(f"closeloop: --mode must be one of {', '.join(ImportMode)}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        entries = _schedule_file_entries(file)
        result = asyncio.run(_calendar_import(_settings(), calendar_id, entries, ImportMode(mode)))
    except (AppError, SettingsError) as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    years = ", ".join(str(y) for y in result.years)
    console.print(f"calendar {calendar_id}: {result.imported} day(s) loaded ({result.mode}); official now: {years}")


def _schedule_file_entries(file: Path):  # type: ignore[no-untyped-def]
    """A schedule file's entries: iCalendar by its suffix, else a JSON list."""
    import json

    from shared.calendar.schedule import entries_from_ics, entries_from_json
    from shared.errors import InvalidInput

    text = file.read_text(encoding="utf-8-sig")
    if file.suffix.lower() in (".ics", ".ical"):
        return entries_from_ics(text)
    try:
        return entries_from_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidInput.for_field("file", f"not JSON (an iCalendar file must end in .ics): {exc}") from None


async def _calendar_import(settings: Settings, calendar_id: int, entries, mode):  # type: ignore[no-untyped-def]
    from shared.actor import Actor
    from shared.db import make_engine, make_sessionmaker, unit_of_work
    from shared.models import Role
    from shared.sla.policies import import_schedule

    engine = make_engine(settings.require_database_url(), pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            return await import_schedule(
                session, actor=Actor(label="cli", role=Role.admin), calendar_id=calendar_id, entries=entries, mode=mode
            )
    finally:
        await engine.dispose()


@calendar_app.command("export")
def calendar_export(
    calendar_id: Annotated[int, typer.Argument(help="the calendar's id")],
    format: Annotated[str, typer.Option("--format", help="json or ics")] = "json",
    year: Annotated[int | None, typer.Option(help="only this year's days")] = None,
) -> None:
    """Print a calendar's loaded statutory schedule (what `calendar import` takes back)."""
    from shared.calendar.schedule import ExportFormat
    from shared.errors import AppError

    if format not in tuple(ExportFormat):
        print(f"closeloop: --format must be one of {', '.join(ExportFormat)}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        sys.stdout.write(asyncio.run(_calendar_export(_settings(), calendar_id, ExportFormat(format), year)))
    except (AppError, SettingsError) as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


async def _calendar_export(settings: Settings, calendar_id: int, format, year: int | None) -> str:  # type: ignore[no-untyped-def]
    import json

    from shared import crud
    from shared.calendar.schedule import ExportFormat, stored_entries, to_ics
    from shared.clock import SystemClock
    from shared.db import make_engine, make_sessionmaker, unit_of_work
    from shared.models import Calendar

    engine = make_engine(settings.require_database_url(), pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            row = await crud.get_or_404(session, Calendar, calendar_id)
            entries = stored_entries(row.schedule, year)
            if format == ExportFormat.ics:
                return to_ics(entries, calendar_name=row.name, now=SystemClock().now())
            return json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False, indent=2) + "\n"
    finally:
        await engine.dispose()


@privacy_app.command("purge")
def privacy_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be anonymised, change nothing")] = False,
    days: Annotated[
        int | None, typer.Option(min=1, help="retention in days (default: CLOSELOOP_FEEDBACK_RETENTION_DAYS)")
    ] = None,
) -> None:
    """Anonymise settled feedback past its retention: customer name and contact cleared, phone
    numbers and emails in its texts masked, each item audited. Running it again changes nothing."""
    from rich.table import Table

    settings = _settings()
    retention = days or settings.feedback_retention_days
    try:
        done = asyncio.run(_privacy_purge(settings, retention, dry_run))
    except SettingsError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    verb = "would anonymise" if dry_run else "anonymised"
    table = Table(title=f"feedback settled more than {retention} days ago: {verb} {len(done)}")
    for column in ("id", "kind", "status", "settled", "cleared"):
        table.add_column(column)
    for row in done:
        table.add_row(
            str(row.feedback_id), row.kind, row.status, row.settled_on.date().isoformat(), ", ".join(row.cleared) or "—"
        )
    Console(width=120).print(table)


async def _privacy_purge(settings: Settings, retention_days: int, dry_run: bool):  # type: ignore[no-untyped-def]
    from shared.actor import Actor
    from shared.clock import SystemClock
    from shared.db import make_engine, make_sessionmaker, unit_of_work
    from shared.feedback.privacy import purge

    engine = make_engine(settings.require_database_url(), pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            return await purge(
                session,
                actor=Actor.system("privacy-purge"),
                now=SystemClock().now(),
                retention_days=retention_days,
                dry_run=dry_run,
            )
    finally:
        await engine.dispose()


@dev_app.command("botsim")
def dev_botsim(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 9911,
    config: Annotated[
        Path | None,
        typer.Option(help='JSON file of bots to start with: {"bots": {"<name>": {"kind": ...}}, "window_scale": 1}'),
    ] = None,
    window_scale: Annotated[
        float | None, typer.Option(help="shrink rate-limit windows, e.g. 0.05: a minute lasts 3 s (overrides --config)")
    ] = None,
) -> None:
    """Run botsim: local Feishu, DingTalk, WeCom and Standard Webhooks receivers to point channels at.

    Channels may point at 127.0.0.1 only with CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS=true (`make run` sets it).

    Read back at /_sim/messages and /_sim/stats; the control API is in services/devtools/botsim.py."""
    from services.devtools import botsim

    try:
        loaded = botsim.load_config(config) if config else botsim.Config()
        simulator = botsim.Simulator(
            loaded.bots, window_scale=loaded.window_scale if window_scale is None else window_scale
        )
    except botsim.ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        botsim.serve(simulator, host=host, port=port)
    except OSError as exc:
        console.print(f"[red]botsim cannot listen on {host}:{port}: {exc}[/red]")
        raise typer.Exit(1) from None


@app.command()
def openapi(
    out: Annotated[Path, typer.Option(help="where to write it")] = ROOT / "docs" / "openapi.json",
    check: Annotated[bool, typer.Option(help="fail if the file is stale instead of writing")] = False,
) -> None:
    """Write (or check) the committed OpenAPI document."""
    import json

    from services.api.app import openapi_document

    text = json.dumps(openapi_document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if check:
        if not out.exists() or out.read_text() != text:
            console.print(f"[red]{out} is stale: run `closeloop openapi`[/red]")
            raise typer.Exit(1)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
