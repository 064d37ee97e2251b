"""ROI estimates before big promotions (seed 003: 大促活动需提前15天提交ROI测算报告): a campaign flagged
as a big promotion owes its owner's ROI report 15 calendar days before it starts, under SLA; the
deadline follows the start date; unflagging or cancelling drops it; the report's figures come back
exact; and the deadline alert reaches the team's chat exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import ChannelKind, Escalation, TimerState
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.roi.models import RoiEstimate
from tests.factories import make_channel
from tests.notify.helpers import make_dispatcher
from tests.roi.helpers import REPORT, T0, T, at, call, escalations, promotion, sweep, timers


async def test_a_big_promotion_owes_its_roi_report_15_days_before_it_starts(client, sessions, clock, org):
    campaign = await promotion(client, org, start_date="2025-04-01")
    assert campaign["is_big_promotion"] is True
    estimate = await call(client, org, "other", "GET", f"/campaigns/{campaign['id']}/roi-estimate")
    assert estimate["status"] == "pending" and estimate["start_date"] == "2025-04-01"
    # 15 calendar days before 1 April, at 00:00 Beijing time: 15 whole days to spare
    assert T(estimate["due_at"]) == T("2025-03-17T00:00:00+08:00")
    assert estimate["due_at_once"] is False and estimate["due_note"] is None
    (timer,) = estimate["sla"]
    assert timer["state"] == "running" and T(timer["due_at"]) == T("2025-03-17T00:00:00+08:00")
    assert timer["target"]["kind"] == "due_at"

    # three days before: the owner is warned; at the deadline: the owner and the owner's manager
    await sweep(sessions, clock, "2025-03-14T00:00:01+08:00")
    await sweep(sessions, clock, "2025-03-17T00:00:01+08:00")
    fired = await escalations(sessions, estimate["id"])
    assert [e.kind for e in fired] == ["warning", "breach"]
    assert [r["user_id"] for r in fired[0].recipients] == [org["owner"].id]
    assert [r["user_id"] for r in fired[1].recipients] == [org["owner"].id, org["manager"].id]
    board = await call(client, org, "other", "GET", "/roi-estimates?overdue=true")
    assert [e["campaign_id"] for e in board["items"]] == [campaign["id"]]


async def test_a_campaign_not_flagged_owes_none(client, sessions, clock, org):
    campaign = await call(
        client, org, "owner", "POST", "/campaigns", expect=201, name="日常推广", start_date="2025-04-01"
    )
    assert campaign["is_big_promotion"] is False
    problem = await call(client, org, "owner", "GET", f"/campaigns/{campaign['id']}/roi-estimate", expect=404)
    assert "not a big promotion" in problem["detail"]
    await call(client, org, "owner", "PUT", f"/campaigns/{campaign['id']}/roi-estimate", expect=404, **REPORT)
    assert (await call(client, org, "owner", "GET", "/roi-estimates"))["items"] == []


async def test_moving_the_start_date_moves_the_deadline_and_rearms_the_timer(client, sessions, clock, org):
    campaign = await promotion(client, org, start_date="2025-04-01")
    path = f"/campaigns/{campaign['id']}/roi-estimate"
    await sweep(sessions, clock, "2025-03-14T00:00:01+08:00")  # the 3-day warning has fired

    at(clock, "2025-03-15T09:00:00+08:00")
    await call(client, org, "owner", "PATCH", f"/campaigns/{campaign['id']}", start_date="2025-04-20")
    estimate = await call(client, org, "owner", "GET", path)
    assert T(estimate["due_at"]) == T("2025-04-05T00:00:00+08:00") and estimate["start_date"] == "2025-04-20"
    old, new = await timers(sessions, estimate["id"])
    assert old.state == TimerState.cancelled and old.cancel_reason == "deadline changed"
    assert new.state == TimerState.running and new.due_at == T("2025-04-05T00:00:00+08:00")

    # nothing fires at the old deadline; the warning fires again 3 days before the new one
    await sweep(sessions, clock, "2025-03-17T00:00:01+08:00")
    assert [e.kind for e in await escalations(sessions, estimate["id"])] == ["warning"]
    await sweep(sessions, clock, "2025-04-02T00:00:01+08:00")
    assert [e.kind for e in await escalations(sessions, estimate["id"])] == ["warning", "warning"]


async def test_a_start_date_less_than_15_days_away_makes_it_due_at_once(client, sessions, clock, org):
    campaign = await promotion(client, org, start_date="2025-03-12")
    estimate = await call(client, org, "owner", "GET", f"/campaigns/{campaign['id']}/roi-estimate")
    assert T(estimate["due_at"]) == T(T0) and estimate["due_at_once"] is True
    assert "less than 15 days away" in estimate["due_note"] and "due at once" in estimate["due_note"]
    assert estimate["sla"][0]["breached"] is True

    await sweep(sessions, clock, "2025-03-04T10:00:01+08:00")
    # one breach to the owner and the manager; the warning it overtook is recorded but not sent
    fired = await escalations(sessions, estimate["id"])
    assert [(e.kind, e.suppressed) for e in fired] == [("warning", True), ("breach", False)]


async def test_flagging_a_dated_campaign_later_starts_the_deadline(client, sessions, clock, org):
    campaign = await call(
        client, org, "owner", "POST", "/campaigns", expect=201, name="618大促", department_id=org["dept"].id
    )
    # the owner may take the flag on (it only adds work); without a start date nothing is due yet
    await call(client, org, "owner", "PATCH", f"/campaigns/{campaign['id']}", is_big_promotion=True)
    path = f"/campaigns/{campaign['id']}/roi-estimate"
    estimate = await call(client, org, "owner", "GET", path)
    assert estimate["status"] == "pending" and estimate["due_at"] is None and estimate["sla"] == []
    assert "no start date" in estimate["due_note"]
    await call(client, org, "owner", "PATCH", f"/campaigns/{campaign['id']}", start_date="2025-05-01")
    estimate = await call(client, org, "owner", "GET", path)
    assert T(estimate["due_at"]) == T("2025-04-16T00:00:00+08:00") and estimate["sla"][0]["state"] == "running"
    # and someone else's campaign is not theirs to flag
    theirs = await call(client, org, "director", "POST", "/campaigns", expect=201, name="年货节")
    await call(client, org, "owner", "PATCH", f"/campaigns/{theirs['id']}", expect=403, is_big_promotion=True)


async def test_only_a_manager_may_unflag_and_unflagging_cancels_the_estimate(client, sessions, clock, org):
    campaign = await promotion(client, org, start_date="2025-04-01")
    path = f"/campaigns/{campaign['id']}/roi-estimate"
    problem = await call(
        client, org, "owner", "PATCH", f"/campaigns/{campaign['id']}", expect=403, is_big_promotion=False
    )
    assert "only a manager of its department (or a director) may unflag" in problem["detail"]
    assert (await call(client, org, "owner", "GET", path))["status"] == "pending"

    await call(client, org, "director", "PATCH", f"/campaigns/{campaign['id']}", is_big_promotion=False)
    estimate = await call(client, org, "owner", "GET", path)
    assert estimate["status"] == "cancelled" and estimate["sla"] == []
    (timer,) = await timers(sessions, estimate["id"])
    assert timer.state == TimerState.cancelled
    await sweep(sessions, clock, "2025-03-17T00:00:01+08:00")
    assert await escalations(sessions, estimate["id"]) == []
    await call(client, org, "owner", "PUT", path, expect=404, **REPORT)

    # flagged again, it is owed again, with a fresh deadline
    await call(client, org, "owner", "PATCH", f"/campaigns/{campaign['id']}", is_big_promotion=True)
    estimate = await call(client, org, "owner", "GET", path)
    assert estimate["status"] == "pending" and estimate["due_at_once"] is True  # 1 April is now 15 days away
    assert estimate["sla"][0]["state"] == "running"


async def test_cancelling_the_campaign_cancels_its_estimate(client, sessions, clock, org):
    on_workflow = await promotion(client, org, start_date="2025-04-01", template_key="campaign_default")
    plain = await promotion(client, org, start_date="2025-04-01")
    await call(client, org, "owner", "POST", f"/campaigns/{on_workflow['id']}/cancel")
    await call(client, org, "owner", "POST", f"/campaigns/{plain['id']}/cancel")
    for campaign in (on_workflow, plain):
        estimate = await call(client, org, "owner", "GET", f"/campaigns/{campaign['id']}/roi-estimate")
        assert estimate["status"] == "cancelled"
        assert [t.state for t in await timers(sessions, estimate["id"])] == [TimerState.cancelled]
    await sweep(sessions, clock, "2025-03-17T00:00:01+08:00")
    async with unit_of_work(sessions) as s:
        assert list(await s.scalars(select(Escalation.id).where(Escalation.subject_type == "roi_estimate"))) == []


async def test_deleting_the_campaign_stops_the_timer(client, sessions, clock, org):
    campaign = await promotion(client, org, start_date="2025-04-01")
    estimate = await call(client, org, "owner", "GET", f"/campaigns/{campaign['id']}/roi-estimate")
    await call(client, org, "director", "DELETE", f"/campaigns/{campaign['id']}", expect=204)
    assert [t.state for t in await timers(sessions, estimate["id"])] == [TimerState.cancelled]


async def test_submitting_the_report_meets_the_deadline_with_an_exact_roi(client, sessions, clock, org):
    campaign = await promotion(client, org, start_date="2025-04-01")
    path = f"/campaigns/{campaign['id']}/roi-estimate"
    at(clock, "2025-03-10T15:00:00+08:00")
    estimate = await call(client, org, "owner", "PUT", path, **REPORT, note="按去年618转化率测算")
    assert estimate["status"] == "submitted" and T(estimate["submitted_at"]) == T("2025-03-10T15:00:00+08:00")
    assert estimate["submitted_by"] == org["owner"].id
    # money is a string, never a float: ROI = (1 200 000 − 300 000) / 300 000 = 3
    assert estimate["expected_revenue"] == "1200000.00" and estimate["expected_cost"] == "300000.00"
    assert estimate["expected_roi"] == "3.0000" and estimate["currency"] == "CNY"
    assert estimate["sla"][0]["state"] == "met"

    # revised: the figures change, the submission time stays, the deadline stays met
    at(clock, "2025-03-11T09:00:00+08:00")
    revised = await call(
        client,
        org,
        "director",
        "PUT",
        path,
        document_url=REPORT["document_url"],
        expected_revenue="400000",
        expected_cost="300000",
    )
    assert revised["expected_roi"] == "0.3333" and revised["submitted_at"] == estimate["submitted_at"]
    await sweep(sessions, clock, "2025-03-17T00:00:01+08:00")
    assert await escalations(sessions, estimate["id"]) == []
    # a later start date does not reopen what is in
    await call(client, org, "owner", "PATCH", f"/campaigns/{campaign['id']}", start_date="2025-05-01")
    assert (await call(client, org, "owner", "GET", path))["status"] == "submitted"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_revenue": "-1.00"}, "body.expected_revenue"),
        ({"expected_cost": "0"}, "body.expected_cost"),
        ({"expected_cost": "12.345"}, "body.expected_cost"),
        ({"expected_revenue": "abc"}, "body.expected_revenue"),
        ({"document_url": "ftp://docs.example.com/roi.xlsx"}, "body.document_url"),
        ({"currency": "rmb"}, "body.currency"),
        ({"expected_roi": "3"}, "body.expected_roi"),
    ],
)
async def test_a_bad_report_is_refused_naming_the_field_and_nothing_is_written(
    client, sessions, clock, org, change, field
):
    campaign = await promotion(client, org, start_date="2025-04-01")
    path = f"/campaigns/{campaign['id']}/roi-estimate"
    problem = await call(client, org, "owner", "PUT", path, expect=422, **(REPORT | change))
    assert field in {e["field"] for e in problem["errors"]}, problem
    estimate = await call(client, org, "owner", "GET", path)
    assert estimate["status"] == "pending" and estimate["expected_revenue"] is None
    assert estimate["sla"][0]["state"] == "running"


async def test_only_the_campaign_owner_or_a_manager_submits(client, sessions, clock, org):
    campaign = await promotion(client, org, start_date="2025-04-01")
    path = f"/campaigns/{campaign['id']}/roi-estimate"
    problem = await call(client, org, "other", "PUT", path, expect=403, **REPORT)
    assert "only the campaign owner or a manager" in problem["detail"]
    async with unit_of_work(sessions) as s:
        row = (await s.scalars(select(RoiEstimate))).one()
        assert row.document_url is None and row.submitted_at is None


async def test_a_start_date_past_2100_is_refused_for_a_big_promotion(client, sessions, clock, org):
    problem = await call(
        client,
        org,
        "owner",
        "POST",
        "/campaigns",
        expect=422,
        name="远期大促",
        is_big_promotion=True,
        start_date="2101-01-01",  # its estimate would be due 2100-12-17, past the calendars' years
    )
    assert [e["field"] for e in problem["errors"]] == ["body.start_date"]
    assert (await call(client, org, "owner", "GET", "/campaigns"))["items"] == []


# ---- end to end: the deadline alert in the team's chat -------------------------------------------
async def test_the_roi_deadline_alert_reaches_the_chat_exactly_once(
    client, sessions, clock, org, settings, arq_redis, botsim
):
    botsim.add_bots({"market": {"kind": "dingtalk"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[org["dept"].id]
    )
    campaign = await promotion(client, org, start_date="2025-04-01")
    estimate = await call(client, org, "owner", "GET", f"/campaigns/{campaign['id']}/roi-estimate")

    async def deliver() -> None:
        async with Sender() as http:
            # Delivery signs with real time: vendors (and botsim) refuse signatures minutes off.
            await drain(make_dispatcher(settings, sessions, arq_redis, http, SystemClock()), channel.id)

    # the deadline passes; the worker sweeps again and the notifier drains again: still one message
    await sweep(sessions, clock, "2025-03-17T00:00:01+08:00")
    await deliver()
    await sweep(sessions, clock, "2025-03-17T00:00:02+08:00")
    await sweep(sessions, clock, "2025-03-17T08:00:00+08:00")
    await deliver()

    texts = [m["body"]["markdown"]["text"] for m in botsim.messages("market")]
    line = f"大促 ROI 测算报告 #{estimate['id']} 618大促"
    assert sum(line in t for t in texts) == 1, texts
    (alert,) = [t for t in texts if line in t]
    assert "已超时" in alert and "张策划" in alert
    assert botsim.stats()["market"].get("rejected", {}) == {}
