"""Lifecycle edges: disabled policies, pausing while overdue, met while paused, the resolved notice
after a deadline change, explicit channels plus channel recipients, and a schedule that cannot be
computed for one level."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from shared.calendar import BusinessCalendar
from shared.db import unit_of_work
from shared.models import Calendar, EscalationKind, SlaPolicy, TaskStatus, TimerState
from shared.sla.timers import summary
from tests.factories import auth, make_channel, make_policy

T = datetime.fromisoformat
BREACH = [{"offset": "0", "recipients": ["assignee"]}]


async def test_disabling_a_policy_cancels_its_running_and_paused_timers(world, org, sessions, client):
    policy = await make_policy(sessions, levels=BREACH)
    start = world.at("2026-11-23T09:00:00+08:00")
    running = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=2))
    paused = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=2))
    await world.update(paused, status=TaskStatus.blocked)
    world.at("2026-11-23T10:00:00+08:00")
    headers = await auth(sessions)
    r = await client.patch(f"/api/v1/sla/policies/{policy.id}", headers=headers, json={"enabled": False})
    assert r.status_code == 200, r.text
    (a,) = await world.timers(running)
    (b,) = await world.timers(paused)
    assert (a.state, a.cancel_reason, a.next_fire_at) == (TimerState.cancelled, "policy disabled", None)
    assert (b.state, b.cancel_reason, b.paused_total_s) == (TimerState.cancelled, "policy disabled", 3600.0)
    assert (await world.sweep("2026-11-23T12:00:00+08:00")).claimed == 0
    assert await world.notifications(running) == []


async def test_a_timer_whose_policy_was_switched_off_elsewhere_stops_at_the_next_change(world, org, sessions):
    policy = await make_policy(sessions, levels=BREACH)
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=2))
    async with unit_of_work(sessions) as s:  # e.g. an ops script, bypassing the API
        await s.execute(update(SlaPolicy).where(SlaPolicy.id == policy.id).values(enabled=False))
    await world.update(task, title="改个标题")
    (timer,) = await world.timers(task)
    assert (timer.state, timer.cancel_reason) == (TimerState.cancelled, "policy disabled")


async def test_pausing_while_overdue_keeps_it_overdue_by_as_much_on_resume(world, org, sessions):
    await make_policy(
        sessions,
        target_kind="working_hours",
        target_value="PT2H",
        levels=[{"offset": "0", "recipients": ["assignee"]}, {"offset": "+PT1H", "recipients": ["director"]}],
    )
    world.at("2026-11-23T09:00:00+08:00")  # Monday
    task = await world.create(assignee_id=org.assignee.id)
    assert (await world.sweep("2026-11-23T11:00:00+08:00")).fired == 1  # breach
    world.at("2026-11-23T11:30:00+08:00")  # half an hour overdue, then blocked
    await world.update(task, status=TaskStatus.blocked)
    (timer,) = await world.timers(task)
    assert timer.remaining_s == -1800.0
    cal = BusinessCalendar.from_json({"timezone": "Asia/Shanghai", "holiday_country": "CN"})
    view = summary(timer, cal, world.clock.now())
    assert view["breached"] and view["paused"] and view["remaining_s"] == -1800.0
    world.at("2026-11-24T10:00:00+08:00")  # Tuesday: unblocked, still half an hour overdue
    await world.update(task, status=TaskStatus.in_progress)
    (timer,) = await world.timers(task)
    assert timer.due_at == T("2026-11-24T09:30:00+08:00")
    assert timer.next_fire_at == T("2026-11-24T10:30:00+08:00")  # +1 working hour after the breach
    assert (await world.sweep("2026-11-24T10:29:59+08:00")).fired == 0
    assert (await world.sweep("2026-11-24T10:30:00+08:00")).fired == 1
    assert (await world.escalations(task))[-1].kind == EscalationKind.escalation


async def test_met_while_paused_counts_the_pause_and_forgets_the_remainder(world, org, sessions):
    await make_policy(sessions, levels=BREACH)
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=2))
    world.at("2026-11-23T10:00:00+08:00")
    await world.update(task, status=TaskStatus.blocked)
    world.at("2026-11-23T10:45:00+08:00")
    await world.update(task, status=TaskStatus.done)
    (timer,) = await world.timers(task)
    assert (timer.state, timer.paused_total_s) == (TimerState.met, 2700.0)
    assert (timer.paused_at, timer.remaining_s, timer.remaining_days) == (None, None, None)


async def test_resolved_notice_reaches_those_alerted_before_the_deadline_moved(world, org, sessions):
    await make_policy(sessions, levels=BREACH)
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=1))
    assert (await world.sweep("2026-11-23T10:00:00+08:00")).fired == 1
    world.at("2026-11-23T10:30:00+08:00")
    await world.update(task, due_at=start + timedelta(hours=5))  # a new deadline: the breach is re-armed
    world.at("2026-11-23T11:00:00+08:00")
    await world.update(task, status=TaskStatus.done)
    breach, resolved = await world.notifications(task)
    assert (breach.event_type, resolved.event_type) == ("sla.breach", "sla.resolved")
    assert resolved.channel_id == breach.channel_id
    assert [m["name"] for m in resolved.payload["mentions"]] == ["张策划"]


async def test_a_level_with_channels_still_reaches_channel_recipients(world, org, sessions):
    extra = await make_channel(sessions, url="http://127.0.0.1:9/hooks/extra")
    only = await make_channel(sessions, url="http://127.0.0.1:9/hooks/only")
    await make_policy(
        sessions, levels=[{"offset": "0", "recipients": ["assignee", f"channel:{extra.id}"], "channels": [only.id]}]
    )
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id, due_at=start + timedelta(hours=1))
    await world.sweep("2026-11-23T10:00:00+08:00")
    assert sorted(n.channel_id for n in await world.notifications(task)) == [extra.id, only.id]


async def test_a_level_beyond_the_calendars_working_time_does_not_hold_up_the_rest(world, org, sessions):
    # A calendar with a single working day: the breach has a moment, "+8 working hours" never comes.
    async with unit_of_work(sessions) as s:
        cal = Calendar(
            name="一天",
            timezone="Asia/Shanghai",
            holiday_country=None,
            weekly_hours={},
            workday_hours=[],
            overrides={"2026-11-23": [["09:00", "18:00"]]},
            is_default=False,
        )
        s.add(cal)
        await s.flush()
        cal_id = cal.id
    await make_policy(
        sessions,
        target_kind="working_hours",
        target_value="PT4H",
        calendar_id=cal_id,
        levels=[{"offset": "0", "recipients": ["assignee"]}, {"offset": "+PT8H", "recipients": ["director"]}],
    )
    world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(assignee_id=org.assignee.id)
    result = await world.sweep("2026-11-23T13:00:00+08:00")
    assert result.fired == 1
    (timer,) = await world.timers(task)
    assert timer.fired == ["0:0"] and timer.next_fire_at is None


async def test_an_unassigned_overdue_task_still_reaches_the_channels_serving_every_department(world, org, sessions):
    """Foundation routing: alerts go to the assignee's department's channels and to every channel
    with no department — with no assignee, nobody is mentioned but the team still hears of it."""
    await make_policy(sessions, levels=BREACH)
    scoped = await make_channel(
        sessions, url="http://127.0.0.1:9/hooks/sales", department_ids=[org.assignee.department_id]
    )
    start = world.at("2026-11-23T09:00:00+08:00")
    task = await world.create(due_at=start + timedelta(hours=1))
    assert (await world.sweep("2026-11-23T10:00:01+08:00")).fired == 1
    (note,) = await world.notifications(task)
    assert note.channel_id == org.channel.id and note.channel_id != scoped.id  # the unscoped channel only
    assert note.payload["mentions"] == [] and note.payload["assignee"] is None
    (esc,) = await world.escalations(task)
    assert any("no assignee" in n for n in esc.notes)
