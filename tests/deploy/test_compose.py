"""docker-compose.yml (Docker cannot run here): services, commands, ordering and environment."""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_images():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker", "notifier"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ("migrate", "api", "worker", "notifier"):
        assert services[name]["build"] == "." and services[name]["image"] == "closeloop:latest", name


def test_commands_run_migrations_once_then_the_three_services():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["restart"] == "no"
    assert services["api"]["command"] == ["closeloop", "api"]
    assert services["worker"]["command"] == ["closeloop", "worker"]
    assert services["notifier"]["command"] == ["closeloop", "notifier"]
    for name in ("api", "worker", "notifier"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_environment_points_every_service_at_the_real_servers():
    services = compose()["services"]
    # prometheus-client reads its own variable: the API processes' shared metrics directory.
    known = {f"CLOSELOOP_{name.upper()}" for name in Settings.model_fields} | {"PROMETHEUS_MULTIPROC_DIR"}
    for name in ("migrate", "api", "worker", "notifier"):
        env = services[name]["environment"]
        assert env["CLOSELOOP_DATABASE_URL"] == "postgresql+asyncpg://closeloop:closeloop@postgres:5432/closeloop"
        assert env["CLOSELOOP_REDIS_URL"] == "redis://redis:6379/0"
        assert env["CLOSELOOP_ENV"] == "prod"
        assert env["CLOSELOOP_SECRET_KEY"].startswith("${CLOSELOOP_SECRET_KEY:?")  # compose refuses when unset
        assert set(env) <= known, set(env) - known  # no typo'd variable silently ignored
    pg_env = services["postgres"]["environment"]
    assert (pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"]) == (
        "closeloop",
        "closeloop",
        "closeloop",
    )
    assert services["api"]["environment"]["CLOSELOOP_API_HOST"] == "0.0.0.0"
    # several API processes add up their metrics in a directory that is fresh on every start
    assert services["api"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] in services["api"]["tmpfs"]
    for name in ("worker", "notifier"):
        assert services[name]["environment"]["CLOSELOOP_METRICS_PORT"] == "9100"


def test_dockerfile_installs_the_project_and_includes_migrations():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("# One image") and "FROM python:3.11" in dockerfile
    for needed in ("COPY shared", "COPY services", "COPY migrations", "COPY alembic.ini", "RUN pip install ."):
        assert needed in dockerfile
    assert "USER closeloop" in dockerfile
