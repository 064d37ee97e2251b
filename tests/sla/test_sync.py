"""An item's own due date: anywhere in 2000–2099, however far from now, and a board reads its
countdown from the calendar's index without walking the years in between."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import update

from shared.calendar import BusinessCalendar
from shared.db import unit_of_work
from shared.models import Role, Task, TaskStatus
from shared.sla.sync import sync_timers
from shared.tasks.sla import TaskSubject
from tests.factories import BREACH_ONLY, auth, make_policy
from tests.sql import statements

T = datetime.fromisoformat
NOW = "2026-11-23T10:00:00+08:00"  # a Monday


@pytest.fixture
async def manager(sessions):
    return await auth(sessions, Role.manager)


@pytest.fixture
async def office_hours(client, manager, sessions):
    """Mon–Fri 09:00–18:00 in Shanghai, no statutory holidays: working time a person can count."""
    r = await client.post("/api/v1/calendars", headers=manager, json={"name": "朝九晚六", "holiday_country": None})
    assert r.status_code == 201, r.text
    await make_policy(
        sessions, target_kind="working_hours", target_value="PT16H", levels=BREACH_ONLY, calendar_id=r.json()["id"]
    )
    return r.json()


async def test_a_due_date_thirty_years_away_is_accepted_and_the_board_counts_it_without_walking(
    client, manager, office_hours, clock, monkeypatch
):
    clock.set(T(NOW))
    due = "2056-11-23T10:00:00+08:00"  # a Thursday: 10 958 days = 1 565 weeks + Mon, Tue, Wed
    r = await client.post("/api/v1/tasks", headers=manager, json={"title": "三十年规划", "due_at": due})
    assert r.status_code == 201, r.text
    looked_at = []
    spans = BusinessCalendar.spans
    monkeypatch.setattr(BusinessCalendar, "spans", lambda cal, day: looked_at.append(day) or spans(cal, day))

    r = await client.get("/api/v1/tasks", headers=manager, params={"limit": 50})
    assert r.status_code == 200, r.text
    (sla,) = r.json()["items"][0]["sla"]
    assert sla["seconds_to_due"] == 10_958 * 86400
    # 1 565 × 5 + 3 weekdays of 9 hours: the first day starts an hour in, the last ends an hour in
    assert sla["working_seconds_left"] == (1565 * 5 + 3) * 9 * 3600
    assert len(looked_at) <= 4  # the two ends' days, not the 10 958 in between


async def test_a_due_date_in_2100_or_later_is_refused_naming_the_field(client, manager, office_hours, clock):
    clock.set(T(NOW))
    r = await client.post(
        "/api/v1/tasks", headers=manager, json={"title": "下个世纪", "due_at": "2101-01-01T00:00:00Z"}
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.due_at"], r.text
    assert (await client.get("/api/v1/tasks", headers=manager)).json()["items"] == []

    r = await client.post(
        "/api/v1/tasks", headers=manager, json={"title": "世纪末", "due_at": "2099-12-31T17:00:00+08:00"}
    )
    assert r.status_code == 201, r.text
    task = r.json()
    r = await client.patch(f"/api/v1/tasks/{task['id']}", headers=manager, json={"due_at": "2101-06-01T00:00:00Z"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.due_at"], r.text
    again = (await client.get(f"/api/v1/tasks/{task['id']}", headers=manager)).json()
    assert T(again["due_at"]) == T(again["sla"][0]["due_at"]) == T("2099-12-31T17:00:00+08:00")


async def test_timers_of_many_items_are_synced_with_the_statements_of_one(client, manager, sessions, engine, clock):
    """Pausing three tasks at once (a campaign put on hold, a bulk change) reads their timers,
    the policies with their escalations and the calendars once, not once per task."""
    clock.set(T(NOW))
    await make_policy(sessions, levels=BREACH_ONLY, target_value="PT4H")
    ids = []
    for title in ("海报", "文案", "投放"):
        r = await client.post("/api/v1/tasks", headers=manager, json={"title": title})
        assert r.status_code == 201 and r.json()["sla"][0]["state"] == "running", r.text
        ids.append(r.json()["id"])
    async with unit_of_work(sessions) as s:
        await s.execute(update(Task).where(Task.id.in_(ids)).values(status=TaskStatus.blocked))
        with statements(engine.sync_engine) as sent:
            await sync_timers(s, TaskSubject.task, ids, now=clock.now())
    reads = [re.search(r"\bFROM (\w+)", sql)[1] for sql in sent if sql.startswith("SELECT")]  # type: ignore[index]
    assert reads == ["tasks", "sla_timers", "sla_policies", "calendars"]
    for task_id in ids:
        (sla,) = (await client.get(f"/api/v1/tasks/{task_id}", headers=manager)).json()["sla"]
        assert sla["state"] == "paused" and sla["remaining_s"] == 4 * 3600


async def test_a_new_task_starts_its_timer_without_looking_for_timers_it_cannot_have(
    app, client, manager, sessions, clock
):
    clock.set(T(NOW))
    await make_policy(sessions, levels=BREACH_ONLY, target_value="PT4H")
    with statements(app.state.engine.sync_engine) as sent:
        r = await client.post("/api/v1/tasks", headers=manager, json={"title": "海报"})
    assert r.status_code == 201, r.text
    (sla,) = r.json()["sla"]
    assert sla["state"] == "running" and sla["seconds_to_due"] == 4 * 3600
    # Its timer is written, then read once for the answer: no locked read of timers before.
    timers = [s.split(" ")[0] for s in sent if "sla_timers" in s]
    assert timers == ["INSERT", "SELECT"] and not any(s.endswith("FOR UPDATE") for s in sent)
