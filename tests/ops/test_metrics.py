"""What an operator scrapes and checks: `/metrics` (per-route latency, levels fired, delivery
outcomes, and the system's gauges read at scrape time), `/readyz` with the sweep's heartbeat, the
request id, JSON log lines, and `closeloop run`'s restart policy."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.cli import Restarts
from services.notifier.main import drain
from services.worker.main import sweep_once
from shared.db import unit_of_work
from shared.models import ChannelKind, Notification, NotificationStatus
from shared.observability import heartbeat, logs
from shared.tasks.schemas import TaskCreate
from shared.tasks.service import create_task
from tests.factories import BREACH_ONLY, SYSTEM, auth, make_channel, make_department, make_policy, make_user


def deploy_files() -> tuple[dict, dict]:
    root = Path(__file__).resolve().parents[2] / "deploy"
    rules = yaml.safe_load((root / "prometheus-alerts.yml").read_text())
    return rules, json.loads((root / "grafana-dashboard.json").read_text())


async def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_request_latency_is_counted_by_route_template_not_by_path(client, sessions):
    headers = await auth(sessions)
    before = await scrape(client)
    for task_id in (1, 2, 3):
        assert (await client.get(f"/api/v1/tasks/{task_id}", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/tasks?limit=5", headers=headers)).status_code == 200
    after = await scrape(client)
    series = "closeloop_http_request_duration_seconds_count"
    one = {"method": "GET", "route": "/api/v1/tasks/{task_id}", "status": "404"}
    assert value(after, series, **one) - value(before, series, **one) == 3
    board = {"method": "GET", "route": "/api/v1/tasks", "status": "200"}
    assert value(after, series, **board) - value(before, series, **board) == 1
    assert not any(dict(labels).get("route", "").endswith("/1") for _name, labels in after)


async def test_levels_fired_outbox_depth_deliveries_and_sweep_lag(client, sessions, clock, ctx, botsim):
    botsim.add_bots({"ops": {"kind": "dingtalk"}})
    dept = await make_department(sessions)
    owner = await make_user(sessions, department_id=dept.id)
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "ops"), department_ids=[dept.id]
    )
    await make_policy(sessions, levels=BREACH_ONLY)
    async with unit_of_work(sessions) as s:
        await create_task(
            s,
            actor=SYSTEM,
            now=clock.now(),
            data=TaskCreate(title="竞品分析", assignee_id=owner.id, due_at=clock.now() - timedelta(seconds=42)),
        )
    before = await scrape(client)
    # Due 42 s ago and nobody has swept: that is the lag an alert rule watches (> 5 s).
    assert value(before, "closeloop_sla_sweep_lag_seconds") == 42
    assert ("closeloop_heartbeat_age_seconds", (("process", "worker"),)) not in before  # never seen

    await sweep_once(ctx)
    swept = await scrape(client)
    assert value(swept, "closeloop_sla_sweep_lag_seconds") == 0
    fired = "closeloop_sla_levels_fired_total"
    assert value(swept, fired, kind="breach") - value(before, fired, kind="breach") == 1
    assert value(swept, "closeloop_outbox_depth", channel_id=str(channel.id)) == 1
    assert ("closeloop_heartbeat_age_seconds", (("process", "worker"),)) in swept

    await drain(ctx, channel.id)
    sent = await scrape(client)
    delivered = "closeloop_notifier_deliveries_total"
    assert value(sent, delivered, outcome="success") - value(swept, delivered, outcome="success") == 1
    assert value(sent, "closeloop_outbox_depth", channel_id=str(channel.id)) == 0
    assert value(sent, "closeloop_dead_letters", channel_id=str(channel.id)) == 0
    assert value(sent, "closeloop_channel_healthy", channel_id=str(channel.id)) == 1

    async with unit_of_work(sessions) as s:
        await s.execute(Notification.__table__.update().values(status=NotificationStatus.dead))
    dead = await scrape(client)
    assert value(dead, "closeloop_dead_letters", channel_id=str(channel.id)) == 1


async def test_readyz_reports_the_sweeps_heartbeat(client, clock, arq_redis):
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "degraded", "checks": {"database": "ok", "redis": "ok", "sweep": "no worker seen"}}

    await heartbeat.beat(arq_redis, "worker", now=clock.now())
    assert (await client.get("/readyz")).json()["status"] == "ok"
    clock.advance(timedelta(seconds=11))  # five missed 1 s beats, at least 10 s
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "degraded" and ready["checks"]["sweep"] == "stale: 11s"


async def test_the_request_id_is_answered_back_and_made_when_missing_or_unsafe(client):
    r = await client.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    assert r.headers["x-request-id"] == "trace-42.a"
    made = (await client.get("/healthz")).headers["x-request-id"]
    assert len(made) == 32
    unsafe = (await client.get("/healthz", headers={"X-Request-ID": "a\tb" + "x" * 80})).headers["x-request-id"]
    assert len(unsafe) == 32 and unsafe != made


def test_json_log_lines_carry_the_request_id_and_extras():
    record = logging.LogRecord("closeloop.api", logging.WARNING, __file__, 1, "task %s late", (7,), None)
    record.channel_id = 3
    token = logs.request_id.set("abc123")
    try:
        logs.RequestIdFilter().filter(record)
    finally:
        logs.request_id.reset(token)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["event"] == "task 7 late" and line["level"] == "warning" and line["logger"] == "closeloop.api"
    assert line["request_id"] == "abc123" and line["channel_id"] == 3


def test_a_crashed_child_is_restarted_with_doubling_backoff_that_resets_once_stable():
    now = [0.0]
    r = Restarts(clock=lambda: now[0])
    r.running("worker")
    assert r.due_in("worker") is None
    assert r.crashed("worker") == 1.0
    now[0] += 1.0
    assert r.due_in("worker") == 0
    r.started("worker")
    delays = []
    for _ in range(6):  # crashes again at once, six times
        delays.append(r.crashed("worker"))
        now[0] += delays[-1]
        r.started("worker")
    assert delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    now[0] += 61  # ran for a minute: the next crash starts from 1 s again
    assert r.crashed("worker") == 1.0


async def test_the_alert_rules_and_dashboard_use_only_series_a_scrape_has(client, sessions, clock, ctx, botsim):
    """deploy/ must not drift from the code: every series its expressions name is scraped here."""
    botsim.add_bots({"ops2": {"kind": "dingtalk"}})
    dept = await make_department(sessions)
    owner = await make_user(sessions, department_id=dept.id)
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "ops2"), department_ids=[dept.id]
    )
    await make_policy(sessions, levels=BREACH_ONLY)
    async with unit_of_work(sessions) as s:
        await create_task(
            s, actor=SYSTEM, now=clock.now(), data=TaskCreate(title="t", assignee_id=owner.id, due_at=clock.now())
        )
    await sweep_once(ctx)
    await drain(ctx, channel.id)
    await heartbeat.beat(ctx["redis"], "notifier", now=clock.now())
    scraped = {name for name, _labels in await scrape(client)}

    rules, dashboard = deploy_files()
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    named = {m for e in exprs for m in re.findall(r"\bcloseloop_[a-z_]+", e)}
    assert len(named) >= 10
    assert named <= scraped, named - scraped
    assert {r["alert"] for g in rules["groups"] for r in g["rules"]} >= {
        "CloseloopSweepLagging",
        "CloseloopDeadLetters",
        "CloseloopChannelUnhealthy",
    }
