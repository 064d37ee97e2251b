"""Recurring collaboration requests: one occurrence per working day (调休 included), each under SLA."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from shared.actor import Actor
from shared.collaboration.service import close_request, open_due_occurrences
from shared.db import unit_of_work
from shared.models import CollaborationStatus, EscalationKind, OccurrenceStatus, TimerState
from tests.collaboration.conftest import Desk


def cst(iso: str) -> datetime:
    return datetime.fromisoformat(iso + "+08:00")


async def _walk(desk: Desk, start: str, end: str, step: timedelta = timedelta(hours=3)) -> None:
    t, stop = cst(start), cst(end)
    while t <= stop:
        await desk.open_due(t.isoformat())
        t += step


async def test_daily_lead_handoff_across_weekend_and_makeup_workday(desk: Desk) -> None:
    desk.at("2025-09-26T10:00:00+08:00")  # Friday
    request = await desk.create()
    assert request.next_occurrence_at == cst("2025-09-28T09:00")  # Sunday is a make-up workday

    await _walk(desk, "2025-09-26T10:00", "2025-09-30T18:00")
    occurrences = await desk.occurrences(request)
    assert [o.occurrence_date for o in occurrences] == [
        date(2025, 9, 26),
        date(2025, 9, 28),
        date(2025, 9, 29),
        date(2025, 9, 30),
    ]
    for o in occurrences:
        assert o.due_at == datetime.combine(o.occurrence_date, datetime.min.time()).replace(
            tzinfo=cst("2025-09-26T00:00").tzinfo
        ) + timedelta(hours=17)
        (timer,) = await desk.timers(o)
        assert timer.due_at == o.due_at

    # National Day (Oct 1–8): nothing; Oct 9 and 10 are working days, Saturday Oct 11 a make-up one.
    await _walk(desk, "2025-09-30T21:00", "2025-10-11T12:00")
    dates = [o.occurrence_date for o in await desk.occurrences(request)]
    assert dates[4:] == [date(2025, 10, 9), date(2025, 10, 10), date(2025, 10, 11)]
    assert (await desk.request(request.id)).next_occurrence_at == cst("2025-10-13T09:00")


async def test_missed_day_breaches_to_owner_and_department_head_and_delivered_day_is_met(desk: Desk) -> None:
    desk.at("2025-09-29T08:30:00+08:00")  # Monday, before work
    request = await desk.create()
    monday = await desk.occurrence_on(request, date(2025, 9, 29))
    assert monday.due_at == cst("2025-09-29T17:00")

    await desk.sweep("2025-09-29T17:00:01+08:00")
    breaches = [e for e in await desk.escalations(monday) if e.kind == EscalationKind.breach]
    assert len(breaches) == 1
    alerted = {(r["as"], r["user_id"]) for r in breaches[0].recipients}
    assert ("assignee", desk.org.owner.id) in alerted
    assert ("department_head", desk.org.sales_head.id) in alerted

    assert await desk.open_due("2025-09-30T09:00:00+08:00") == 1
    tuesday = await desk.occurrence_on(request, date(2025, 9, 30))
    desk.at("2025-09-30T16:00:00+08:00")
    await desk.complete(request, tuesday, desk.org.sales_colleague)
    await desk.sweep("2025-09-30T17:00:01+08:00")

    (timer,) = await desk.timers(tuesday)
    assert timer.state == TimerState.met and timer.breached_at is None
    assert not [e for e in await desk.escalations(tuesday) if e.kind != EscalationKind.warning]
    assert (await desk.request(request.id)).status == CollaborationStatus.open  # recurring goes on


async def test_worker_down_two_working_days_catches_up_each_with_its_own_deadline(desk: Desk) -> None:
    desk.at("2025-09-16T10:00:00+08:00")  # Tuesday
    request = await desk.create()
    assert request.next_occurrence_at == cst("2025-09-17T09:00")

    assert await desk.open_due("2025-09-18T10:00:00+08:00") == 2  # Wednesday and Thursday, in one call
    assert await desk.open_due() == 0
    wednesday = await desk.occurrence_on(request, date(2025, 9, 17))
    thursday = await desk.occurrence_on(request, date(2025, 9, 18))
    assert (wednesday.opened_at, wednesday.due_at) == (cst("2025-09-17T09:00"), cst("2025-09-17T17:00"))
    assert (thursday.opened_at, thursday.due_at) == (cst("2025-09-18T09:00"), cst("2025-09-18T17:00"))
    assert (await desk.request(request.id)).next_occurrence_at == cst("2025-09-19T09:00")


async def test_two_workers_at_once_create_no_duplicate_occurrences(desk: Desk, sessions) -> None:
    desk.at("2025-09-16T10:00:00+08:00")
    requests = [await desk.create(matter=f"线索交接 {i}") for i in range(3)]
    now = cst("2025-09-19T10:00")  # Wed, Thu, Fri missed for each of the three

    async def worker() -> int:
        async with unit_of_work(sessions) as s:
            return await open_due_occurrences(s, now=now)

    results = await asyncio.gather(worker(), worker())
    assert sum(results) == 9
    for request in requests:
        dates = [o.occurrence_date for o in await desk.occurrences(request)]
        assert dates == [date(2025, 9, d) for d in (16, 17, 18, 19)]
    assert sum(await asyncio.gather(worker(), worker())) == 0


async def test_catch_up_opens_at_most_31_occurrences_per_call(desk: Desk) -> None:
    desk.at("2025-03-03T10:00:00+08:00")
    request = await desk.create()
    assert await desk.open_due("2025-06-30T10:00:00+08:00") == 31
    assert await desk.open_due() > 0  # the rest on the next call
    assert len(await desk.occurrences(request)) > 32


async def test_closing_a_recurring_request_stops_its_occurrences(desk: Desk) -> None:
    desk.at("2025-09-16T10:00:00+08:00")
    request = await desk.create()
    (today,) = await desk.occurrences(request)
    async with unit_of_work(desk.sessions) as s:
        await close_request(
            s,
            actor=Actor.user(desk.org.marketer.id, desk.org.marketer.role),
            request_id=request.id,
            now=desk.clock.now(),
        )
    closed = await desk.request(request.id)
    assert closed.status == CollaborationStatus.closed and closed.next_occurrence_at is None
    (today,) = await desk.occurrences(request)
    assert today.status == OccurrenceStatus.cancelled
    assert [t.state for t in await desk.timers(today)] == [TimerState.cancelled]
    await _walk(desk, "2025-09-17T09:00", "2025-09-20T09:00")
    assert len(await desk.occurrences(request)) == 1


async def test_a_request_that_cannot_be_scheduled_does_not_hold_up_the_others(desk: Desk, monkeypatch) -> None:
    from shared.calendar import CalendarError
    from shared.collaboration import service

    desk.at("2025-09-16T10:00:00+08:00")
    stuck = await desk.create(matter="坏日历")
    healthy = await desk.create(matter="线索交接")
    real = service._open_for

    async def failing(session, request, cal, now):  # its calendar lost all working time
        if request.id == stuck.id:
            await real(session, request, cal, now)  # half-done work must roll back
            raise CalendarError("calendar", "no working time within three years")
        return await real(session, request, cal, now)

    monkeypatch.setattr(service, "_open_for", failing)
    assert await desk.open_due("2025-09-23T10:00:00+08:00") == 5  # Wed–Fri, Mon, Tue for the healthy one
    assert [o.occurrence_date for o in await desk.occurrences(healthy)][-1] == date(2025, 9, 23)
    assert [o.occurrence_date for o in await desk.occurrences(stuck)] == [date(2025, 9, 16)]  # nothing half-written
    assert (await desk.request(stuck.id)).next_occurrence_at == desk.clock.now() + timedelta(minutes=5)
