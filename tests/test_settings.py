"""Settings: one way in (CLOSELOOP_*), and bad values stop start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.crypto import new_key
from shared.settings import DEV_SECRET_KEY, SettingsError, load_settings


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
        ("CLOSELOOP_SECRET_KEY", "not-a-fernet-key"),
        ("CLOSELOOP_SECRET_KEY", "c2hvcnQ="),  # valid base64, but 5 bytes
        ("CLOSELOOP_SECRET_KEY_PREVIOUS", "not-a-fernet-key"),
        ("CLOSELOOP_INBOUND_WEBHOOK_SECRET", "plain-password"),
        ("CLOSELOOP_INBOUND_WEBHOOK_SECRET", "whsec_c2hvcnQ="),  # 5 bytes of key
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


def test_the_built_in_secret_key_serves_dev_and_test(monkeypatch):
    monkeypatch.delenv("CLOSELOOP_SECRET_KEY", raising=False)
    for env in ("dev", "test"):
        s = load_settings(env=env)
        assert s.secret_key.get_secret_value() == DEV_SECRET_KEY and s.secret_keys == [DEV_SECRET_KEY]
    assert DEV_SECRET_KEY not in repr(load_settings())  # SecretStr: never printed


@pytest.mark.parametrize("key", [None, "", DEV_SECRET_KEY])
def test_prod_refuses_a_missing_or_built_in_secret_key(monkeypatch, key):
    monkeypatch.setenv("CLOSELOOP_ENV", "prod")
    if key is None:
        monkeypatch.delenv("CLOSELOOP_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("CLOSELOOP_SECRET_KEY", key)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "CLOSELOOP_SECRET_KEY" in str(err.value) and "prod" in str(err.value)


def test_prod_accepts_its_own_key_and_previous_keys_for_rotation(monkeypatch):
    current, old1, old2 = new_key(), new_key(), new_key()
    monkeypatch.setenv("CLOSELOOP_ENV", "prod")
    monkeypatch.setenv("CLOSELOOP_SECRET_KEY", current)
    monkeypatch.setenv("CLOSELOOP_SECRET_KEY_PREVIOUS", f"{old1}, {old2}")
    assert load_settings().secret_keys == [current, old1, old2]


def test_a_production_process_without_a_secret_key_stops_naming_the_variable():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}
    env |= {"CLOSELOOP_ENV": "prod", "CLOSELOOP_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/x"}
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "api"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "CLOSELOOP_SECRET_KEY" in proc.stderr
