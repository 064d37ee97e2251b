"""The read side boards use: a page's SLA state costs one query however long the page, and the
calendars behind the countdowns come from the process's cache until a calendar changes."""

from __future__ import annotations

from datetime import datetime

from shared.models import Role
from tests.factories import BREACH_ONLY, auth, make_policy
from tests.sql import statements

T = datetime.fromisoformat
NOW = "2026-11-23T10:00:00+08:00"  # a Monday
WEEKDAYS_9_TO_6 = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


async def _calendar_with_policy(client, headers, sessions) -> dict:
    r = await client.post(
        "/api/v1/calendars",
        headers=headers,
        json={"name": "朝九晚六", "holiday_country": None, "weekly_hours": WEEKDAYS_9_TO_6},
    )
    assert r.status_code == 201, r.text
    await make_policy(
        sessions, target_kind="working_hours", target_value="PT16H", levels=BREACH_ONLY, calendar_id=r.json()["id"]
    )
    return r.json()


async def _page(client, headers, **params) -> tuple[list[dict], list[str]]:
    with statements() as seen:
        r = await client.get("/api/v1/tasks", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"], seen


async def test_a_board_page_reads_its_sla_state_in_one_query_however_long_the_page(client, sessions, clock):
    manager = await auth(sessions, Role.manager)
    await _calendar_with_policy(client, manager, sessions)
    clock.set(T(NOW))
    for n in range(12):
        r = await client.post("/api/v1/tasks", headers=manager, json={"title": f"任务 {n}"})
        assert r.status_code == 201, r.text

    await _page(client, manager, limit=1)  # this process has now seen the calendar
    one, one_sql = await _page(client, manager, limit=1)
    twelve, twelve_sql = await _page(client, manager, limit=12)

    assert len(one) == 1 and len(twelve) == 12
    assert all(len(task["sla"]) == 1 for task in twelve)
    # The page, the page's timers with their calendars: 2 statements for 1 task or 12 (the token was
    # resolved by the first page and is kept: CLOSELOOP_API_TOKEN_CACHE_S).
    assert len(one_sql) == len(twelve_sql) == 2
    assert sum("FROM sla_timers" in s for s in twelve_sql) == 1
    assert not any(s.lstrip().startswith("SELECT calendars.") for s in twelve_sql)
    # One statement text for every page length (an array parameter): one prepared statement.
    assert [s for s in one_sql if "FROM sla_timers" in s] == [s for s in twelve_sql if "FROM sla_timers" in s]


async def test_an_edited_calendar_is_read_again_once_and_moves_the_countdowns(client, sessions, clock):
    manager = await auth(sessions, Role.manager)
    calendar = await _calendar_with_policy(client, manager, sessions)
    clock.set(T(NOW))
    r = await client.post("/api/v1/tasks", headers=manager, json={"title": "写方案"})
    assert r.status_code == 201, r.text
    await _page(client, manager)

    (task,), before = await _page(client, manager)
    assert task["sla"][0]["working_seconds_left"] == 16 * 3600  # Monday 10:00 → Tuesday 17:00
    assert len(before) == 2  # the page and its timers (the token is kept from the first page)

    # Tuesday off (and a day no other test uses: this process has never seen the edited calendar).
    overrides = {"2026-11-24": "off", "2031-01-02": "off"}
    r = await client.patch(f"/api/v1/calendars/{calendar['id']}", headers=manager, json={"overrides": overrides})
    assert r.status_code == 200, r.text
    (task,), after_edit = await _page(client, manager)
    (task_again,), after = await _page(client, manager)

    # The due date stays (running timers keep their deadlines); the working time left to it now skips
    # Tuesday: 8 h on Monday only.
    assert task["sla"][0]["working_seconds_left"] == task_again["sla"][0]["working_seconds_left"] == 8 * 3600
    # The edited calendar is read once (one more statement), then served from the cache again.
    assert len(after_edit) == 3 and sum(s.lstrip().startswith("SELECT calendars.") for s in after_edit) == 1
    assert len(after) == 2


async def test_the_timers_board_and_an_item_agree_on_the_countdown(client, sessions, clock):
    manager = await auth(sessions, Role.manager)
    await _calendar_with_policy(client, manager, sessions)
    clock.set(T(NOW))
    task = (await client.post("/api/v1/tasks", headers=manager, json={"title": "写方案"})).json()
    clock.set(T("2026-11-23T17:00:00+08:00"))

    item = (await client.get(f"/api/v1/tasks/{task['id']}", headers=manager)).json()["sla"][0]
    (row,) = (await client.get("/api/v1/sla/timers", headers=manager)).json()["items"]

    assert item["working_seconds_left"] == row["working_seconds_left"] == 9 * 3600  # 1 h today, 8 h tomorrow
    assert item["seconds_to_due"] == row["seconds_to_due"] == 24 * 3600
    assert item["due_at"] == row["due_at"]
