"""The risk register: the level from the 3 × 3 matrix and its history, the matrix counts, the
board's filters, reviews by cadence (a timed `risk_review`) and the director told at once when a
risk is raised to high."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import AuditLog, ChannelKind, Escalation, Notification, SlaTimer, TimerState
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from tests.approvals.conftest import Org, sweep
from tests.budget.conftest import call
from tests.factories import make_channel
from tests.notify.helpers import make_dispatcher


async def raise_risk(client, org: Org, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "竞品双十一提前降价",
        "category": "competition",
        "likelihood": "medium",
        "impact": "medium",
        "owner_id": org.planner.id,
        "strategy": "mitigate",
        "response_plan": "提前锁定达人档期，准备满减预案",
        **extra,
    }
    return await call(client, org, org.planner, "POST", "/risks", 201, **body)


async def test_the_level_follows_the_matrix_and_its_history_is_kept(client, sessions, org):
    expected = {
        ("high", "high"): "high",
        ("high", "medium"): "high",
        ("medium", "high"): "high",
        ("high", "low"): "medium",
        ("medium", "medium"): "medium",
        ("low", "high"): "medium",
        ("medium", "low"): "low",
        ("low", "medium"): "low",
        ("low", "low"): "low",
    }
    for (likelihood, impact), level in expected.items():
        risk = await raise_risk(client, org, likelihood=likelihood, impact=impact)
        assert risk["level"] == level, (likelihood, impact)

    risk = await raise_risk(client, org, likelihood="low", impact="low")
    changed = await call(client, org, org.planner, "PATCH", f"/risks/{risk['id']}", likelihood="high", impact="low")
    assert changed["level"] == "medium"
    history = await call(client, org, org.planner, "GET", f"/risks/{risk['id']}/level-history")
    assert [(h["from_level"], h["to_level"]) for h in history] == [(None, "low"), ("low", "medium")]
    assert history[1]["by"] == org.planner.id
    async with unit_of_work(sessions) as s:
        actions = list(
            await s.scalars(
                select(AuditLog.action).where(AuditLog.entity_type == "risk", AuditLog.entity_id == risk["id"])
            )
        )
    assert len(actions) == 2  # created, updated


async def test_the_matrix_counts_each_cell_with_its_ids_and_filters(client, org):
    a = await raise_risk(client, org, likelihood="high", impact="high")
    b = await raise_risk(client, org, likelihood="high", impact="high")
    c = await raise_risk(client, org, likelihood="low", impact="medium")
    d = await raise_risk(client, org, likelihood="medium", impact="high", owner_id=org.legal.id)
    await call(client, org, org.planner, "PATCH", f"/risks/{c['id']}", status="closed")

    grid = await call(client, org, org.ceo, "GET", "/risks/matrix")
    assert grid["total"] == 4 and len(grid["cells"]) == 9
    cells = {(x["likelihood"], x["impact"]): x for x in grid["cells"]}
    assert cells[("high", "high")]["count"] == 2 and cells[("high", "high")]["risk_ids"] == [a["id"], b["id"]]
    assert cells[("medium", "high")] == {
        "likelihood": "medium",
        "impact": "high",
        "level": "high",
        "count": 1,
        "risk_ids": [d["id"]],
    }
    assert cells[("low", "medium")]["risk_ids"] == [c["id"]]
    assert cells[("low", "low")]["count"] == 0 and cells[("low", "low")]["level"] == "low"

    open_only = await call(client, org, org.ceo, "GET", "/risks/matrix?status=open,mitigating")
    assert open_only["total"] == 3
    marketing = await call(client, org, org.planner, "GET", f"/risks/matrix?department_id={org.marketing.id}")
    assert marketing["total"] == 3  # 郑法务's risk is in no department

    board = await call(client, org, org.planner, "GET", "/risks?level=high&status=open")
    assert [r["id"] for r in board["items"]] == [a["id"], b["id"], d["id"]]
    board = await call(client, org, org.planner, "GET", f"/risks?owner_id={org.legal.id}")
    assert [r["id"] for r in board["items"]] == [d["id"]]
    board = await call(client, org, org.planner, "GET", "/risks?q=竞品&level=low")
    assert [r["id"] for r in board["items"]] == [c["id"]]


async def test_bad_input_is_a_422_naming_the_field(client, org):
    r = await client.post(
        "/api/v1/risks",
        headers=org.headers(org.planner),
        json={
            "title": "x",
            "category": "weather",
            "likelihood": "high",
            "impact": "high",
            "owner_id": org.planner.id,
            "strategy": "mitigate",
        },
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["body.category"]
    r = await client.get("/api/v1/risks/matrix?colour=red", headers=org.headers(org.planner))
    assert r.status_code == 422 and "colour" in r.text
    r = await client.post("/api/v1/risks", headers=org.headers(org.planner), json={"title": "x"})
    assert r.status_code == 422
    r = await client.get("/api/v1/risks", headers=org.headers(org.planner))
    assert r.json()["items"] == []  # nothing half-written


async def test_a_review_meets_its_timer_and_arms_the_next(client, sessions, clock, org):
    risk = await raise_risk(client, org, review_every_days=2)
    (due,) = await call(client, org, org.planner, "GET", f"/risks/{risk['id']}/reviews")
    assert due["status"] == "due"
    (timer,) = due["sla"]
    assert timer["state"] == "running"
    first_due = datetime.fromisoformat(timer["due_at"])
    assert first_due == datetime.fromisoformat("2026-03-04T10:00:00+08:00")  # Monday + 2 working days

    clock.set(datetime.fromisoformat("2026-03-04T10:00:01+08:00"))
    await sweep(sessions, clock.now())
    async with unit_of_work(sessions) as s:
        breach = (
            await s.scalars(
                select(Escalation).where(
                    Escalation.subject_type == "risk_review",
                    Escalation.subject_id == due["id"],
                    Escalation.kind == "breach",
                )
            )
        ).one()
    assert [r["user_id"] for r in breach.recipients] == [org.planner.id]
    late = await call(client, org, org.planner, "GET", "/risks?overdue=true")
    assert [r["id"] for r in late["items"]] == [risk["id"]]

    clock.set(datetime.fromisoformat("2026-03-05T09:00:00+08:00"))
    done = await call(client, org, org.planner, "POST", f"/risks/{risk['id']}/reviews", 201, note="竞品未动，维持")
    assert done["id"] == due["id"] and done["status"] == "done" and done["note"] == "竞品未动，维持"
    assert done["sla"][0]["state"] == "met"
    reviews = await call(client, org, org.planner, "GET", f"/risks/{risk['id']}/reviews")
    assert [r["status"] for r in reviews] == ["done", "due"]
    (nxt,) = reviews[1]["sla"]
    assert nxt["state"] == "running"
    assert datetime.fromisoformat(nxt["due_at"]) == datetime.fromisoformat("2026-03-09T09:00:00+08:00")
    late = await call(client, org, org.planner, "GET", "/risks?overdue=true")
    assert late["items"] == []

    await call(client, org, org.planner, "PATCH", f"/risks/{risk['id']}", status="closed")
    reviews = await call(client, org, org.planner, "GET", f"/risks/{risk['id']}/reviews")
    assert [r["status"] for r in reviews] == ["done", "cancelled"]
    r = await client.post(
        f"/api/v1/risks/{risk['id']}/reviews", headers=org.headers(org.planner), json={"note": "again"}
    )
    assert r.status_code == 409


async def test_a_risk_raised_to_high_reaches_the_director_once(client, sessions, settings, arq_redis, botsim, org):
    botsim.add_bots({"market": {"kind": "dingtalk"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[org.marketing.id]
    )
    risk = await raise_risk(client, org)  # medium: nothing
    path = f"/risks/{risk['id']}"
    await call(client, org, org.planner, "POST", f"{path}/reviews", 201, note="竞品已降价", likelihood="high")
    await call(client, org, org.planner, "PATCH", path, response_plan="加码投放")  # still high: nothing more
    await call(client, org, org.planner, "PATCH", path, likelihood="low")  # down: nothing
    async with unit_of_work(sessions) as s:
        rows = list(await s.scalars(select(Notification).where(Notification.event_type == "risk.raised_high")))
    # one row per channel that reaches 王总监 (the fixture's own marketing channel and this one)
    assert sorted(r.channel_id for r in rows) == sorted({r.channel_id for r in rows})
    (row,) = [r for r in rows if r.channel_id == channel.id]
    assert row.dedupe_key.startswith(f"risk:{risk['id']}:high:") and row.dedupe_key.endswith(f":ch{channel.id}")
    assert [m["name"] for m in row.payload["mentions"]] == [org.marketing_director.name]
    assert (row.payload["from_level"], row.payload["level"]) == ("medium", "high")

    async with Sender() as http:
        await drain(make_dispatcher(settings, sessions, arq_redis, http, SystemClock()), channel.id)
    texts = [m["body"]["markdown"]["text"] for m in botsim.messages("market")]
    assert len(texts) == 1, texts
    assert "竞品双十一提前降价" in texts[0] and "高" in texts[0]


async def test_an_unreviewed_risk_reminds_the_owner_then_their_manager(client, sessions, clock, org):
    risk = await raise_risk(client, org, review_every_days=1)
    (due,) = await call(client, org, org.planner, "GET", f"/risks/{risk['id']}/reviews")
    clock.set(datetime.fromisoformat("2026-03-06T18:00:00+08:00"))  # days later, still not reviewed
    await sweep(sessions, clock.now())
    async with unit_of_work(sessions) as s:
        fired = list(
            await s.scalars(
                select(Escalation)
                .where(Escalation.subject_type == "risk_review", Escalation.subject_id == due["id"])
                .order_by(Escalation.id)
            )
        )
    by_kind = {e.kind: [r["user_id"] for r in e.recipients] for e in fired}
    assert by_kind["breach"] == [org.planner.id]
    assert by_kind["escalation"] == [org.manager.id]


async def test_cancelling_the_campaign_closes_its_risks_and_stops_their_reviews(client, sessions, org):
    campaign = await call(
        client, org, org.planner, "POST", "/campaigns", 201, name="双十一", template_key="campaign_default"
    )
    ours = await raise_risk(client, org, campaign_id=campaign["id"])
    other = await raise_risk(client, org)
    await call(client, org, org.planner, "POST", f"/campaigns/{campaign['id']}/cancel")

    risk = await call(client, org, org.planner, "GET", f"/risks/{ours['id']}")
    assert risk["status"] == "closed"
    (review,) = await call(client, org, org.planner, "GET", f"/risks/{ours['id']}/reviews")
    assert review["status"] == "cancelled" and review["sla"] == []  # no clock runs on it any more
    (still,) = await call(client, org, org.planner, "GET", f"/risks/{other['id']}/reviews")
    assert still["status"] == "due" and still["sla"][0]["state"] == "running"
    async with unit_of_work(sessions) as s:
        closed_by = (
            await s.scalars(
                select(AuditLog.actor).where(
                    AuditLog.entity_type == "risk", AuditLog.entity_id == ours["id"], AuditLog.action == "update"
                )
            )
        ).all()
        states = (
            await s.scalars(
                select(SlaTimer.state).where(
                    SlaTimer.subject_type == "risk_review", SlaTimer.subject_id == review["id"]
                )
            )
        ).all()
    assert closed_by == ["system:campaign-cancelled"]
    assert states == [TimerState.cancelled]
