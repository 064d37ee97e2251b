"""Calendars as the API and the sweep see them: built from their row once and reused, and never
stale — an edited calendar (PATCH, a schedule import) is a new calendar with its own index."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from shared.models import Calendar, Role
from shared.sla.directory import calendar_from_row
from tests.factories import BREACH_ONLY, auth, make_policy

T = datetime.fromisoformat
NOW = "2026-11-23T10:00:00+08:00"  # a Monday
WEEKDAYS_9_TO_6 = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def row(**changes) -> Calendar:
    fields = {
        "id": 7,
        "name": "朝九晚六",
        "timezone": "Asia/Shanghai",
        "holiday_country": None,
        "weekly_hours": WEEKDAYS_9_TO_6,
        "workday_hours": [["09:00", "18:00"]],
        "overrides": {},
        "schedule": {},
        "updated_at": T("2026-11-23T10:00:00+08:00"),
    }
    return Calendar(**(fields | changes))


def test_a_row_edited_within_one_transaction_is_a_new_calendar():
    """Same id, same `updated_at` (a transaction's `now()`), different days off: different answers."""
    before = calendar_from_row(row())
    assert calendar_from_row(row()) is before  # unchanged: reused with its index
    after = calendar_from_row(row(overrides={"2026-11-24": "off"}))
    assert after is not before
    assert before.is_working_day(date(2026, 11, 24)) and not after.is_working_day(date(2026, 11, 24))
    assert before.add_working_days(T(NOW), 1) == T("2026-11-24T10:00:00+08:00")
    assert after.add_working_days(T(NOW), 1) == T("2026-11-25T10:00:00+08:00")


@pytest.fixture
async def manager(sessions):
    return await auth(sessions, Role.manager)


async def test_patching_and_importing_a_calendar_moves_previews_and_board_countdowns_at_once(
    client, manager, sessions, clock
):
    r = await client.post("/api/v1/calendars", headers=manager, json={"name": "朝九晚六", "holiday_country": None})
    calendar = r.json()
    await make_policy(
        sessions, target_kind="working_hours", target_value="PT16H", levels=BREACH_ONLY, calendar_id=calendar["id"]
    )
    clock.set(T(NOW))
    task = (await client.post("/api/v1/tasks", headers=manager, json={"title": "写方案"})).json()
    assert T(task["sla"][0]["due_at"]) == T("2026-11-24T17:00:00+08:00")  # 8 h today, 8 h tomorrow

    async def preview(start: str) -> str:
        r = await client.get(
            f"/api/v1/calendars/{calendar['id']}/deadline",
            headers=manager,
            params={"start": start, "kind": "working_days", "value": "1"},
        )
        assert r.status_code == 200, r.text
        return r.json()["due"]

    async def working_seconds_left() -> float:
        (item,) = (await client.get("/api/v1/tasks", headers=manager)).json()["items"]
        return item["sla"][0]["working_seconds_left"]

    assert await preview(NOW) == "2026-11-24T10:00:00+08:00"
    assert await working_seconds_left() == 16 * 3600

    r = await client.patch(
        f"/api/v1/calendars/{calendar['id']}", headers=manager, json={"overrides": {"2026-11-24": "off"}}
    )
    assert r.status_code == 200, r.text
    assert await preview(NOW) == "2026-11-25T10:00:00+08:00"
    assert await working_seconds_left() == 8 * 3600  # the deadline stays; Tuesday no longer counts

    friday = "2026-11-27T10:00:00+08:00"
    assert await preview(friday) == "2026-11-30T10:00:00+08:00"
    r = await client.post(
        f"/api/v1/calendars/{calendar['id']}/overrides:import",
        headers=manager,
        json=[{"date": "2026-11-28", "working": True, "name": "调休上班"}],
    )
    assert r.status_code == 200, r.text
    assert await preview(friday) == "2026-11-28T10:00:00+08:00"  # the Saturday now works
