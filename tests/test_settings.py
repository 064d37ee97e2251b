"""Settings: one way in (CLOSELOOP_*), and bad values stop start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.settings import SettingsError, load_settings


def test_defaults():
    s = load_settings()
    assert s.sweep_interval_s == 1.0 and s.timezone == "Asia/Shanghai" and s.allow_private_webhooks is False
    assert s.api_port == 8000


def test_environment_is_read_with_the_prefix(monkeypatch):
    monkeypatch.setenv("CLOSELOOP_SWEEP_INTERVAL_S", "0.25")
    monkeypatch.setenv("CLOSELOOP_DATABASE_URL", "postgres://u:p@db:5432/x")
    s = load_settings()
    assert s.sweep_interval_s == 0.25
    assert s.database_url == "postgresql+asyncpg://u:p@db:5432/x"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("CLOSELOOP_API_PORT", "eighty"),
        ("CLOSELOOP_API_PORT", "70000"),
        ("CLOSELOOP_TIMEZONE", "Mars/Base"),
        ("CLOSELOOP_SWEEP_INTERVAL_S", "0"),
        ("CLOSELOOP_DATABASE_URL", "mysql://x"),
        ("CLOSELOOP_REDIS_URL", "http://x"),
        ("CLOSELOOP_BOOTSTRAP_TOKEN", "short"),
        ("CLOSELOOP_PUBLIC_URL", "closeloop.example.com"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert var in str(err.value)


def test_empty_bootstrap_token_means_none(monkeypatch):
    monkeypatch.setenv("CLOSELOOP_BOOTSTRAP_TOKEN", "")
    assert load_settings().bootstrap_token is None


def test_a_process_with_bad_settings_stops_with_a_message_naming_the_variable():
    env = {**os.environ, "CLOSELOOP_API_PORT": "eighty"}
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "api"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "CLOSELOOP_API_PORT" in proc.stderr


def test_services_refuse_to_start_without_a_database_url():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "CLOSELOOP_DATABASE_URL" in proc.stderr
