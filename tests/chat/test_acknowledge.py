"""认领 from the chat: who took which level of which alert is recorded once, the level's repeat
reminders stop, later levels still fire, and a second click says who took it first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from shared.chat.actions import ChatAction, Source, Target, Verb, parse_command
from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import ChannelKind, SlaAcknowledgement
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.tasks.sla import TaskSubject
from tests.chat.conftest import OU_QIAN, act, audit_rows, feishu, fired, make_task, sweep, timer_of
from tests.factories import make_channel
from tests.notify.helpers import make_dispatcher


def at(clock, iso: str) -> None:
    clock.set(datetime.fromisoformat(iso))


async def test_acknowledging_stops_the_repeats_of_that_level_but_the_next_level_still_fires(
    sessions, clock, org, repeating
):
    taken = await make_task(sessions, clock, org)
    ignored = await make_task(sessions, clock, org, title="无人认领")
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")  # the breach (level 0, repeat 0)
    timer = await timer_of(sessions, taken.id)

    at(clock, "2026-12-03T11:05:00+08:00")
    outcome = await act(
        sessions, clock, feishu(Verb.acknowledge, Target(TaskSubject.task, taken.id, timer_id=timer.id, level="0"))
    )
    assert outcome.ok and not outcome.stale
    assert outcome.message == f"已认领：任务 #{taken.id}"
    assert outcome.card is not None
    assert outcome.card.title == "已超时：双十一海报" and outcome.card.severity == "critical"
    assert outcome.card.lines[-1] == "✅ 张三 已认领 · 12-03 11:05 (飞书)"
    assert [b.verb for b in outcome.card.buttons] == [Verb.done, Verb.extend]  # acknowledged: no 认领 left

    for iso in ("12:00:01", "13:00:01", "14:00:01", "14:30:01"):
        await sweep(sessions, clock, f"2026-12-03T{iso}+08:00")
    assert await fired(sessions, taken.id) == [(0, 0), (1, 0)]
    assert await fired(sessions, ignored.id) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]

    async with unit_of_work(sessions) as s:
        (ack,) = await s.scalars(select(SlaAcknowledgement))
    assert (ack.timer_id, ack.level, ack.user_id, ack.source) == (timer.id, 0, org.zhang.id, "feishu")
    assert ack.at == datetime.fromisoformat("2026-12-03T11:05:00+08:00")
    (row,) = [a for a in await audit_rows(sessions, TaskSubject.task, taken.id) if a.action == "sla.acknowledge"]
    assert (row.actor_user_id, row.source) == (org.zhang.id, "feishu")
    assert row.after is not None and (row.after["timer_id"], row.after["level"]) == (timer.id, 0)


async def test_the_trail_shows_who_acknowledged_from_which_chat(sessions, clock, client, org, repeating):
    task = await make_task(sessions, clock, org)
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    assert (
        await act(
            sessions, clock, parse_command(f"ack T{task.id}").action(source=Source.dingtalk, chat_user_id="ding_li")
        )
    ).ok
    r = await client.get(f"/api/v1/trail/task/{task.id}", headers=org.headers(org.manager))
    assert r.status_code == 200, r.text
    (entry,) = [e for e in r.json()["entries"] if e["action"] == "sla.acknowledge"]
    assert (entry["actor_name"], entry["source"], entry["details"]["after"]["level"]) == ("李四", "dingtalk", 0)


async def test_a_second_click_says_who_acknowledged_and_records_nothing_more(sessions, clock, org, repeating):
    task = await make_task(sessions, clock, org)
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    timer = await timer_of(sessions, task.id)
    target = Target(TaskSubject.task, task.id, timer_id=timer.id, level="0")
    at(clock, "2026-12-03T11:05:00+08:00")
    assert (await act(sessions, clock, feishu(Verb.acknowledge, target))).ok

    at(clock, "2026-12-03T11:20:00+08:00")
    again = await act(sessions, clock, ChatAction(Verb.acknowledge, target, Source.dingtalk, "ding_li"))
    assert (again.ok, again.stale) == (False, True)
    assert again.message == "已由 张三 于 12-03 11:05 认领"
    assert again.card is not None and again.card.lines[-1] == "✅ 张三 已认领 · 12-03 11:05 (飞书)"
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(SlaAcknowledgement)) == 1
    assert [a.action for a in await audit_rows(sessions, TaskSubject.task, task.id)].count("sla.acknowledge") == 1


async def test_the_command_takes_the_highest_fired_level_nobody_took(sessions, clock, org, repeating):
    task = await make_task(sessions, clock, org)
    command = parse_command(f"认领 T{task.id}")
    action = command.action(source=Source.dingtalk, chat_user_id="ding_li")

    nothing = await act(sessions, clock, action)  # nothing has fired yet
    assert (nothing.ok, nothing.stale, nothing.message) == (False, False, f"任务 #{task.id}目前没有需要认领的提醒。")

    await sweep(sessions, clock, "2026-12-03T14:30:01+08:00")  # breach, its repeats and level 1
    first = await act(sessions, clock, action)
    assert first.ok
    second = await act(sessions, clock, action)  # level 0 is left
    assert second.ok
    third = await act(sessions, clock, action)
    assert (third.ok, third.stale, third.message) == (False, True, "已由 李四 于 12-03 14:30 认领")
    async with unit_of_work(sessions) as s:
        levels = list(await s.scalars(select(SlaAcknowledgement.level).order_by(SlaAcknowledgement.id)))
    assert levels == [1, 0]
    timer = await timer_of(sessions, task.id)
    assert sorted(timer.acked_levels) == [0, 1]


async def test_another_departments_member_cannot_acknowledge_and_learns_nothing(sessions, clock, org, repeating):
    task = await make_task(sessions, clock, org)
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    timer = await timer_of(sessions, task.id)
    outcome = await act(
        sessions,
        clock,
        feishu(Verb.acknowledge, Target(TaskSubject.task, task.id, timer_id=timer.id, level="0"), who=OU_QIAN),
    )
    assert (outcome.ok, outcome.card) == (False, None)
    assert outcome.message == f"找不到任务 #{task.id}，或你无权查看。"
    assert "双十一海报" not in outcome.message
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(SlaAcknowledgement)) == 0


async def test_the_group_hears_the_breach_once_after_it_is_acknowledged_then_the_escalation(
    settings, sessions, clock, arq_redis, botsim, org, repeating
):
    botsim.add_bots({"market": {"kind": "dingtalk"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[org.marketing.id]
    )

    async def deliver() -> list[str]:
        async with Sender() as http:
            await drain(make_dispatcher(settings, sessions, arq_redis, http, SystemClock()), channel.id)
        return [str(m["body"]) for m in botsim.messages("market")]

    task = await make_task(sessions, clock, org)
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    (breach,) = await deliver()
    assert "已超时：双十一海报" in breach
    command = parse_command(f"认领 T{task.id}").action(source=Source.dingtalk, chat_user_id="ding_li")
    assert (await act(sessions, clock, command)).ok
    for iso in ("12:00:01", "13:00:01", "14:00:01", "14:30:01"):
        await sweep(sessions, clock, f"2026-12-03T{iso}+08:00")
    messages = await deliver()
    assert len(messages) == 2  # no 第 N 次提醒: only the escalation to the manager follows
    assert "超时升级：双十一海报" in messages[1] and "李经理" in messages[1]
    assert "第 1 次提醒" not in messages[1]
