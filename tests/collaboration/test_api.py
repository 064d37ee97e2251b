"""The collaboration-requests API: one-off plan review, validation, who may answer, close and reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AuditLog, CollaborationOccurrence, CollaborationRequest, Role, SlaTimer, User
from tests.collaboration.conftest import Desk, Org
from tests.factories import make_token

BASE = "/api/v1/collaboration-requests"


async def headers(sessions, user: User) -> dict[str, str]:
    _, token = await make_token(sessions, user=user)
    return {"Authorization": f"Bearer {token}"}


def plan_review(org: Org, **overrides) -> dict:
    return {
        "matter": "双十一活动方案评审",
        "content": "请销售与产品在 24 小时内反馈",
        "collaborating_department_ids": [org.sales.id, org.product.id],
        "owner_id": org.owner.id,
        "deadline": {"kind": "calendar", "value": "PT24H"},
        **overrides,
    }


async def counts(sessions) -> tuple[int | None, ...]:
    async with unit_of_work(sessions) as s:
        return (
            await s.scalar(select(func.count()).select_from(CollaborationRequest)),
            await s.scalar(select(func.count()).select_from(CollaborationOccurrence)),
            await s.scalar(select(func.count()).select_from(SlaTimer)),
            await s.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.entity_type == "collaboration_request")
            ),
        )


async def test_one_off_plan_review_is_due_in_24_hours_and_delivering_it_closes_the_request(
    client, sessions, desk: Desk, org: Org
) -> None:
    desk.at("2025-09-16T10:00:00+08:00")
    marketer = await headers(sessions, org.marketer)
    r = await client.post(BASE, json=plan_review(org), headers=marketer)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["recurring"] is False and body["next_occurrence_at"] is None
    assert body["initiating_department_id"] == org.marketing.id  # the caller's department
    assert body["collaborating_department_ids"] == [org.sales.id, org.product.id]
    (occurrence,) = body["occurrences"]
    assert datetime.fromisoformat(occurrence["due_at"]) == datetime.fromisoformat("2025-09-17T10:00:00+08:00")
    (timer,) = occurrence["sla"]
    assert timer["state"] == "running"
    assert datetime.fromisoformat(timer["due_at"]) == datetime.fromisoformat("2025-09-17T10:00:00+08:00")

    desk.at("2025-09-17T09:00:00+08:00")
    done = await client.post(
        f"{BASE}/{body['id']}/occurrences/{occurrence['id']}/done",
        json={"note": "已反馈"},
        headers=await headers(sessions, org.owner),
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "closed"
    (occurrence,) = done.json()["occurrences"]
    assert occurrence["status"] == "done" and occurrence["done_by"] == org.owner.id and occurrence["note"] == "已反馈"
    assert occurrence["sla"][0]["state"] == "met" and occurrence["sla"][0]["breached"] is False

    async with unit_of_work(sessions) as s:
        actions = list(
            await s.scalars(
                select(AuditLog.action).where(AuditLog.entity_type == "collaboration_request").order_by(AuditLog.id)
            )
        )
    assert actions == ["collaboration.create", "collaboration.done"]


async def test_invalid_requests_name_the_field_and_write_nothing(client, sessions, desk: Desk, org: Org) -> None:
    marketer = await headers(sessions, org.marketer)
    before = await counts(sessions)
    cases = [
        (plan_review(org, collaborating_department_ids=[]), "body.collaborating_department_ids"),
        (
            plan_review(org, collaborating_department_ids=[org.sales.id, org.sales.id]),
            "body.collaborating_department_ids",
        ),
        (plan_review(org, collaborating_department_ids=[999_999]), "body.collaborating_department_ids"),
        (plan_review(org, deadline={"kind": "calendar", "value": "tomorrow"}), "body.deadline.value"),
        (plan_review(org, deadline={"kind": "daily_at", "value": "25:00"}), "body.deadline.value"),
        (plan_review(org, deadline={"kind": "fortnightly", "value": "1"}), "body.deadline.kind"),
        (plan_review(org, owner_id=999_999), "body.owner_id"),
    ]
    for payload, field in cases:
        r = await client.post(BASE, json=payload, headers=marketer)
        assert r.status_code == 422, (payload, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], r.text
    assert await counts(sessions) == before


async def test_only_parties_may_answer_and_only_once(client, sessions, desk: Desk, org: Org) -> None:
    desk.at("2025-09-16T10:00:00+08:00")
    r = await client.post(BASE, json=plan_review(org), headers=await headers(sessions, org.marketer))
    request = r.json()
    done_url = f"{BASE}/{request['id']}/occurrences/{request['occurrences'][0]['id']}/done"
    before = await counts(sessions)

    r = await client.post(done_url, json={}, headers=await headers(sessions, org.outsider))
    assert r.status_code == 404, r.text  # not a party: not even seen
    assert await counts(sessions) == before

    r = await client.post(done_url, json={}, headers=await headers(sessions, org.sales_colleague))
    assert r.status_code == 200, r.text
    r = await client.post(done_url, json={}, headers=await headers(sessions, org.owner))
    assert r.status_code == 409, r.text


async def test_close_stops_a_recurring_request_and_reads_show_it(client, sessions, desk: Desk, org: Org) -> None:
    desk.at("2025-09-16T10:00:00+08:00")
    marketer = await headers(sessions, org.marketer)
    r = await client.post(
        BASE,
        json=plan_review(
            org,
            matter="线索数据交接",
            collaborating_department_ids=[org.sales.id],
            deadline={"kind": "daily_at", "value": "17:00"},
        ),
        headers=marketer,
    )
    assert r.status_code == 201, r.text
    request = r.json()
    assert request["recurring"] is True
    assert datetime.fromisoformat(request["next_occurrence_at"]) == datetime.fromisoformat("2025-09-17T09:00+08:00")

    assert await desk.open_due("2025-09-17T09:30:00+08:00") == 1
    r = await client.get(f"{BASE}/{request['id']}", headers=marketer)
    assert [o["occurrence_date"] for o in r.json()["occurrences"]] == ["2025-09-17", "2025-09-16"]

    r = await client.get(BASE, params={"collaborating_department_id": org.sales.id, "overdue": True}, headers=marketer)
    assert [i["id"] for i in r.json()["items"]] == [request["id"]]  # Tuesday's 17:00 has passed
    r = await client.get(BASE, params={"collaborating_department_id": org.product.id}, headers=marketer)
    assert r.json()["items"] == []

    r = await client.post(f"{BASE}/{request['id']}/close", headers=await headers(sessions, org.outsider))
    assert r.status_code == 404
    r = await client.post(f"{BASE}/{request['id']}/close", headers=marketer)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed" and r.json()["next_occurrence_at"] is None
    assert {o["status"] for o in r.json()["occurrences"]} == {"cancelled"}
    assert (await client.post(f"{BASE}/{request['id']}/close", headers=marketer)).status_code == 409

    assert await desk.open_due("2025-09-19T18:00:00+08:00") == 0
    r = await client.get(f"{BASE}/{request['id']}/occurrences", headers=marketer)
    assert len(r.json()["items"]) == 2


async def test_new_owner_is_who_the_open_occurrence_escalates_to(client, sessions, desk: Desk, org: Org) -> None:
    desk.at("2025-09-16T10:00:00+08:00")
    marketer = await headers(sessions, org.marketer)
    r = await client.post(BASE, json=plan_review(org), headers=marketer)
    request = r.json()
    r = await client.patch(f"{BASE}/{request['id']}", json={"owner_id": org.sales_colleague.id}, headers=marketer)
    assert r.status_code == 200, r.text
    assert r.json()["owner_id"] == org.sales_colleague.id
    assert r.json()["occurrences"][0]["sla"][0]["state"] == "running"
    r = await client.patch(f"{BASE}/{request['id']}", json={"owner_id": None}, headers=marketer)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.owner_id"

    await desk.sweep("2025-09-17T10:00:01+08:00")
    occurrence = (await desk.occurrences(await desk.request(request["id"])))[0]
    (breach,) = [e for e in await desk.escalations(occurrence) if e.kind == "breach"]
    assert ("assignee", org.sales_colleague.id) in {(x["as"], x["user_id"]) for x in breach.recipients}


async def test_viewers_cannot_create(client, sessions, org: Org) -> None:
    _, token = await make_token(sessions, role=Role.viewer)
    r = await client.post(BASE, json=plan_review(org), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


async def test_cancelling_a_request_cancels_its_open_occurrence_and_timer(
    client, sessions, desk: Desk, org: Org
) -> None:
    desk.at("2025-09-16T10:00:00+08:00")
    marketer = await headers(sessions, org.marketer)
    request = (await client.post(BASE, json=plan_review(org), headers=marketer)).json()
    r = await client.post(f"{BASE}/{request['id']}/cancel", headers=marketer)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    (occurrence,) = r.json()["occurrences"]
    assert occurrence["status"] == "cancelled" and occurrence["sla"] == []  # cancelled timers are not shown
    async with unit_of_work(sessions) as s:
        assert list(await s.scalars(select(SlaTimer.state))) == ["cancelled"]
    done_url = f"{BASE}/{request['id']}/occurrences/{occurrence['id']}/done"
    assert (await client.post(done_url, json={}, headers=await headers(sessions, org.owner))).status_code == 409
