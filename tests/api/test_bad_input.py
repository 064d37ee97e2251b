"""Hostile or absurd input across the workflow APIs gets a 4xx naming the problem, never a 500 or
a 503, and writes nothing."""

from __future__ import annotations

import base64

from pydantic import SecretStr
from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import ApprovalRule, CollaborationRequest, ReviewRequest, Role
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import auth, make_department, make_user


async def count(sessions, model) -> int:
    async with unit_of_work(sessions) as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_absurd_durations_ids_and_numbers_are_refused_cleanly(sessions, client):
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    dept = await make_department(sessions, name="销售部")
    owner = await make_user(sessions, department_id=dept.id)
    member = await auth(sessions, role=Role.member)
    manager = await auth(sessions, role=Role.manager)
    before = {m: await count(sessions, m) for m in (ReviewRequest, CollaborationRequest, ApprovalRule)}

    for value in ("P99999999999D", "P9999999W", "PT400D"):
        r = await client.post(
            "/api/v1/reviews",
            headers=member,
            json={
                "title": "评审",
                "reviewer_department_ids": [dept.id],
                "response_target": {"kind": "calendar", "value": value},
            },
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.response_target.value", r.text
    r = await client.post(
        "/api/v1/collaboration-requests",
        headers=member,
        json={
            "matter": "线索移交",
            "collaborating_department_ids": [dept.id],
            "owner_id": owner.id,
            "deadline": {"kind": "working_hours", "value": "PT99999H"},
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.deadline.value", r.text
    r = await client.post("/api/v1/reviews", headers=member, json={"title": "评审", "reviewer_department_ids": [2**70]})
    assert r.status_code == 422, r.text
    r = await client.get(f"/api/v1/reviews/{2**63}", headers=member)
    assert r.status_code in (404, 422), r.text
    r = await client.post(
        "/api/v1/approval-rules",
        headers={**manager, "content-type": "application/json"},
        content=b'{"name": "x", "kind": "campaign", "conditions": {"budget_over": 1e999},'
        b' "steps": [{"name": "s", "mode": "one", "approvers": ["department_head"]}]}',
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.conditions.budget_over", r.text
    assert {m: await count(sessions, m) for m in before} == before


async def test_an_absurd_inbound_timestamp_is_unauthorized_not_a_crash(settings, client, clock):
    import httpx

    from services.api.app import create_app

    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    app = create_app(settings.model_copy(update={"inbound_webhook_secret": SecretStr(secret)}), clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c,
    ):
        r = await c.post(
            "/api/v1/inbound/feedback",
            headers={"webhook-id": "msg_1", "webhook-timestamp": "9" * 400, "webhook-signature": "v1,xx"},
            json={"kind": "complaint", "channel": "web", "content": "x"},
        )
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


async def test_instants_outside_any_working_calendar_are_refused(sessions, client, clock):
    """Year 0001 is stored by PostgreSQL as -infinity and year 9999 overflows date arithmetic; the
    working calendars cover 2000–2099."""
    member = await auth(sessions, role=Role.member)
    for due in ("0001-01-01T00:00:00Z", "9999-12-30T00:00:00Z", "0072-01-22T09:48:29-09:22", "2100-01-01T00:00:00Z"):
        r = await client.post("/api/v1/tasks", headers=member, json={"title": "t", "due_at": due})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.due_at", (due, r.text)
    for start in ("0001-01-01T00:00:00Z", "9999-12-31T00:00:00+14:00"):
        r = await client.get(
            "/api/v1/calendars/1/deadline",
            headers=member,
            params={"start": start, "kind": "working_days", "value": "1"},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.start", (start, r.text)
    r = await client.post(
        "/api/v1/feedback",
        headers=member,
        json={"kind": "feedback", "channel": "web", "content": "x", "received_at": "0001-01-01T00:00:00Z"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.received_at"
    assert (await client.get("/api/v1/tasks", headers=member)).json()["items"] == []


async def test_a_bad_decision_reads_the_same_on_approvals_and_reviews(sessions, client):
    member = await auth(sessions, role=Role.member)
    approval = await client.post("/api/v1/approvals/1/decision", headers=member, json={"decision": "maybe"})
    review = await client.post("/api/v1/reviews/1/responses/1", headers=member, json={"decision": "maybe"})
    assert approval.status_code == review.status_code == 422
    (a,), (r,) = approval.json()["errors"], review.json()["errors"]
    assert a == {"field": "body.decision", "message": "must be one of: approve, reject", "type": "enum"}
    assert r == {
        "field": "body.decision",
        "message": "must be one of: approve, request_changes, reject",
        "type": "enum",
    }
