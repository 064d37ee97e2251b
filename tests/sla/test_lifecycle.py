"""Timer lifecycle with an injected clock on the CN calendar (holidays and make-up workdays)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.db import unit_of_work
from shared.models import EscalationKind, TaskStatus, TimerState
from shared.notify.render import render
from shared.sla.policies import ensure_sla_defaults
from tests.factories import make_policy

T = datetime.fromisoformat
TZ = ZoneInfo("Asia/Shanghai")


async def test_default_ladder_across_national_day_and_a_make_up_workday(world, org, sessions):
    async with unit_of_work(sessions) as s:
        await ensure_sla_defaults(s)
    world.at("2025-09-30T10:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id)
    (timer,) = await world.timers(task)
    # 3 working days: Oct 1–8 off, Oct 9 day 1, Oct 10 day 2, Saturday Oct 11 (调休) day 3.
    assert timer.due_at == T("2025-10-11T10:00:00+08:00")
    assert timer.target_s == 27 * 3600
    assert timer.next_fire_at == T("2025-10-10T13:36:00+08:00")  # 80 %: 5.4 working hours before due

    assert (await world.sweep("2025-10-10T13:35:59+08:00")).fired == 0
    schedule = [
        ("2025-10-10T13:36:00+08:00", EscalationKind.warning, {"张策划"}),
        ("2025-10-11T10:00:00+08:00", EscalationKind.breach, {"张策划", "李经理"}),
        ("2025-10-11T14:00:00+08:00", EscalationKind.breach, {"张策划", "李经理"}),  # every 4 working hours
        ("2025-10-11T18:00:00+08:00", EscalationKind.breach, {"张策划", "李经理"}),
        ("2025-10-13T13:00:00+08:00", EscalationKind.breach, {"张策划", "李经理"}),  # Sunday skipped
        ("2025-10-14T16:00:00+08:00", EscalationKind.escalation, {"王总监"}),  # +24 working hours
    ]
    for iso, kind, names in schedule:
        result = await world.sweep(iso)
        assert result.fired == 1, iso
        last = (await world.escalations(task))[-1]
        assert (last.kind, last.late_by_s, last.suppressed) == (kind, 0.0, False)
        assert {r["name"] for r in last.recipients} == names
    assert (await world.sweep("2025-12-31T10:00:00+08:00")).fired == 0
    (timer,) = await world.timers(task)
    assert timer.next_fire_at is None and timer.breached_at == T("2025-10-11T10:00:00+08:00")
    assert timer.fired == ["0:0", "1:0", "1:1", "1:2", "1:3", "2:0"]
    sent = await world.notifications(task)
    assert [n.event_type for n in sent] == ["sla.warning"] + ["sla.breach"] * 4 + ["sla.escalation"]
    assert [n.payload["repeat"] for n in sent] == [0, 0, 1, 2, 3, 0]
    assert {m["name"] for m in sent[1].payload["mentions"]} == {"张策划", "李经理"}


async def test_pause_across_a_holiday_does_not_count(world, org, sessions):
    await make_policy(
        sessions,
        target_kind="working_hours",
        target_value="PT16H",
        levels=[{"offset": "0", "recipients": ["assignee"]}],
    )
    world.at("2025-09-29T10:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id)
    (timer,) = await world.timers(task)
    assert timer.due_at == T("2025-09-30T17:00:00+08:00")
    world.at("2025-09-29T14:00:00+08:00")  # 4 working hours used
    await world.update(task, status=TaskStatus.blocked)
    (timer,) = await world.timers(task)
    assert (timer.state, timer.remaining_s, timer.next_fire_at) == (TimerState.paused, 12 * 3600, None)
    assert (await world.sweep("2025-09-30T17:00:00+08:00")).fired == 0  # the old deadline passes, paused
    world.at("2025-10-09T10:00:00+08:00")  # back after National Day
    await world.update(task, status=TaskStatus.in_progress)
    (timer,) = await world.timers(task)
    # 12 working hours from Oct 9 10:00: 8 on Oct 9, 4 on Oct 10.
    assert timer.due_at == T("2025-10-10T13:00:00+08:00")
    assert timer.paused_total_s == (T("2025-10-09T10:00:00+08:00") - T("2025-09-29T14:00:00+08:00")).total_seconds()
    assert (await world.sweep("2025-10-10T12:59:59+08:00")).fired == 0
    assert (await world.sweep("2025-10-10T13:00:00+08:00")).fired == 1


async def test_working_days_pause_keeps_whole_days_plus_the_rest_of_the_day(world, org, sessions):
    await make_policy(
        sessions, target_kind="working_days", target_value="2", levels=[{"offset": "0", "recipients": ["assignee"]}]
    )
    world.at("2026-03-02T10:00:00+08:00")  # Monday
    task = await world.create(assignee_id=org.assignee.id)
    assert (await world.timers(task))[0].due_at == T("2026-03-04T10:00:00+08:00")
    world.at("2026-03-02T15:00:00+08:00")
    await world.update(task, status=TaskStatus.blocked)
    (timer,) = await world.timers(task)
    assert (timer.remaining_days, timer.remaining_s) == (1, 4 * 3600)  # Tue 15:00 → Wed 10:00 = 4 working h
    world.at("2026-03-03T11:00:00+08:00")
    await world.update(task, status=TaskStatus.todo)
    # One working day from Tue 11:00 is Wed 11:00, plus 4 working hours: Wed 15:00.
    assert (await world.timers(task))[0].due_at == T("2026-03-04T15:00:00+08:00")


async def test_changing_the_due_date_after_a_warning_re_arms_the_deadline(world, org, sessions):
    await make_policy(
        sessions, levels=[{"offset": "-PT1H", "recipients": ["assignee"]}, {"offset": "0", "recipients": ["assignee"]}]
    )
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=4))
    assert (await world.sweep("2026-11-23T12:00:00+08:00")).fired == 1  # warning, 1 h before
    world.at("2026-11-23T12:10:00+08:00")
    await world.update(task, due_at=start + timedelta(hours=6))
    old, new = await world.timers(task)
    assert (old.state, old.cancel_reason) == (TimerState.cancelled, "deadline changed")
    assert new.state == TimerState.running and new.due_at == start + timedelta(hours=6)
    assert new.started_at == old.started_at and new.fired == []
    assert (await world.sweep("2026-11-23T13:00:00+08:00")).fired == 0  # the old breach time: nothing
    assert (await world.sweep("2026-11-23T14:00:00+08:00")).fired == 1  # a fresh warning for the new date
    assert (await world.sweep("2026-11-23T15:00:00+08:00")).fired == 1  # breach at the new date
    kinds = [n.event_type for n in await world.notifications(task)]
    assert kinds == ["sla.warning", "sla.warning", "sla.breach"]


async def test_a_small_due_date_shift_does_not_repeat_a_warning_already_given(world, org, sessions):
    await make_policy(
        sessions, levels=[{"offset": "-PT1H", "recipients": ["assignee"]}, {"offset": "0", "recipients": ["assignee"]}]
    )
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=4))
    await world.sweep("2026-11-23T12:00:00+08:00")
    world.at("2026-11-23T12:10:00+08:00")
    await world.update(task, due_at=start + timedelta(hours=3, minutes=30))  # its warning moment, 11:30, is past
    assert (await world.timers(task))[-1].fired == ["0:0"]
    assert (await world.sweep("2026-11-23T12:29:59+08:00")).fired == 0
    assert (await world.sweep("2026-11-23T12:30:00+08:00")).fired == 1  # only the breach
    assert [n.event_type for n in await world.notifications(task)] == ["sla.warning", "sla.breach"]


async def test_met_after_a_breach_sends_resolved_to_the_same_audience(world, org, sessions):
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee", "assignee_manager"]}])
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=1))
    await world.sweep("2026-11-23T10:00:01+08:00")
    world.at("2026-11-23T11:00:00+08:00")
    await world.update(task, status=TaskStatus.done)
    (timer,) = await world.timers(task)
    assert (timer.state, timer.met_at, timer.next_fire_at) == (TimerState.met, world.clock.now(), None)
    breach, resolved = await world.notifications(task)
    assert resolved.event_type == "sla.resolved" and resolved.channel_id == breach.channel_id
    assert {m["name"] for m in resolved.payload["mentions"]} == {"张策划", "李经理"}
    assert (await world.escalations(task))[-1].kind == EscalationKind.resolved


async def test_met_before_any_level_is_quiet(world, org, sessions):
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee"]}])
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=1))
    world.at("2026-11-23T09:30:00+08:00")
    await world.update(task, status=TaskStatus.done)
    assert await world.notifications(task) == []
    assert (await world.sweep("2026-11-23T12:00:00+08:00")).fired == 0


async def test_levels_missed_while_the_worker_was_down_fire_once_late(world, org, sessions):
    async with unit_of_work(sessions) as s:
        await ensure_sla_defaults(s)
    world.at("2025-09-30T10:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id)
    # The worker is down from before the warning until after the third reminder.
    result = await world.sweep("2025-10-13T13:30:00+08:00")
    assert result.fired == 5 and len(result.notification_ids) == 1
    rows = await world.escalations(task)
    assert [(e.level, e.repeat, e.suppressed) for e in rows] == [
        (0, 0, True),
        (1, 0, True),
        (1, 1, True),
        (1, 2, True),
        (1, 3, False),
    ]
    (sent,) = await world.notifications(task)
    assert sent.event_type == "sla.breach" and sent.payload["late_by_s"] == 1800.0
    assert rows[-1].late_by_s == 1800.0
    assert (await world.sweep("2025-10-13T13:30:01+08:00")).fired == 0  # and never again


async def test_missing_manager_falls_back_to_the_department_head_and_says_so(world, org, sessions):
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee_manager", "director"]}])
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.orphan.id, due_at=start + timedelta(minutes=5))
    await world.sweep("2026-11-23T09:05:00+08:00")
    (e,) = await world.escalations(task)
    assert [(r["as"], r["name"]) for r in e.recipients] == [("assignee_manager", "赵部长")]
    assert "department_head" in e.recipients[0]["via"]
    assert any("no manager" in n and "赵部长" in n for n in e.notes)
    assert any("director" in n for n in e.notes)
    (sent,) = await world.notifications(task)
    assert [m["name"] for m in sent.payload["mentions"]] == ["赵部长"]


async def test_cancel_and_delete_stop_the_clock(world, org, sessions):
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee"]}])
    start = world.at("2026-11-23T09:00:00+08:00")
    a = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=1))
    b = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=1))
    await world.update(a, status=TaskStatus.cancelled)
    await world.delete(b)
    assert (await world.timers(a))[0].cancel_reason == "subject cancelled"
    assert (await world.timers(b))[0].cancel_reason == "subject deleted"
    assert (await world.sweep("2026-11-23T12:00:00+08:00")).claimed == 0


async def test_reopening_a_done_task_starts_a_new_timer(world, org, sessions):
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee"]}])
    world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id)
    await world.update(task, status=TaskStatus.done)
    world.at("2026-11-23T10:00:00+08:00")
    await world.update(task, status=TaskStatus.in_progress)
    first, second = await world.timers(task)
    assert first.state == TimerState.met and second.state == TimerState.running
    assert second.started_at == world.clock.now()


async def test_each_matching_policy_runs_its_own_timer(world, org, sessions):
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee"]}], target_value="PT8H")
    await make_policy(
        sessions,
        levels=[{"offset": "0", "recipients": ["director"]}],
        target_value="PT2H",
        conditions={"priorities": ["urgent"]},
    )
    world.at("2026-11-23T09:00:00+08:00")
    normal = await world.create(assignee_id=org.assignee.id)
    urgent = await world.create(assignee_id=org.assignee.id, priority="urgent")
    assert len(await world.timers(normal)) == 1
    assert sorted(t.target_value for t in await world.timers(urgent)) == ["PT2H", "PT8H"]
    await world.update(urgent, priority="normal")  # no longer matches the urgent policy
    states = sorted((t.target_value, t.state, t.cancel_reason) for t in await world.timers(urgent))
    assert states == [("PT2H", TimerState.cancelled, "policy no longer matches"), ("PT8H", TimerState.running, None)]


async def test_editing_a_policy_never_rewrites_a_running_timer(world, org, sessions, client):
    from tests.factories import auth

    headers = await auth(sessions)
    policy = await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee"]}])
    world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id)
    before = (await world.timers(task))[0]
    r = await client.patch(
        f"/api/v1/escalation-policies/{policy.escalation_policy_id}",
        headers=headers,
        json={"levels": [{"offset": "0", "recipients": ["director"]}]},
    )
    assert r.status_code == 200, r.text
    r = await client.patch(f"/api/v1/sla/policies/{policy.id}", headers=headers, json={"target_value": "PT9H"})
    assert r.status_code == 200, r.text
    after = (await world.timers(task))[0]
    assert (after.levels, after.due_at, after.target_value) == (before.levels, before.due_at, "PT1H")


async def test_a_task_created_already_overdue_fires_its_breach_once_plainly(world, org, sessions):
    await make_policy(
        sessions, levels=[{"offset": "0", "recipients": ["assignee"], "repeat_every": "PT4H", "max_repeats": 3}]
    )
    now = world.at("2026-11-23T10:00:00+08:00")
    # Due 15 h 40 min before it was entered: the breach and all three reminders lie before the start.
    task = await world.create(assignee_id=org.assignee.id, due_at=now - timedelta(hours=15, minutes=40))
    result = await world.sweep("2026-11-23T10:00:01+08:00")
    assert result.fired == 4 and len(result.notification_ids) == 1
    rows = await world.escalations(task)
    assert [(e.repeat, e.suppressed) for e in rows] == [(0, False), (1, True), (2, True), (3, True)]
    assert {e.late_by_s for e in rows} == {1.0}  # late only by the sweep's second, not by 15 hours
    (sent,) = await world.notifications(task)
    assert (sent.event_type, sent.payload["repeat"], sent.payload["past_when_set"]) == ("sla.breach", 0, "created")
    assert sent.payload["late_by_s"] == 1.0
    assert (await world.sweep("2026-11-24T10:00:00+08:00")).fired == 0  # every reminder was spent before it began


async def test_a_level_that_fell_due_while_the_worker_was_down_is_still_late(world, org, sessions):
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee"]}])
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(minutes=10))
    await world.sweep("2026-11-23T10:00:00+08:00")  # the worker was down from 09:05 to 10:00
    (sent,) = await world.notifications(task)
    assert (sent.payload["past_when_set"], sent.payload["late_by_s"]) == (None, 3000.0)
    assert (await world.escalations(task))[0].late_by_s == 3000.0
    fields = dict(render("sla.breach", sent.payload, locale="zh-CN", tz=TZ, sent_at=world.clock.now()).fields)
    assert fields["补发"] == "服务中断期间到期，晚 50分钟 发出"


async def test_a_due_date_moved_into_the_past_is_not_called_an_outage(world, org, sessions):
    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee"]}])
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=3))
    world.at("2026-11-23T10:00:00+08:00")
    await world.update(task, due_at=start - timedelta(hours=1))  # it was really due at 08:00
    await world.sweep("2026-11-23T10:00:01+08:00")
    (sent,) = await world.notifications(task)
    assert (sent.payload["past_when_set"], sent.payload["late_by_s"]) == ("rescheduled", 1.0)
    fields = dict(render("sla.breach", sent.payload, locale="zh-CN", tz=TZ, sent_at=world.clock.now()).fields)
    assert fields["已逾期"] == "2小时（改期时已逾期）" and "补发" not in fields
