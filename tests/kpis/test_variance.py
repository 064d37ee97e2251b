"""A variance worse than the KPI's threshold (in the metric's bad direction) is a timed item,
`kpi_variance`: the KPI owner and the campaign owner hear of it once per crossing and again when it
recovers; a cause written within 2 working days answers it; otherwise a rectification item is opened
for the KPI owner — exactly once — under its own SLA."""

from __future__ import annotations

from sqlalchemy import select

from services.notifier.main import drain
from services.worker.main import rectify_variances_once
from shared.campaigns.lifecycle import close_open_work
from shared.db import unit_of_work
from shared.kpis.models import KpiVariance
from shared.models import Campaign, CampaignStatus, ChannelKind, EscalationKind, SlaTimer, TimerState
from shared.notify import delivery
from shared.notify.http import Sender
from shared.rectifications.models import Rectification
from tests.factories import make_channel

from .conftest import T0, add_kpi, read


def _who(escalation) -> dict[str, int]:
    return {r["as"]: r["user_id"] for r in escalation.recipients}


async def _variances(sessions) -> list[KpiVariance]:
    async with unit_of_work(sessions) as s:
        return list(await s.scalars(select(KpiVariance).order_by(KpiVariance.id)))


async def _timers(sessions, variance_id: int) -> list[SlaTimer]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(SlaTimer)
                .where(SlaTimer.subject_type == "kpi_variance", SlaTimer.subject_id == variance_id)
                .order_by(SlaTimer.id)
            )
        )


async def test_the_alert_reaches_chat_once_per_crossing_and_the_recovery_too(
    client, sessions, settings, clock, arq_redis, botsim, org, world
):
    botsim.add_bots({"wc": {"kind": "wecom"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.wecom, url=botsim.url("wecom", "wc"), rate_limits=[{"limit": 100, "per_s": 1}]
    )

    async def deliver() -> list[str]:
        async with Sender() as http:
            ctx = {
                "settings": settings,
                "sessions": sessions,
                "clock": clock,
                "redis": arq_redis,
                "http": http,
                "policy": delivery.policy_from(settings),
            }
            await drain(ctx, channel.id)
        return [m["body"]["markdown"]["content"] for m in botsim.messages("wc")]

    kpi = await add_kpi(client, org, metric_key="leads", target="5000")
    await read(client, org, kpi, "4200")  # −16 %: beyond ±10 % downwards
    await world.sweep(T0)
    (variance,) = await _variances(sessions)
    (alert,) = await world.escalations(variance.id)
    assert alert.kind == EscalationKind.warning  # the crossing itself, asking for a cause
    assert _who(alert) == {"assignee": org.planner.id, "campaign_owner": org.manager.id}
    (message,) = await deliver()
    assert "指标偏差" in message and "双十一大促 · 线索量 -16%" in message

    # Still beyond the threshold: the same crossing, no second alert.
    await read(client, org, kpi, "100")  # leads add up: 4300, −14 %
    await world.sweep("2025-03-04T11:00:00+08:00")
    assert len(await deliver()) == 1
    assert len(await _variances(sessions)) == 1

    # Back within ±10 %: the crossing is over, and the people alerted hear so.
    got = await read(client, org, kpi, "400")  # 4700: −6 %
    assert got["variance_rate"] == "-0.06" and got["variance"] is None
    messages = await deliver()
    assert len(messages) == 2
    (first,) = await _variances(sessions)
    assert first.status == "recovered"
    assert [t.state for t in await _timers(sessions, first.id)] == [TimerState.met]

    # A new drop is a new crossing: alerted again, once.
    await client.patch(f"{org.kpis_url}/{kpi['id']}", headers=org.tokens["manager"], json={"target": "6000"})
    await world.sweep("2025-03-04T12:00:00+08:00")  # 4700 vs 6000: −21.67 %
    assert len(await _variances(sessions)) == 2
    messages = await deliver()
    assert len(messages) == 3 and "双十一大促 · 线索量 -21.67%" in messages[-1]


async def test_no_cause_within_two_working_days_opens_one_rectification_item(client, sessions, org, world):
    kpi = await add_kpi(client, org, metric_key="leads", target="5000")
    await read(client, org, kpi, "4200")
    await world.sweep(T0)
    (variance,) = await _variances(sessions)
    (timer,) = await _timers(sessions, variance.id)
    assert timer.due_at.isoformat() == "2025-03-06T02:00:00+00:00"  # Thursday 10:00 in Shanghai

    await world.sweep("2025-03-06T09:59:00+08:00")
    assert await world.rectify() == 0  # not due yet
    await world.sweep("2025-03-06T10:00:01+08:00")
    breach = (await world.escalations(variance.id))[-1]
    assert breach.kind == EscalationKind.breach
    assert _who(breach) == {"assignee": org.planner.id, "campaign_owner": org.manager.id}

    assert await world.rectify() == 1
    # The worker's loop may run it again (or two workers at once): still one item.
    assert await rectify_variances_once({"sessions": sessions, "clock": world.clock}) is False
    assert await world.rectify() == 0
    async with unit_of_work(sessions) as s:
        (item,) = list(await s.scalars(select(Rectification)))
        (row,) = list(await s.scalars(select(KpiVariance)))
    assert item.owner_id == org.planner.id and item.campaign_id == org.campaign.id
    assert "线索量" in item.title and f"/kpis/{kpi['id']}" in (item.description or "")
    assert row.status == "rectifying" and row.rectification_id == item.id
    assert item.source == "kpi_variance" and item.source_id == row.id  # traceable to its crossing
    (rect_timer,) = [t for t in await _rect_timers(sessions, item.id)]
    assert rect_timer.state == TimerState.running  # the rectification item is under its own SLA
    shown = (await client.get(f"{org.kpis_url}/{kpi['id']}", headers=org.tokens["planner"])).json()
    assert shown["variance"]["status"] == "rectifying" and shown["variance"]["rectification_id"] == item.id


async def _rect_timers(sessions, item_id: int) -> list[SlaTimer]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(SlaTimer).where(SlaTimer.subject_type == "rectification", SlaTimer.subject_id == item_id)
            )
        )


async def test_a_cause_in_time_answers_the_variance_and_no_item_is_opened(client, sessions, org, world):
    kpi = await add_kpi(client, org, metric_key="conversion_rate", target="10")
    await read(client, org, kpi, "8")  # −20 %
    await world.sweep(T0)
    world.at("2025-03-05T15:00:00+08:00")
    r = await client.patch(
        f"{org.kpis_url}/{kpi['id']}",
        headers=org.tokens["planner"],
        json={"cause": "落地页加载慢，移动端跳出率高", "improvement": "压缩首屏图片，增加快捷下单入口"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["variance"]["status"] == "explained" and r.json()["off_target"] is True
    (variance,) = await _variances(sessions)
    assert [t.state for t in await _timers(sessions, variance.id)] == [TimerState.met]
    kinds = [e.kind for e in await world.escalations(variance.id)]
    assert kinds == [EscalationKind.warning, EscalationKind.resolved]  # the alerted hear it is answered

    await world.sweep("2025-03-07T10:00:00+08:00")
    assert await world.rectify() == 0
    await read(client, org, kpi, "7.5")  # still off target: the same, explained crossing
    assert len(await _variances(sessions)) == 1
    assert (await _variances(sessions))[0].status == "explained"


async def test_an_outsider_cannot_write_the_cause(client, org):
    kpi = await add_kpi(client, org, metric_key="leads", target="5000")
    r = await client.patch(f"{org.kpis_url}/{kpi['id']}", headers=org.tokens["outsider"], json={"cause": "不知道"})
    assert r.status_code == 404  # another department's KPI: not even seen


async def test_a_cancelled_campaign_stops_asking_for_causes(client, sessions, org, world):
    kpi = await add_kpi(client, org, metric_key="leads", target="5000")
    await read(client, org, kpi, "4200")
    async with unit_of_work(sessions) as s:
        (await s.get_one(Campaign, org.campaign.id)).status = CampaignStatus.cancelled
        await close_open_work(s, campaign_id=org.campaign.id, now=world.clock.now(), outcome=CampaignStatus.cancelled)
    (variance,) = await _variances(sessions)
    assert variance.status == "cancelled"
    assert [t.state for t in await _timers(sessions, variance.id)] == [TimerState.cancelled]
    await world.sweep("2025-03-07T10:00:00+08:00")
    assert await world.rectify() == 0
