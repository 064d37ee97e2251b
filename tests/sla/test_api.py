"""SLA configuration and read APIs: calendars (with the SLA vectors), policies, timers, history."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shared.models import Role
from shared.sla import registry
from tests.factories import BREACH_ONLY, auth, make_policy, make_user
from tests.sla.conftest import PUBLIC  # noqa: F401 — same public URL as the lifecycle tests

T = datetime.fromisoformat
VECTORS = json.loads((Path(__file__).resolve().parents[1] / "data" / "sla_deadlines.json").read_text())


@pytest.fixture
async def manager(sessions):
    return await auth(sessions, Role.manager)


async def test_every_vector_case_through_the_api(client, manager):
    ids = {}
    for name, spec in VECTORS["calendars"].items():
        r = await client.post("/api/v1/calendars", headers=manager, json={"name": name, **spec})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    for case in VECTORS["cases"]:
        r = await client.get(
            f"/api/v1/calendars/{ids[case['calendar']]}/deadline",
            headers=manager,
            params={"start": case["start"], "kind": case["kind"], "value": case["value"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["due"] == case["due"], case


async def test_calendar_round_trips_and_one_default(client, manager):
    spec = VECTORS["calendars"]["cn_lunch"]
    a = (await client.post("/api/v1/calendars", headers=manager, json={"name": "a", **spec, "is_default": True})).json()
    assert a["overrides"] == spec["overrides"] and a["weekly_hours"] == spec["weekly_hours"]
    b = (await client.post("/api/v1/calendars", headers=manager, json={"name": "b", "is_default": True})).json()
    listed = {
        c["name"]: c["is_default"] for c in (await client.get("/api/v1/calendars", headers=manager)).json()["items"]
    }
    assert listed == {"a": False, "b": True}
    r = await client.patch(f"/api/v1/calendars/{b['id']}", headers=manager, json={"is_default": False})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.is_default"
    r = await client.patch(f"/api/v1/calendars/{a['id']}", headers=manager, json={"overrides": {"2027-01-04": "off"}})
    assert r.json()["overrides"] == {"2027-01-04": "off"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Nowhere/Land"}, "body.timezone"),
        ({"weekly_hours": {}}, "body.weekly_hours"),
        ({"weekly_hours": {"mon": [["18:00", "09:00"]]}}, "body.weekly_hours.mon[0]"),
        ({"holiday_country": "ZZ"}, "body.holiday_country"),
        ({"overrides": {"tomorrow": "off"}}, "body.overrides.tomorrow"),
        ({"workday_hours": [["09:00"]]}, "body.workday_hours.0"),
    ],
)
async def test_bad_calendars_are_422_naming_the_field(client, manager, body, field):
    r = await client.post("/api/v1/calendars", headers=manager, json={"name": "bad", **body})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field
    assert (await client.get("/api/v1/calendars", headers=manager)).json()["items"] == []


async def test_deadline_preview_validates_its_query(client, manager):
    cal = (await client.post("/api/v1/calendars", headers=manager, json={"name": "cn"})).json()
    url = f"/api/v1/calendars/{cal['id']}/deadline"
    for params, field in (
        ({"start": "2026-01-05T10:00:00", "kind": "calendar", "value": "PT1H"}, "query.start"),
        ({"start": "2026-01-05T10:00:00+08:00", "kind": "weeks", "value": "1"}, "query.kind"),
        ({"start": "2026-01-05T10:00:00+08:00", "kind": "working_hours", "value": "8h"}, "query.value"),
    ):
        r = await client.get(url, headers=manager, params=params)
        assert r.status_code == 422, params
        assert r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("levels", "field"),
    [
        ([{"offset": "0", "recipients": ["boss"]}], "body.levels[0].recipients[0]"),
        (
            [{"offset": "0", "recipients": ["assignee"]}, {"offset": "-PT1H", "recipients": ["assignee"]}],
            "body.levels[1].offset",
        ),
        (
            [{"offset": "+PT2H", "recipients": ["assignee"]}, {"offset": "+PT1H", "recipients": ["director"]}],
            "body.levels[1].offset",
        ),
        (
            [{"offset": "-10%", "recipients": ["assignee"]}, {"offset": "-30%", "recipients": ["assignee"]}],
            "body.levels[1].offset",
        ),
        ([{"offset": "soon", "recipients": ["assignee"]}], "body.levels[0].offset"),
        ([{"offset": "0", "recipients": []}], "body.levels[0].recipients"),
        ([{"offset": "0", "recipients": ["assignee"], "max_repeats": 2}], "body.levels[0].max_repeats"),
        (
            [{"offset": "0", "recipients": ["assignee"], "repeat_every": "PT4H", "max_repeats": 0}],
            "body.levels[0].max_repeats",
        ),
        ([{"offset": "0", "recipients": ["user:999"]}], "body.levels"),
        (  # 100 reminders ten days apart: past any useful horizon
            [{"offset": "0", "recipients": ["assignee"], "repeat_every": "P10D", "max_repeats": 100}],
            "body.levels[0].max_repeats",
        ),
        ([{"offset": "+P400D", "recipients": ["assignee"]}], "body.levels[0].offset"),
    ],
)
async def test_bad_escalation_levels_are_422_naming_the_field(client, manager, levels, field):
    r = await client.post("/api/v1/escalation-policies", headers=manager, json={"name": "x", "levels": levels})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


async def test_sla_policy_validation(client, manager):
    esc = (
        await client.post(
            "/api/v1/escalation-policies",
            headers=manager,
            json={"name": "e", "levels": [{"offset": "0", "recipients": ["assignee"]}]},
        )
    ).json()
    base = {"name": "p", "target_kind": "working_hours", "target_value": "PT8H", "escalation_policy_id": esc["id"]}
    for extra, field in (
        ({"subject_type": "invoice"}, "body.subject_type"),
        ({"target_kind": "fortnight"}, "body.target_kind"),
        ({"target_value": "eight hours"}, "body.target_value"),
        ({"start_statuses": ["todo"], "stop_statuses": ["todo"]}, "body.stop_statuses"),
        ({"pause_statuses": ["snoozed"]}, "body.pause_statuses"),
        ({"conditions": {"colour": ["red"]}}, "body.conditions.colour"),
        ({"calendar_id": 404}, "body.calendar_id"),
        ({"escalation_policy_id": 404}, "body.escalation_policy_id"),
    ):
        r = await client.post("/api/v1/sla/policies", headers=manager, json={**base, **extra})
        assert r.status_code == 422, (extra, r.text)
        assert r.json()["errors"][0]["field"] == field, extra
    r = await client.post("/api/v1/sla/policies", headers=manager, json=base)
    assert r.status_code == 201, r.text
    policy = r.json()
    assert policy["start_statuses"] == ["todo", "in_progress"] and policy["pause_statuses"] == ["blocked"]
    r = await client.delete(f"/api/v1/escalation-policies/{esc['id']}", headers=manager)
    assert r.status_code == 409


async def test_members_cannot_change_sla_rules(client, sessions):
    member = await auth(sessions, Role.member)
    r = await client.post("/api/v1/calendars", headers=member, json={"name": "x"})
    assert r.status_code == 403


async def test_task_embeds_its_sla_and_boards_filter_timers(client, manager, sessions, clock):
    esc = (
        await client.post(
            "/api/v1/escalation-policies",
            headers=manager,
            json={"name": "e", "levels": [{"offset": "0", "recipients": ["assignee"]}]},
        )
    ).json()
    await client.post(
        "/api/v1/sla/policies",
        headers=manager,
        json={"name": "p", "target_kind": "calendar", "target_value": "PT2H", "escalation_policy_id": esc["id"]},
    )
    owner = await make_user(sessions)
    late = (
        await client.post(
            "/api/v1/tasks",
            headers=manager,
            json={"title": "late", "assignee_id": owner.id, "due_at": (clock.now() - timedelta(minutes=1)).isoformat()},
        )
    ).json()
    fine = (await client.post("/api/v1/tasks", headers=manager, json={"title": "fine", "assignee_id": owner.id})).json()
    (sla,) = fine["sla"]
    assert sla["state"] == "running" and not sla["breached"] and sla["remaining_s"] == 7200
    assert datetime.fromisoformat(sla["due_at"]) == clock.now() + timedelta(hours=2)
    assert late["sla"][0]["breached"] is True and late["sla"][0]["remaining_s"] == -60
    breached = (await client.get("/api/v1/sla/timers", headers=manager, params={"breached": "true"})).json()["items"]
    assert [t["subject_id"] for t in breached] == [late["id"]]
    running = (await client.get("/api/v1/sla/timers", headers=manager, params={"state": "running"})).json()["items"]
    assert len(running) == 2
    blocked = (await client.patch(f"/api/v1/tasks/{fine['id']}", headers=manager, json={"status": "blocked"})).json()
    assert blocked["sla"][0]["paused"] is True and blocked["sla"][0]["state"] == "paused"


async def test_escalation_history_per_subject(client, manager, sessions, clock, world, org):
    from tests.factories import make_policy

    await make_policy(sessions, levels=[{"offset": "0", "recipients": ["assignee_manager"]}])
    task = await world.create(assignee_id=org.orphan.id, due_at=clock.now() + timedelta(seconds=10))
    clock.advance(10)
    await world.sweep()
    history = (
        await client.get(
            "/api/v1/sla/escalations", headers=manager, params={"subject_type": "task", "subject_id": task.id}
        )
    ).json()["items"]
    assert len(history) == 1
    assert history[0]["kind"] == "breach" and history[0]["notification_count"] == 1
    assert history[0]["recipients"][0]["name"] == "赵部长" and history[0]["notes"]


async def test_a_countdown_runs_in_wall_clock_time_beside_the_working_seconds_left(client, manager, sessions, clock):
    await make_policy(sessions, target_kind="working_hours", target_value="PT16H", levels=BREACH_ONLY)
    clock.set(T("2026-11-21T10:00:00+08:00"))  # a Saturday: no working time until Monday 09:00
    due = clock.now() + timedelta(seconds=15)
    r = await client.post("/api/v1/tasks", headers=manager, json={"title": "周末加急", "due_at": due.isoformat()})
    task = r.json()
    (sla,) = task["sla"]
    assert (sla["seconds_to_due"], sla["working_seconds_left"], sla["breached"]) == (15.0, 0.0, False)
    assert sla["target"]["kind"] == "due_at" and T(sla["target"]["value"]) == due  # not the policy's PT16H

    async def timer() -> dict:
        return (await client.get(f"/api/v1/tasks/{task['id']}", headers=manager)).json()["sla"][0]

    clock.advance(60)
    sla = await timer()
    assert (sla["seconds_to_due"], sla["working_seconds_left"], sla["breached"]) == (-45.0, 0.0, True)
    clock.set(T("2026-11-23T10:30:00+08:00"))  # Monday: 1.5 working hours past the deadline
    sla = await timer()
    assert sla["working_seconds_left"] == -5400.0
    assert sla["seconds_to_due"] == -(T("2026-11-23T10:30:00+08:00") - due).total_seconds()


async def test_a_paused_countdown_shows_what_was_left_when_it_stopped(client, manager, sessions, clock):
    await make_policy(sessions, target_kind="working_hours", target_value="PT16H", levels=BREACH_ONLY)
    clock.set(T("2026-11-23T10:30:00+08:00"))  # Monday
    task = (await client.post("/api/v1/tasks", headers=manager, json={"title": "写方案"})).json()
    (sla,) = task["sla"]
    assert sla["target"] == {"kind": "working_hours", "value": "PT16H"}
    assert T(sla["due_at"]) == T("2026-11-24T17:30:00+08:00")  # 7.5 h today, 8.5 h tomorrow
    assert (sla["seconds_to_due"], sla["working_seconds_left"]) == (31 * 3600, 16 * 3600)
    clock.set(T("2026-11-23T11:30:00+08:00"))
    await client.patch(f"/api/v1/tasks/{task['id']}", headers=manager, json={"status": "blocked"})
    clock.set(T("2026-11-25T11:30:00+08:00"))  # two days later, still blocked
    (sla,) = (await client.get(f"/api/v1/tasks/{task['id']}", headers=manager)).json()["sla"]
    assert sla["paused"] and (sla["seconds_to_due"], sla["working_seconds_left"]) == (30 * 3600, 15 * 3600)
    await client.patch(f"/api/v1/tasks/{task['id']}", headers=manager, json={"status": "done"})
    (sla,) = (await client.get(f"/api/v1/tasks/{task['id']}", headers=manager)).json()["sla"]
    assert sla["state"] == "met" and (sla["seconds_to_due"], sla["working_seconds_left"]) == (None, None)


async def test_board_timers_name_their_items_loading_each_type_once_per_page(
    client, manager, sessions, clock, monkeypatch
):
    await make_policy(sessions, levels=BREACH_ONLY)
    titles = ["提交《活动策划方案》", "竞品分析", "预算表"]
    ids = [(await client.post("/api/v1/tasks", headers=manager, json={"title": t})).json()["id"] for t in titles]
    spec = registry.get("task")
    loads = []

    async def counted_load(session, subject_ids):
        loads.append(sorted(subject_ids))
        return await spec.load(session, subject_ids)

    monkeypatch.setitem(registry._SUBJECTS, "task", dataclasses.replace(spec, load=counted_load))
    rows = (await client.get("/api/v1/sla/timers", headers=manager)).json()["items"]
    assert [(r["subject_title"], r["subject_path"]) for r in rows] == [
        (title, f"/api/v1/tasks/{i}") for title, i in zip(titles, ids, strict=True)
    ]
    assert loads == [sorted(ids)]  # one load for the page's tasks, not one per row


@pytest.mark.parametrize("url", ["/api/v1/sla/timers", "/api/v1/sla/escalations", "/api/v1/sla/policies"])
async def test_an_unknown_subject_type_filter_is_422_not_an_empty_list(client, manager, url):
    r = await client.get(url, headers=manager, params={"subject_type": "bogus"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.subject_type"
    assert (await client.get(url, headers=manager, params={"subject_type": "task"})).status_code == 200
