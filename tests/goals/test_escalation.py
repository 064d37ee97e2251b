"""A goal adjustment is timed like every approval: the approver who has not decided within one
working day is alerted in their department's chat group, the message naming the adjustment."""

from __future__ import annotations

from datetime import datetime

from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import ChannelKind
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.sla.engine import sweep_due_timers
from tests.factories import make_channel
from tests.goals.conftest import ask_approval, decide, goal
from tests.notify.helpers import make_dispatcher


async def test_an_undecided_goal_adjustment_reaches_the_approvers_chat_group(
    settings, sessions, client, clock, arq_redis, botsim, org
):
    botsim.add_bots({"market": {"kind": "dingtalk"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[org.marketing.id]
    )
    q2 = await goal(
        client, org, title="Q2 线索", department_id=org.marketing.id, metric="leads", period="2026-Q2", target="5000"
    )
    await decide(client, org, (await ask_approval(client, org, q2["id"]))["approval_id"], org.marketing_director)
    r = await client.post(
        f"/api/v1/goals/{q2['id']}/adjustments",
        headers=org.headers(org.manager),
        json={"target": "4200", "reason": "市场需求下降"},
    )
    assert r.status_code == 201, r.text

    clock.set(datetime.fromisoformat("2026-03-03T10:00:01+08:00"))  # one working day later, undecided
    async with unit_of_work(sessions) as s:
        assert (await sweep_due_timers(s, now=clock.now(), batch_size=100)).fired >= 1
    async with Sender() as http:
        await drain(make_dispatcher(settings, sessions, arq_redis, http, SystemClock()), channel.id)
    breach = str(botsim.messages("market")[-1]["body"])
    assert "已超时" in breach and "目标调整 Goal adjustment: Q2 线索 · 2026-Q2 5000 → 4200" in breach
    assert f"/api/v1/approvals/{r.json()['approval_id']}" in breach
    assert botsim.stats()["market"].get("rejected", {}) == {}
