"""One way in for configuration: `CLOSELOOP_*` environment variables, validated at start-up."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CLOSELOOP_"


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
    sweep_interval_s: float = Field(default=1.0, gt=0, le=3600, description="deadline sweep period")
    sweep_batch_size: int = Field(default=500, ge=1, le=100_000)
    sweep_concurrency: int = Field(default=2, ge=1, le=16, description="sweep loops per worker process")
    outbox_sweep_interval_s: float = Field(default=2.0, gt=0, le=3600)
    public_url: str = Field(default="http://127.0.0.1:8000", description="base of links in messages")
    bootstrap_token: SecretStr | None = Field(default=None, description="admin bearer token ensured at start")
    bootstrap_email: str = "ops@closeloop.local"
    allow_private_webhooks: bool = False
    timezone: str = "Asia/Shanghai"
    delivery_timeout_s: float = Field(default=10.0, gt=0, le=120)
    delivery_max_attempts: int = Field(default=12, ge=1, le=100)
    delivery_max_age_s: float = Field(default=24 * 3600, gt=0)
    retry_base_s: float = Field(default=1.0, gt=0)
    retry_cap_s: float = Field(default=600.0, gt=0)

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

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {v!r}") from exc
        return v

    @field_validator("bootstrap_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("bootstrap_token")
    @classmethod
    def _token_strength(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 20:
            raise ValueError("must be at least 20 characters")
        return v

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
