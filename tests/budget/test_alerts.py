"""The 5 % rule end to end: committed spend more than 5 % above a line's (or the campaign's) plan
reaches the department's chat group once per crossing, and a resolved notice when back within."""

from __future__ import annotations

from sqlalchemy import select

from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import ChannelKind, Notification
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from tests.approvals.conftest import decide, make_campaign
from tests.budget.conftest import call
from tests.factories import make_channel
from tests.notify.helpers import make_dispatcher


async def _budget_rows(sessions, channel_id: int) -> list[Notification]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(Notification)
                .where(Notification.channel_id == channel_id, Notification.event_type.like("budget.%"))
                .order_by(Notification.id)
            )
        )


async def test_spend_beyond_5_percent_of_plan_alerts_once_per_crossing(
    sessions, client, org, settings, arq_redis, botsim
):
    botsim.add_bots({"market": {"kind": "dingtalk"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[org.marketing.id]
    )
    campaign = await make_campaign(sessions, org, status="active")  # budget 100 000, owner: the planner
    path = f"/campaigns/{campaign.id}/budget-lines"
    media = await call(client, org, org.planner, "POST", path, 201, category="media", name="抖音", planned="10000")
    await call(client, org, org.planner, "POST", path, 201, category="design", planned="80000")

    async def approve(amount: str) -> None:
        expense = await call(client, org, org.planner, "POST", "/expenses", 201, line_id=media["id"], amount=amount)
        await decide(client, org, expense["approval_id"], org.marketing_director)

    await approve("10500")  # exactly +5 %: within the rule
    assert await _budget_rows(sessions, channel.id) == []
    await approve("0.01")  # 10 500.01: beyond it
    await approve("100")  # still beyond: nothing new
    rows = await _budget_rows(sessions, channel.id)
    assert [(r.event_type, r.subject_type, r.subject_id) for r in rows] == [
        ("budget.deviation", "budget_line", media["id"])
    ]
    assert rows[0].payload["deviation"] == "0.0500" and rows[0].payload["committed"] == "10500.01"
    assert [m["id"] for m in rows[0].payload["mentions"]] == [org.planner.id]  # the campaign owner
    budget = await call(client, org, org.planner, "GET", f"/campaigns/{campaign.id}/budget")
    assert budget["lines"][0]["over_threshold"] is True and budget["totals"]["over_threshold"] is False

    line_path = f"/budget-lines/{media['id']}"
    await call(client, org, org.planner, "PATCH", line_path, planned="11000")  # back within: resolved
    await call(client, org, org.planner, "PATCH", line_path, planned="10000")  # a second crossing
    rows = await _budget_rows(sessions, channel.id)
    assert [r.event_type for r in rows] == ["budget.deviation", "budget.deviation_resolved", "budget.deviation"]
    assert [r.dedupe_key for r in rows] == [
        f"budget:line:{media['id']}:1:over:ch{channel.id}",
        f"budget:line:{media['id']}:1:back:ch{channel.id}",
        f"budget:line:{media['id']}:2:over:ch{channel.id}",
    ]

    async with Sender() as http:
        # Delivery signs with real time: vendors (and botsim) refuse signatures minutes off.
        await drain(make_dispatcher(settings, sessions, arq_redis, http, SystemClock()), channel.id)
    # (The group also hears the expenses' approvals arrive and get decided: work-arrival cards.)
    texts = [t for m in botsim.messages("market") if "预算偏离" in (t := m["body"]["markdown"]["text"])]
    assert len(texts) == 3, texts
    assert "预算偏离超过 5%" in texts[0] and "双十一大促 · 抖音" in texts[0] and "+5.00 %" in texts[0]
    assert "10500.01" in texts[0]
    assert "已回到 5% 以内" in texts[1]
    assert "预算偏离超过 5%" in texts[2]


async def test_the_whole_campaign_crossing_5_percent_alerts_on_the_campaign(sessions, client, org):
    campaign = await make_campaign(sessions, org, status="active")
    path = f"/campaigns/{campaign.id}/budget-lines"
    media = await call(client, org, org.planner, "POST", path, 201, category="media", planned="1000")
    expense = await call(client, org, org.planner, "POST", "/expenses", 201, line_id=media["id"], amount="1050.01")
    await decide(client, org, expense["approval_id"], org.marketing_director)
    async with unit_of_work(sessions) as s:
        rows = list(await s.scalars(select(Notification).where(Notification.event_type == "budget.deviation")))
    # The org's one channel hears the line and the campaign (its only line), once each.
    assert sorted((r.subject_type, r.subject_id) for r in rows) == [
        ("budget_line", media["id"]),
        ("campaign", campaign.id),
    ]


async def test_an_expense_beyond_115_percent_reaches_both_directors_groups_when_it_waits(
    sessions, client, org, settings, arq_redis, botsim
):
    """The 15 % rule in the chat: an expense that would take its line beyond 115 % of plan is the
    two directors' to approve (双签), so when it waits past the approvers' deadline the marketing
    director is chased in Marketing's group and the finance director in Finance's — a routine
    expense only ever reaches Marketing's."""
    from tests.approvals.conftest import T, sweep
    from tests.budget.conftest import point_dual_sign_at_directors

    botsim.add_bots({"market": {"kind": "dingtalk"}, "finance": {"kind": "dingtalk"}})
    market = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[org.marketing.id]
    )
    finance = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "finance"), department_ids=[org.finance.id]
    )
    await point_dual_sign_at_directors(client, org)
    campaign = await make_campaign(sessions, org, status="active")
    path = f"/campaigns/{campaign.id}/budget-lines"
    gifts = await call(client, org, org.planner, "POST", path, 201, category="gifts", name="礼品", planned="10000")
    media = await call(client, org, org.planner, "POST", path, 201, category="media", name="抖音", planned="10000")
    await call(client, org, org.planner, "POST", "/expenses", 201, line_id=gifts["id"], amount="11500.01")
    await call(client, org, org.planner, "POST", "/expenses", 201, line_id=media["id"], amount="11500")

    await sweep(sessions, T("2026-03-03T10:00:01+08:00"))  # one working day later: the approvers' breach
    async with Sender() as http:
        dispatcher = make_dispatcher(settings, sessions, arq_redis, http, SystemClock())
        await drain(dispatcher, market.id)
        await drain(dispatcher, finance.id)

    def breaches(bot: str) -> list[str]:
        return [t for m in botsim.messages(bot) if "已超时" in (t := m["body"]["markdown"]["text"])]

    in_marketing, in_finance = breaches("market"), breaches("finance")
    # Marketing: the director's breach on both expenses (the special one and the routine one).
    assert len(in_marketing) == 2, in_marketing
    assert sum(org.marketing_director.name in t for t in in_marketing) == 2
    # Finance: only the expense beyond 115 %, and its finance director.
    assert len(in_finance) == 1, in_finance
    assert org.finance_director.name in in_finance[0]
    assert "礼品 CNY 11,500.01" in in_finance[0] and "双签" in in_finance[0]
    assert sorted("礼品" in t for t in in_marketing) == [False, True]  # one for 礼品 (双签), one for 抖音 (routine)
