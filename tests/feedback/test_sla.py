"""The first-response SLA: complaints in 2 h (high or urgent ones in 1 h), feedback in 24 h, met by
the first response; a complaint's resolution in 3 working days; all configurable through the
ordinary SLA policy API."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AuditLog, Comment, EscalationKind, Feedback, Role, TimerState
from tests.factories import auth

from .conftest import T0


async def _create(client, headers, **body) -> dict:
    r = await client.post(
        "/api/v1/feedback", headers=headers, json={"channel": "phone", "content": "退款迟迟未到账", **body}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _due(item: dict) -> list[datetime]:
    return [datetime.fromisoformat(t["due_at"]) for t in item["sla"]]


def _who(escalation) -> dict[str, int]:
    return {r["as"]: r["user_id"] for r in escalation.recipients}


async def test_complaint_breaches_after_two_hours(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    complaint = await _create(client, headers, kind="complaint", owner_id=org.owner.id)
    feedback = await _create(client, headers, kind="feedback", owner_id=org.owner.id)
    t0 = datetime.fromisoformat(T0)
    # First response in 2 h; resolution in 3 working days (Tuesday 10:00 → Friday 10:00).
    assert _due(complaint) == [t0 + timedelta(hours=2), t0 + timedelta(days=3)]
    assert complaint["department_id"] == org.department.id  # the owner's, by default

    await world.sweep("2025-03-04T11:59:00+08:00")
    escalations = await world.escalations(complaint["id"])
    assert [e.kind for e in escalations] == [EscalationKind.warning]
    assert escalations[0].scheduled_at == t0 + timedelta(hours=1, minutes=36)  # at -20 %
    assert _who(escalations[0]) == {"assignee": org.owner.id}

    await world.sweep("2025-03-04T12:00:01+08:00")
    escalations = await world.escalations(complaint["id"])
    assert [e.kind for e in escalations] == [EscalationKind.warning, EscalationKind.breach]
    assert _who(escalations[1]) == {
        "assignee": org.owner.id,
        "assignee_manager": org.manager.id,
        "department_head": org.head.id,
    }
    # The feedback received at the same moment is nowhere near its 24 h target.
    assert await world.escalations(feedback["id"]) == []

    await world.sweep("2025-03-05T09:59:59+08:00")
    assert EscalationKind.breach not in [e.kind for e in await world.escalations(feedback["id"])]
    await world.sweep("2025-03-05T10:00:01+08:00")
    assert [e.kind for e in await world.escalations(feedback["id"])] == [
        EscalationKind.warning,
        EscalationKind.breach,
    ]


async def test_complaint_escalates_to_director_two_hours_after_breach(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    complaint = await _create(client, headers, kind="complaint", owner_id=org.owner.id)
    await world.sweep("2025-03-04T13:59:59+08:00")
    assert EscalationKind.escalation not in [e.kind for e in await world.escalations(complaint["id"])]
    await world.sweep("2025-03-04T14:00:00+08:00")
    last = (await world.escalations(complaint["id"]))[-1]
    assert last.kind == EscalationKind.escalation
    assert _who(last) == {"director": org.director.id}


async def test_first_response_meets_the_timer_and_later_answers_do_not_move_it(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    complaint = await _create(client, headers, kind="complaint", owner_id=org.owner.id)

    world.at("2025-03-04T11:00:00+08:00")
    r = await client.post(
        f"/api/v1/feedback/{complaint['id']}/responses", headers=headers, json={"message": "已联系财务加急处理"}
    )
    assert r.status_code == 200, r.text
    answered = r.json()
    assert answered["status"] == "responded"
    assert answered["first_response"] == "已联系财务加急处理"
    first_at = answered["first_response_at"]
    assert datetime.fromisoformat(first_at) == datetime.fromisoformat("2025-03-04T11:00:00+08:00")
    assert answered["recorded_as"] == "first_response" and answered["comment_id"] is None
    # The first response is met; the resolution clock runs on until the complaint is resolved.
    assert [(t["state"], t["breached"]) for t in answered["sla"]] == [("met", False), ("running", False)]
    assert [t.state for t in await world.timers(complaint["id"])] == [TimerState.met, TimerState.running]

    await world.sweep("2025-03-05T12:00:00+08:00")
    assert await world.escalations(complaint["id"]) == []  # met before even the warning

    world.at("2025-03-05T12:30:00+08:00")
    r = await client.post(
        f"/api/v1/feedback/{complaint['id']}/responses", headers=headers, json={"message": "退款已到账，请查收"}
    )
    assert r.status_code == 200
    assert r.json()["first_response_at"] == first_at
    assert r.json()["first_response"] == "已联系财务加急处理"
    async with unit_of_work(sessions) as s:
        comments = list(await s.scalars(select(Comment).where(Comment.subject_type == "feedback")))
    assert [(c.subject_id, c.body) for c in comments] == [(complaint["id"], "退款已到账，请查收")]
    # The answer says how the second reply was kept: as that trail comment, not as a response.
    assert r.json()["recorded_as"] == "comment" and r.json()["comment_id"] == comments[0].id
    trail = await client.get(f"/api/v1/trail/feedback/{complaint['id']}", headers=headers)
    assert "退款已到账，请查收" in trail.text


async def test_response_after_the_warning_sends_no_breach(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    complaint = await _create(client, headers, kind="complaint", owner_id=org.owner.id)
    await world.sweep("2025-03-04T11:40:00+08:00")  # the warning fires
    world.at("2025-03-04T11:50:00+08:00")
    r = await client.post(f"/api/v1/feedback/{complaint['id']}/responses", headers=headers, json={"message": "在处理"})
    assert r.status_code == 200
    await world.sweep("2025-03-04T18:00:00+08:00")
    kinds = [e.kind for e in await world.escalations(complaint["id"])]
    assert EscalationKind.breach not in kinds and EscalationKind.escalation not in kinds


async def test_complaint_target_is_configurable_through_the_sla_policy_api(client, sessions, org, world):
    policy = await world.policy("complaint", "PT2H")
    r = await client.patch(
        f"/api/v1/sla/policies/{policy.id}",
        headers=await auth(sessions, role=Role.director),
        json={"target_value": "PT1H"},
    )
    assert r.status_code == 200, r.text

    complaint = await _create(client, await auth(sessions, role=Role.director), kind="complaint")
    assert _due(complaint)[0] == datetime.fromisoformat(T0) + timedelta(hours=1)


async def test_reassignment_sends_the_breach_to_the_new_owner(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    complaint = await _create(client, headers, kind="complaint")
    r = await client.patch(f"/api/v1/feedback/{complaint['id']}", headers=headers, json={"owner_id": org.owner.id})
    assert r.status_code == 200, r.text
    await world.sweep("2025-03-04T12:00:01+08:00")
    breach = [e for e in await world.escalations(complaint["id"]) if e.kind == EscalationKind.breach]
    assert _who(breach[0])["assignee"] == org.owner.id


async def test_turning_feedback_into_a_complaint_rematches_the_policies(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    created = await _create(client, headers, kind="feedback", severity="low", owner_id=org.owner.id)
    assert [t["target"]["value"] for t in created["sla"]] == ["PT24H"]

    # Severity changes re-match too: an urgent-only policy starts a timer once the item is urgent.
    r = await client.post(
        "/api/v1/sla/policies",
        headers=await auth(sessions, role=Role.director),
        json={
            "name": "紧急客户反馈 1 小时",
            "subject_type": "feedback",
            "conditions": {"priorities": ["urgent"]},
            "target_kind": "calendar",
            "target_value": "PT1H",
            "start_statuses": ["new"],
            "stop_statuses": ["responded", "resolved", "closed"],
        },
    )
    assert r.status_code == 201, r.text
    world.at("2025-03-04T10:30:00+08:00")
    r = await client.patch(f"/api/v1/feedback/{created['id']}", headers=headers, json={"severity": "urgent"})
    assert r.status_code == 200, r.text
    assert sorted(t["target"]["value"] for t in r.json()["sla"]) == ["PT1H", "PT24H"]


async def test_resolving_records_resolved_at_and_stops_the_clock(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    created = await _create(client, headers, kind="complaint", owner_id=org.owner.id)
    world.at("2025-03-04T10:45:00+08:00")
    r = await client.patch(f"/api/v1/feedback/{created['id']}", headers=headers, json={"status": "resolved"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "resolved"
    assert datetime.fromisoformat(body["resolved_at"]) == datetime.fromisoformat("2025-03-04T10:45:00+08:00")
    assert [t["state"] for t in body["sla"]] == ["met", "met"]  # first response and resolution
    async with unit_of_work(sessions) as s:
        actions = list(
            await s.scalars(select(AuditLog.action).where(AuditLog.entity_type == "feedback").order_by(AuditLog.id))
        )
    assert actions == ["create", "update"]
    assert await _count_rows(sessions) == 1


async def _count_rows(sessions) -> int:
    async with unit_of_work(sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(Feedback)) or 0)


async def test_a_high_or_urgent_complaint_is_answered_within_one_hour(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    t0 = datetime.fromisoformat(T0)
    for severity in ("high", "urgent"):
        severe = await _create(client, headers, kind="complaint", severity=severity, owner_id=org.owner.id)
        assert _due(severe) == [t0 + timedelta(hours=1), t0 + timedelta(days=3)]
    routine = await _create(client, headers, kind="complaint", severity="low", owner_id=org.owner.id)
    assert _due(routine)[0] == t0 + timedelta(hours=2)

    await world.sweep("2025-03-04T11:00:01+08:00")
    assert EscalationKind.breach in [e.kind for e in await world.escalations(severe["id"])]
    assert EscalationKind.breach not in [e.kind for e in await world.escalations(routine["id"])]

    # Re-graded to high, the routine complaint's 2 h clock gives way to the 1 h one.
    r = await client.patch(f"/api/v1/feedback/{routine['id']}", headers=headers, json={"severity": "high"})
    assert r.status_code == 200, r.text
    # (the 2 h timer is cancelled, no longer shown; the 1 h clock starts at the re-grading)
    assert sorted(t["target"]["value"] for t in r.json()["sla"]) == ["3", "PT1H"]


async def test_a_complaint_must_be_resolved_within_three_working_days(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    complaint = await _create(client, headers, kind="complaint", owner_id=org.owner.id)
    world.at("2025-03-04T10:30:00+08:00")
    r = await client.post(f"/api/v1/feedback/{complaint['id']}/responses", headers=headers, json={"message": "收到"})
    assert r.status_code == 200, r.text

    # Answered in time, but never resolved: the resolution clock breaches on Friday 10:00.
    await world.sweep("2025-03-07T09:59:00+08:00")
    assert EscalationKind.breach not in [e.kind for e in await world.escalations(complaint["id"])]
    await world.sweep("2025-03-07T10:00:01+08:00")
    (breach,) = [e for e in await world.escalations(complaint["id"]) if e.kind == EscalationKind.breach]
    assert _who(breach)["assignee"] == org.owner.id
    r = await client.get("/api/v1/feedback", headers=headers, params={"overdue": "true"})
    assert [i["id"] for i in r.json()["items"]] == [complaint["id"]]

    world.at("2025-03-07T11:00:00+08:00")
    r = await client.patch(f"/api/v1/feedback/{complaint['id']}", headers=headers, json={"status": "resolved"})
    assert [t["state"] for t in r.json()["sla"]] == ["met", "met"]
    assert [t["breached"] for t in r.json()["sla"]] == [False, True]
