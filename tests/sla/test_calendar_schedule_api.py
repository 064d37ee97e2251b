"""Calendars say when they are guessing: days with reasons and data quality, warnings on deadlines
and timers, and loading (and exporting) a year's announced schedule through the API and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.clock import FrozenClock
from shared.models import Role
from tests.factories import auth, make_user
from tests.test_cli import closeloop

NATIONAL_DAY_2027 = json.loads((Path(__file__).resolve().parents[1] / "data" / "cn_2027_national_day.json").read_text())
START = "2027-09-30T10:00:00+08:00"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.fromisoformat(START).astimezone(UTC))


@pytest.fixture
async def manager(sessions):
    return await auth(sessions, Role.manager)


@pytest.fixture
async def calendar(client, manager):
    r = await client.post("/api/v1/calendars", headers=manager, json={"name": "中国大陆"})
    assert r.status_code == 201, r.text
    return r.json()


async def _deadline(client, headers, calendar_id, *, start=START, kind="working_days", value="2"):
    r = await client.get(
        f"/api/v1/calendars/{calendar_id}/deadline",
        headers=headers,
        params={"start": start, "kind": kind, "value": value},
    )
    assert r.status_code == 200, r.text
    return r.json()


async def _import(client, headers, calendar_id, body, *, mode=None, content_type="application/json"):
    content = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return await client.post(
        f"/api/v1/calendars/{calendar_id}/overrides:import",
        headers={**headers, "content-type": content_type},
        params={"mode": mode} if mode else None,
        content=content.encode(),
    )


async def test_days_across_national_day_2025_say_why(client, manager, calendar):
    r = await client.get(
        f"/api/v1/calendars/{calendar['id']}/days", headers=manager, params={"from": "2025-09-27", "to": "2025-10-11"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["calendar_id"], body["from"], body["to"]) == (calendar["id"], "2025-09-27", "2025-10-11")
    days = {d["date"]: d for d in body["days"]}
    assert len(days) == 15 and all(d["data"] == "official" for d in days.values())
    assert days["2025-09-27"] | {"date": None} == {
        "date": None,
        "working": False,
        "hours": [],
        "reason": "weekend",
        "name": None,
        "data": "official",
    }
    assert days["2025-09-28"]["reason"] == "makeup_workday" and days["2025-09-28"]["hours"] == [["09:00", "18:00"]]
    assert days["2025-09-30"]["reason"] == "workday" and days["2025-09-30"]["working"] is True
    assert (days["2025-10-01"]["reason"], days["2025-10-01"]["name"]) == ("statutory_holiday", "国庆节")
    assert (days["2025-10-06"]["reason"], days["2025-10-06"]["name"]) == ("statutory_holiday", "中秋节")
    assert days["2025-10-04"]["reason"] == "weekend"  # a Saturday inside the week off is just a weekend
    assert days["2025-10-11"]["reason"] == "makeup_workday"


async def test_days_report_2027_estimated_and_2026_official(client, manager, calendar):
    r = await client.get(
        f"/api/v1/calendars/{calendar['id']}/days", headers=manager, params={"from": "2026-12-31", "to": "2027-01-01"}
    )
    assert [(d["date"], d["data"]) for d in r.json()["days"]] == [
        ("2026-12-31", "official"),
        ("2027-01-01", "estimated"),
    ]


async def test_days_range_is_bounded_and_ordered(client, manager, calendar):
    url = f"/api/v1/calendars/{calendar['id']}/days"
    for params in ({"from": "2026-01-01", "to": "2027-02-05"}, {"from": "2026-01-02", "to": "2026-01-01"}):
        r = await client.get(url, headers=manager, params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.to", params
    r = await client.get(url, headers=manager, params={"from": "2026-01-01", "to": "2027-02-04"})  # 400 days
    assert r.status_code == 200 and len(r.json()["days"]) == 400
    r = await client.get(url, headers=manager, params={"to": "2026-01-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.from"
    assert (
        await client.get(
            "/api/v1/calendars/999/days", headers=manager, params={"from": "2026-01-01", "to": "2026-01-01"}
        )
    ).status_code == 404


async def test_a_deadline_across_national_day_2027_warns_until_the_schedule_is_loaded(client, manager, calendar):
    before = await _deadline(client, manager, calendar["id"])
    assert calendar["loaded_years"] == []
    assert before["due"] == "2027-10-07T10:00:00+08:00"  # the package's guess: Oct 1–5 off
    assert [(w["code"], w["year"]) for w in before["warnings"]] == [("estimated_holidays", 2027)]
    assert "2027" in before["warnings"][0]["message"]
    assert (await _deadline(client, manager, calendar["id"], kind="calendar", value="P2D"))["warnings"] == []
    in_2026 = await _deadline(client, manager, calendar["id"], start="2026-09-30T10:00:00+08:00")
    assert in_2026["warnings"] == []

    r = await _import(client, manager, calendar["id"], NATIONAL_DAY_2027)
    assert r.status_code == 200, r.text
    assert r.json() == {"calendar_id": calendar["id"], "mode": "merge", "years": [2027], "imported": 9, "removed": 0}

    assert (await client.get(f"/api/v1/calendars/{calendar['id']}", headers=manager)).json()["loaded_years"] == [2027]
    after = await _deadline(client, manager, calendar["id"])
    assert after == {"due": "2027-10-09T10:00:00+08:00", "warnings": []}  # Oct 1–7 off, make-up Saturday counted
    days = (
        await client.get(
            f"/api/v1/calendars/{calendar['id']}/days",
            headers=manager,
            params={"from": "2027-10-07", "to": "2027-10-09"},
        )
    ).json()["days"]
    assert [(d["reason"], d["name"], d["data"]) for d in days] == [
        ("statutory_holiday", "国庆节", "official"),
        ("workday", None, "official"),
        ("makeup_workday", "国庆节调休上班", "official"),
    ]
    audit = (
        await client.get(
            "/api/v1/audit", headers=manager, params={"entity_type": "calendar", "entity_id": calendar["id"]}
        )
    ).json()["items"]
    assert [a["action"] for a in audit] == ["create", "update"]


async def test_timers_whose_span_crosses_an_estimated_year_carry_the_warning(client, manager, calendar, sessions):
    esc = (
        await client.post(
            "/api/v1/escalation-policies",
            headers=manager,
            json={"name": "e", "levels": [{"offset": "0", "recipients": ["assignee"]}]},
        )
    ).json()
    r = await client.post(
        "/api/v1/sla/policies",
        headers=manager,
        json={
            "name": "two days",
            "target_kind": "working_days",
            "target_value": "2",
            "calendar_id": calendar["id"],
            "escalation_policy_id": esc["id"],
        },
    )
    assert r.status_code == 201, r.text
    policy = r.json()
    owner = await make_user(sessions)
    guessed = (await client.post("/api/v1/tasks", headers=manager, json={"title": "a", "assignee_id": owner.id})).json()
    (sla,) = guessed["sla"]
    assert sla["due_at"] == "2027-10-07T02:00:00Z"
    assert [(w["code"], w["year"]) for w in sla["warnings"]] == [("estimated_holidays", 2027)]
    board = (await client.get("/api/v1/sla/timers", headers=manager)).json()["items"]
    assert board[0]["warnings"][0]["year"] == 2027

    assert (await _import(client, manager, calendar["id"], NATIONAL_DAY_2027)).status_code == 200
    known = (await client.post("/api/v1/tasks", headers=manager, json={"title": "b", "assignee_id": owner.id})).json()
    (sla,) = known["sla"]
    assert sla["due_at"] == "2027-10-09T02:00:00Z" and sla["warnings"] == []
    # A met timer's deadline no longer matters: no warning.
    new_calendar = (await client.post("/api/v1/calendars", headers=manager, json={"name": "no 2027 yet"})).json()
    r = await client.patch(
        f"/api/v1/sla/policies/{policy['id']}", headers=manager, json={"calendar_id": new_calendar["id"]}
    )
    assert r.status_code == 200, r.text
    third = (await client.post("/api/v1/tasks", headers=manager, json={"title": "c", "assignee_id": owner.id})).json()
    assert third["sla"][0]["warnings"][0]["year"] == 2027
    done = (await client.patch(f"/api/v1/tasks/{third['id']}", headers=manager, json={"status": "done"})).json()
    assert done["sla"][0]["state"] == "met" and done["sla"][0]["warnings"] == []


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        ([{"date": "2027-10-01", "working": False}, {"date": "2027-10-32", "working": False}], None, "body.1.date"),
        ([{"date": "2027-10-01", "working": "yes please"}], None, "body.0.working"),
        ([{"date": "2027-10-01", "working": False}, {"date": "2027-10-01", "working": True}], None, "body.1.date"),
        ({"date": "2027-10-01", "working": False}, None, "body"),
        ("[{", None, "body"),
        ([], None, "body"),
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART:20271001T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "text/calendar",
            "body.VEVENT[0].DTSTART",
        ),
        ("date,working\n2027-10-01,false\n", "text/csv", "header.content-type"),
    ],
)
async def test_import_errors_name_the_entry_and_write_nothing(client, manager, calendar, body, content_type, field):
    r = await _import(client, manager, calendar["id"], body, content_type=content_type or "application/json")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    exported = await client.get(f"/api/v1/calendars/{calendar['id']}/overrides:export", headers=manager)
    assert exported.json() == []


async def test_only_managers_import(client, sessions, calendar):
    member = await auth(sessions, Role.member)
    assert (await _import(client, member, calendar["id"], NATIONAL_DAY_2027)).status_code == 403
    assert (await _import(client, await auth(sessions, Role.manager), 999, NATIONAL_DAY_2027)).status_code == 404


async def test_replace_mode_drops_the_years_loaded_days_first(client, manager, calendar):
    await _import(client, manager, calendar["id"], NATIONAL_DAY_2027)
    fix = [{"date": "2027-10-08", "working": False, "name": "国庆节"}]
    r = await _import(client, manager, calendar["id"], fix, mode="replace")
    assert r.json()["removed"] == 9 and r.json()["mode"] == "replace"
    exported = (await client.get(f"/api/v1/calendars/{calendar['id']}/overrides:export", headers=manager)).json()
    assert exported == fix
    r = await _import(client, manager, calendar["id"], fix, mode="overwrite")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.mode"


async def test_export_round_trips_as_json_and_ics(client, manager, calendar):
    await _import(client, manager, calendar["id"], NATIONAL_DAY_2027)
    url = f"/api/v1/calendars/{calendar['id']}/overrides:export"
    as_json = await client.get(url, headers=manager)
    assert as_json.json() == NATIONAL_DAY_2027
    as_ics = await client.get(url, headers=manager, params={"format": "ics"})
    assert as_ics.headers["content-type"].startswith("text/calendar")
    assert "X-CLOSELOOP-WORKING:TRUE" in as_ics.text
    other = (await client.post("/api/v1/calendars", headers=manager, json={"name": "copy"})).json()
    r = await _import(client, manager, other["id"], as_ics.text, content_type="text/calendar")
    assert r.status_code == 200, r.text
    assert (
        await client.get(f"/api/v1/calendars/{other['id']}/overrides:export", headers=manager)
    ).json() == NATIONAL_DAY_2027
    assert (await client.get(url, headers=manager, params={"year": 2026})).json() == []


async def test_cli_imports_a_file_and_exports_it_again(stack, client, manager, calendar, tmp_path):
    source = tmp_path / "2027.json"
    source.write_text(json.dumps(NATIONAL_DAY_2027, ensure_ascii=False), encoding="utf-8")
    proc = closeloop(stack, "calendar", "import", str(calendar["id"]), str(source))
    assert proc.returncode == 0, proc.stderr
    assert (await _deadline(client, manager, calendar["id"]))["warnings"] == []
    proc = closeloop(stack, "calendar", "export", str(calendar["id"]), "--format", "ics")
    assert proc.returncode == 0, proc.stderr
    ics = tmp_path / "2027.ics"
    ics.write_text(proc.stdout, encoding="utf-8")
    other = (await client.post("/api/v1/calendars", headers=manager, json={"name": "copy"})).json()
    assert closeloop(stack, "calendar", "import", str(other["id"]), str(ics), "--mode", "replace").returncode == 0
    proc = closeloop(stack, "calendar", "export", str(other["id"]))
    assert json.loads(proc.stdout) == NATIONAL_DAY_2027
    bad = tmp_path / "bad.json"
    bad.write_text('[{"date": "2027-10-01", "working": false}, {"date": "someday", "working": true}]')
    proc = closeloop(stack, "calendar", "import", str(calendar["id"]), str(bad))
    assert proc.returncode == 2 and "1.date" in proc.stderr
