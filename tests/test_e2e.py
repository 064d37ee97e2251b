"""End to end with the real processes: api + worker + notifier, real PostgreSQL, Redis and botsim.

A task due 2 s from now breaches its SLA timer: exactly one signed Feishu card and one signed webhook
delivery, within a few seconds after the due time and none before it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.embedded import free_port
from tests.conftest import stop_processes

pytestmark = pytest.mark.e2e

TOKEN = "cl_e2e_" + "x" * 32
WHSEC = "whsec_" + base64.b64encode(b"e2e-secret-e2e-secret-e2e-secret").decode()


@pytest.fixture
def processes(stack, engine, tmp_path) -> Iterator[str]:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "CLOSELOOP_DATABASE_URL": stack.database_url,
        "CLOSELOOP_REDIS_URL": stack.redis_url,
        "CLOSELOOP_API_PORT": str(port),
        "CLOSELOOP_BOOTSTRAP_TOKEN": TOKEN,
        "CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS": "true",
        "CLOSELOOP_OUTBOX_SWEEP_INTERVAL_S": "1",
        "CLOSELOOP_PUBLIC_URL": "http://closeloop.e2e",
        "CLOSELOOP_SEED_DEFAULTS": "false",  # the test brings its own SLA policy
        # Two API processes, one metrics directory for all five processes, JSON log lines.
        "CLOSELOOP_API_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "CLOSELOOP_LOG_FORMAT": "json",
    }
    procs = []
    for name in ("api", "worker", "notifier"):
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 — closed with the process
        procs.append(
            (
                subprocess.Popen(
                    [sys.executable, "-m", "services.cli", name], env=env, stdout=log, stderr=subprocess.STDOUT
                ),
                log,
            )
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # five processes importing at once on a loaded 2-core machine
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            for proc, _ in procs:
                assert proc.poll() is None, (tmp_path / "api.log").read_text()
            time.sleep(0.1)
        else:
            pytest.fail("the api never became ready")
        yield base
    finally:
        codes = stop_processes([proc for proc, _ in procs])
        for _, log in procs:
            log.close()
        bad = [proc.args for (proc, _), code in zip(procs, codes, strict=True) if code not in (0, -15)]
        assert not bad, f"exited badly: {bad}"


def test_overdue_task_reaches_feishu_and_webhook_once_and_on_time(processes, botsim, tmp_path):
    botsim.add_bots(
        {
            "fs1": {"kind": "feishu", "secret": "e2e-secret", "keywords": ["Closeloop"]},
            "gw1": {"kind": "generic", "secret": WHSEC},
        }
    )
    api = httpx.Client(base_url=processes, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    dept = api.post("/api/v1/departments", json={"name": "市场部"}).json()
    owner = api.post(
        "/api/v1/users",
        json={
            "name": "张策划",
            "email": "zhang@example.com",
            "department_id": dept["id"],
            "feishu_open_id": "ou_0e2e0e2e0e2e0e2e0e2e0e2e0e2e0e2e",
        },
    ).json()
    r = api.post(
        "/api/v1/channels",
        json={
            "name": "市场群",
            "kind": "feishu",
            "url": botsim.url("feishu", "fs1"),
            "secret": "e2e-secret",
            "keywords": ["Closeloop"],
            "department_ids": [dept["id"]],
        },
    )
    assert r.status_code == 201, r.text
    r = api.post(
        "/api/v1/channels",
        json={"name": "crm", "kind": "webhook", "url": botsim.url("webhook", "gw1"), "secret": WHSEC},
    )
    assert r.status_code == 201, r.text
    esc = api.post(
        "/api/v1/escalation-policies",
        json={"name": "breach", "levels": [{"offset": "0", "recipients": ["assignee", "assignee_manager"]}]},
    ).json()
    r = api.post(
        "/api/v1/sla/policies",
        json={"name": "tasks", "target_kind": "working_days", "target_value": "2", "escalation_policy_id": esc["id"]},
    )
    assert r.status_code == 201, r.text
    due = datetime.now(UTC) + timedelta(seconds=2)
    task = api.post(
        "/api/v1/tasks", json={"title": "提交《活动策划方案》", "assignee_id": owner["id"], "due_at": due.isoformat()}
    ).json()

    arrived: dict[str, float] = {}
    deadline = due.timestamp() + 8
    while time.time() < deadline and len(arrived) < 2:
        for bot in ("fs1", "gw1"):
            if bot not in arrived and botsim.messages(bot):
                arrived[bot] = botsim.messages(bot)[0]["at"]
        time.sleep(0.05)
    assert set(arrived) == {"fs1", "gw1"}, botsim.stats()
    for bot, at in arrived.items():
        lateness = at - due.timestamp()
        print(f"{bot}: delivered {lateness:.2f}s after due")
        assert 0 <= lateness <= 2, f"{bot} delivered {lateness:.2f}s after due (the bar is T + 2 s)"
    time.sleep(2.5)  # several more sweeps: still exactly one each
    (card,) = botsim.messages("fs1")
    (hook,) = botsim.messages("gw1")
    assert "提交《活动策划方案》" in card["body"]["card"]["header"]["title"]["content"]
    assert hook["body"]["data"]["subject"]["id"] == task["id"] and hook["body"]["type"] == "sla.breach"
    assert task["sla"][0]["due_at"].startswith(due.isoformat()[:19])
    assert botsim.stats()["fs1"]["rejected"] == {} and botsim.stats()["gw1"]["rejected"] == {}
    delivered = api.get("/api/v1/notifications", params={"subject_id": task["id"]}).json()["items"]
    assert sorted(n["status"] for n in delivered) == ["delivered", "delivered"]
    attempts = api.get(f"/api/v1/notifications/{delivered[0]['id']}/attempts").json()["items"]
    assert len(attempts) == 1 and attempts[0]["outcome"] == "success"

    # One scrape of either API process sees what the worker and the notifier processes counted.
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(httpx.get(f"{processes}/metrics").text)
        for s in family.samples
    }
    assert samples[("closeloop_sla_levels_fired_total", (("kind", "breach"),))] == 1
    assert samples[("closeloop_notifier_deliveries_total", (("outcome", "success"),))] == 2
    assert samples[("closeloop_sla_sweep_lag_seconds", ())] < 5
    assert httpx.get(f"{processes}/readyz").json()["checks"]["sweep"] == "ok"
    assert httpx.get(f"{processes}/readyz").json()["status"] == "ok"
    # CLOSELOOP_LOG_FORMAT=json: every line each process wrote is one JSON object.
    for name in ("api", "worker", "notifier"):
        lines = [json.loads(line) for line in (tmp_path / f"{name}.log").read_text().splitlines() if line.strip()]
        assert lines and all({"ts", "level", "logger", "event"} <= set(line) for line in lines), name
    worker_events = [line["event"] for line in map(json.loads, (tmp_path / "worker.log").read_text().splitlines())]
    assert any(e.startswith("sla sweep: 1 timer(s), 1 level(s) fired") for e in worker_events), worker_events
