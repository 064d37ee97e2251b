"""One way in for configuration: `CLOSELOOP_*` environment variables, validated at start-up."""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CLOSELOOP_"

# Development/test only: encrypts channel secrets when CLOSELOOP_SECRET_KEY is unset. Public (it is
# in the source), so start-up refuses it when CLOSELOOP_ENV=prod.
DEV_SECRET_KEY = "Y2xvc2Vsb29wLWRldi1vbmx5LWtleS1ub3Qtc2VjcmU="


def _fernet_key_error(key: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return "must be a Fernet key: urlsafe base64 of 32 bytes (generate one with `closeloop secrets new-key`)"
    if len(raw) != 32:
        return (
            f"must be a Fernet key: urlsafe base64 of 32 bytes, this decodes to {len(raw)} bytes "
            "(generate one with `closeloop secrets new-key`)"
        )
    return None


def app_url_templates(raw: str) -> dict[str, str] | str:
    """`CLOSELOOP_APP_URL` read: a JSON object (item type → template) or one template. Each
    template is an http(s) URL with `{id}` (a single one may also use `{type}`)."""
    raw = raw.strip()
    if raw.startswith("{") and not raw.startswith("{id}") and not raw.startswith("{type}"):
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        if not isinstance(parsed, dict) or not parsed:
            raise ValueError("a JSON object of item type → URL template, with at least one entry")
        for key, template in parsed.items():
            if not isinstance(template, str):
                raise ValueError(f"{key}: the template must be a string")
            _check_template(template, where=f"{key}: ", with_type=False)
        return parsed
    _check_template(raw, where="", with_type=True)
    return raw


def _check_template(template: str, *, where: str, with_type: bool) -> None:
    if not template.startswith(("http://", "https://")):
        raise ValueError(f"{where}must start with http:// or https://")
    if "{id}" not in template:
        raise ValueError(f"{where}must contain {{id}}")
    try:
        template.format(id=1, **({"type": "item"} if with_type else {}))
    except (KeyError, IndexError, ValueError) as exc:
        allowed = "{id} and {type}" if with_type else "{id}"
        raise ValueError(f"{where}only {allowed} may be filled in ({exc!r})") from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://… URL; unset means the CLI starts an embedded PostgreSQL",
    )
    redis_url: str | None = Field(
        default=None, description="redis://… URL; unset means the CLI starts an embedded Redis"
    )
    data_dir: Path = Field(default=Path(".closeloop"), description="embedded servers' data")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        description="API processes `closeloop api` starts (default: the machine's cores)",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="a worker or notifier serves its own Prometheus metrics on this port (compose); "
        "unset: the API's /metrics reports them through the shared PROMETHEUS_MULTIPROC_DIR",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="largest request body the API reads (413 beyond it), the inbound webhook included",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per log line, with the request id"
    )
    api_access_log: bool | None = Field(
        default=None,
        description="uvicorn's access line per request (default: on in dev and test, off in prod, where the "
        "request latency histogram and the request id on every log line are what is kept)",
    )

    @property
    def access_log(self) -> bool:
        """Whether `closeloop api` writes uvicorn's access line per request."""
        return self.api_access_log if self.api_access_log is not None else self.env != "prod"

    sweep_interval_s: float = Field(default=1.0, gt=0, le=3600, description="deadline sweep period")
    # 1 000: half the round trips and commits of 500 per 10 000 levels, ~60 → ~64 % of the floor of
    # the sweep's own writes on bench/sweep.py; a batch's payloads stay a few MB.
    sweep_batch_size: int = Field(default=1000, ge=1, le=100_000, description="timers claimed per sweep transaction")
    sweep_concurrency: int = Field(default=2, ge=1, le=16, description="sweep loops per worker process")
    outbox_sweep_interval_s: float = Field(default=2.0, gt=0, le=3600)
    public_url: str = Field(default="http://127.0.0.1:8000", description="base of links in messages")
    bootstrap_token: SecretStr | None = Field(default=None, description="admin bearer token ensured at start")
    bootstrap_email: str = "ops@closeloop.local"
    allow_private_webhooks: bool = False
    seed_defaults: bool = Field(
        default=True, description="the API seeds the default calendar, SLA policies and campaign template at start"
    )
    timezone: str = "Asia/Shanghai"
    inbound_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Standard Webhooks secret (whsec_…) that signs inbound customer feedback; unset disables intake",
    )
    delivery_timeout_s: float = Field(default=10.0, gt=0, le=120)
    delivery_lease_s: float = Field(
        default=60.0, ge=2, le=3600, description="how long a notifier holds a message in flight before another may"
    )
    delivery_max_attempts: int = Field(default=12, ge=1, le=100)
    delivery_max_age_s: float = Field(default=24 * 3600, gt=0)
    retry_base_s: float = Field(default=1.0, gt=0)
    retry_cap_s: float = Field(default=600.0, gt=0)
    rate_window_scale: float = Field(
        default=1.0, gt=0, le=1, description="shortens every bot rate-limit window (tests and drills only)"
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET_KEY),
        validate_default=True,
        description="Fernet key encrypting channel secrets at rest; required when env=prod",
    )
    secret_key_previous: SecretStr | None = Field(
        default=None, description="comma-separated older Fernet keys, still accepted for decryption (rotation)"
    )
    report_link_ttl_days: int = Field(
        default=30, ge=1, le=366, description="how long the signed report link in a chat card opens the page"
    )
    token_default_ttl_days: int | None = Field(
        default=None,
        ge=1,
        le=3660,
        description="API and CLI tokens issued without an expiry expire this many days later; unset: never",
    )
    api_rate_per_s: float = Field(
        default=20.0,
        gt=0,
        le=100_000,
        description="API requests per second a token (or an address without one) may keep up",
    )
    api_rate_burst: int = Field(
        default=200, ge=1, le=1_000_000, description="API requests a token may send at once before the rate applies"
    )
    api_db_pool_size: int = Field(
        default=10, ge=1, le=200, description="database connections an API process keeps (as many more in a burst)"
    )
    api_db_pool_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="seconds a request waits for a free database connection before its 503 with Retry-After",
    )
    api_token_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="seconds an API process keeps a resolved token (0: read it on every request); a revocation "
        "or a user's change reaches the other processes within this",
    )
    require_if_match: bool = Field(
        default=False, description="PATCH and PUT without `If-Match` are refused (428): no blind overwrites"
    )
    feedback_retention_days: int = Field(
        default=365,
        ge=1,
        le=36500,
        description="settled (resolved or closed) feedback is anonymised this many days after it settled "
        "(`closeloop privacy purge`)",
    )
    app_url: str | None = Field(
        default=None,
        description="the team's frontend, where chat cards' buttons lead: one URL template with `{id}` (and "
        'optionally `{type}`), or a JSON object per item type, e.g. `{"task": "https://app.example.com/tasks/{id}"}`; '
        "unset (or a type not listed): Closeloop's own read-only item page behind a signed, expiring link",
    )
    item_link_ttl_days: int = Field(
        default=30, ge=1, le=366, description="how long the signed item-page link in a chat card opens the page"
    )
    feishu_api_base: str = Field(
        default="https://open.feishu.cn",
        description="the Feishu open platform (Lark: https://open.larksuite.com): chat apps' tokens and messages",
    )
    dingtalk_api_base: str = Field(
        default="https://api.dingtalk.com",
        description="the DingTalk open platform: chat apps' access tokens; a robot's sessionWebhook must be on it "
        "or on oapi.dingtalk.com",
    )
    chat_event_retention_days: int = Field(
        default=7, ge=1, le=366, description="inbound chat events are remembered this long to answer replays once"
    )

    @model_validator(mode="after")
    def _timeout_inside_lease(self) -> Settings:
        if self.delivery_timeout_s >= self.delivery_lease_s / 2:
            raise ValueError(
                f"{ENV_PREFIX}DELIVERY_TIMEOUT_S must stay under half of {ENV_PREFIX}DELIVERY_LEASE_S, "
                "so a send always ends while its notifier still holds the message"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if v.startswith("postgres://"):
            v = "postgresql://" + v.removeprefix("postgres://")
        if v.startswith("postgresql://"):
            v = "postgresql+asyncpg://" + v.removeprefix("postgresql://")
        if not v.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a postgresql:// or postgresql+asyncpg:// URL")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("feishu_api_base", "dingtalk_api_base")
    @classmethod
    def _api_base(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("app_url")
    @classmethod
    def _app_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        app_url_templates(v)  # raises ValueError naming what is wrong
        return v.strip()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {v!r}") from exc
        return v

    @field_validator("token_default_ttl_days", mode="before")
    @classmethod
    def _empty_ttl_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("bootstrap_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("bootstrap_token")
    @classmethod
    def _token_strength(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:  # shared.org.tokens.MIN_SECRET_CHARS
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 24`)")
        return v

    @field_validator("secret_key", mode="before")
    @classmethod
    def _empty_key_is_default(cls, v: object) -> object:
        return SecretStr(DEV_SECRET_KEY) if v is None or v == "" else v

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, v: SecretStr, info: ValidationInfo) -> SecretStr:
        key = v.get_secret_value().strip()
        if key == DEV_SECRET_KEY and info.data.get("env", "dev") not in ("dev", "test"):
            raise ValueError(
                "must be set when CLOSELOOP_ENV=prod (the built-in development key is public); "
                "generate one with `closeloop secrets new-key`"
            )
        if (msg := _fernet_key_error(key)) is not None:
            raise ValueError(msg)
        return SecretStr(key)

    @field_validator("inbound_webhook_secret", mode="before")
    @classmethod
    def _empty_inbound_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("inbound_webhook_secret")
    @classmethod
    def _inbound_secret(cls, v: SecretStr | None) -> SecretStr | None:
        """A Standard Webhooks secret: `whsec_` and the base64 of at least 24 random bytes."""
        if v is None:
            return None
        raw = v.get_secret_value().strip()
        try:
            key = base64.b64decode(raw.removeprefix("whsec_"), validate=True) if raw.startswith("whsec_") else b""
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < 24:
            raise ValueError("must be whsec_ followed by the base64 of at least 24 random bytes")
        return SecretStr(raw)

    @field_validator("secret_key_previous", mode="before")
    @classmethod
    def _empty_previous_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("secret_key_previous")
    @classmethod
    def _previous_keys(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None:
            return None
        keys = [k.strip() for k in v.get_secret_value().split(",") if k.strip()]
        for i, key in enumerate(keys):
            if (msg := _fernet_key_error(key)) is not None:
                raise ValueError(f"key #{i + 1}: {msg}")
        return SecretStr(",".join(keys)) if keys else None

    @property
    def secret_keys(self) -> list[str]:
        """The current key first (it encrypts), then older ones (they only decrypt)."""
        previous = self.secret_key_previous.get_secret_value().split(",") if self.secret_key_previous else []
        return [self.secret_key.get_secret_value(), *previous]

    @property
    def token_default_ttl(self) -> timedelta | None:
        return None if self.token_default_ttl_days is None else timedelta(days=self.token_default_ttl_days)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SettingsError(f"{ENV_PREFIX}DATABASE_URL is not set (use `closeloop run` for an embedded database)")
        return self.database_url

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise SettingsError(f"{ENV_PREFIX}REDIS_URL is not set (use `closeloop run` for an embedded Redis)")
        return self.redis_url


class SettingsError(RuntimeError):
    """A configuration problem, with a message that names the variable."""


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        lines.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read and validate the environment; raise SettingsError naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; a bad environment stops the process with a clear message."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
