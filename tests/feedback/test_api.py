"""The feedback API: validation names the field and writes nothing; lists filter and paginate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AuditLog, Feedback, Role, SlaTimer
from tests.factories import auth

from .conftest import T0


async def _counts(sessions) -> tuple[int, int, int]:
    async with unit_of_work(sessions) as s:
        return (
            int(await s.scalar(select(func.count()).select_from(Feedback)) or 0),
            int(await s.scalar(select(func.count()).select_from(SlaTimer)) or 0),
            int(await s.scalar(select(func.count()).where(AuditLog.entity_type == "feedback")) or 0),
        )


def _fields(r) -> list[str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return [e["field"] for e in r.json()["errors"]]


async def test_unknown_kind_is_refused_naming_the_field(client, sessions, org, world):
    headers = await auth(sessions, role=Role.member)
    r = await client.post(
        "/api/v1/feedback", headers=headers, json={"kind": "praise", "channel": "wechat", "content": "很好"}
    )
    assert r.status_code == 422
    assert _fields(r) == ["body.kind"]
    assert await _counts(sessions) == (0, 0, 0)


async def test_nonexistent_owner_is_refused_naming_the_field(client, sessions, org, world):
    headers = await auth(sessions, role=Role.member)
    r = await client.post(
        "/api/v1/feedback",
        headers=headers,
        json={"kind": "complaint", "channel": "wechat", "content": "包装破损", "owner_id": 999_999},
    )
    assert r.status_code == 422
    assert _fields(r) == ["body.owner_id"]
    assert await _counts(sessions) == (0, 0, 0)


async def test_received_at_in_the_future_or_naive_is_refused(client, sessions, org, world):
    headers = await auth(sessions, role=Role.member)
    body = {"kind": "feedback", "channel": "email", "content": "建议增加门店"}
    r = await client.post(
        "/api/v1/feedback", headers=headers, json={**body, "received_at": "2025-03-04T10:00:01+08:00"}
    )
    assert r.status_code == 422 and _fields(r) == ["body.received_at"]
    r = await client.post("/api/v1/feedback", headers=headers, json={**body, "received_at": "2025-03-04T09:00:00"})
    assert r.status_code == 422 and _fields(r) == ["body.received_at"]
    r = await client.post("/api/v1/feedback", headers=headers, json={**body, "channel": "x" * 33, "content": ""})
    assert r.status_code == 422 and sorted(_fields(r)) == ["body.channel", "body.content"]
    assert await _counts(sessions) == (0, 0, 0)

    r = await client.post(
        "/api/v1/feedback", headers=headers, json={**body, "received_at": "2025-03-04T08:00:00+08:00"}
    )
    assert r.status_code == 201
    created = r.json()
    assert created["source"] == "api" and created["status"] == "new" and created["severity"] == "normal"
    # received_at is kept for reporting; the clock starts when the item is recorded
    assert datetime.fromisoformat(created["received_at"]) == datetime.fromisoformat("2025-03-04T08:00:00+08:00")
    assert datetime.fromisoformat(created["sla"][0]["started_at"]) == datetime.fromisoformat(T0)


async def test_viewers_read_but_cannot_write(client, sessions, org, world):
    viewer = await auth(sessions, role=Role.viewer)
    r = await client.post(
        "/api/v1/feedback", headers=viewer, json={"kind": "feedback", "channel": "web", "content": "x"}
    )
    assert r.status_code == 403
    assert (await client.get("/api/v1/feedback", headers=viewer)).status_code == 200
    assert (await client.get("/api/v1/feedback")).status_code == 401
    assert (await client.get("/api/v1/feedback/1", headers=viewer)).status_code == 404


async def test_patch_refuses_new_status_and_unknown_owner(client, sessions, org, world):
    headers = await auth(sessions, role=Role.member)
    r = await client.post(
        "/api/v1/feedback", headers=headers, json={"kind": "complaint", "channel": "store", "content": "排队太久"}
    )
    fid = r.json()["id"]
    before = await _counts(sessions)
    r = await client.patch(f"/api/v1/feedback/{fid}", headers=headers, json={"status": "new"})
    assert r.status_code == 422 and _fields(r) == ["body.status"]
    r = await client.patch(f"/api/v1/feedback/{fid}", headers=headers, json={"owner_id": 999_999})
    assert r.status_code == 422 and _fields(r) == ["body.owner_id"]
    r = await client.patch(f"/api/v1/feedback/{fid}", headers=headers, json={"severity": None})
    assert r.status_code == 422 and _fields(r) == ["body.severity"]
    assert await _counts(sessions) == before
    r = await client.post(f"/api/v1/feedback/{fid}/responses", headers=headers, json={"message": ""})
    assert r.status_code == 422 and _fields(r) == ["body.message"]
    r = await client.post("/api/v1/feedback/999999/responses", headers=headers, json={"message": "hi"})
    assert r.status_code == 404


async def test_list_filters_and_paginates(client, sessions, org, world):
    headers = await auth(sessions, role=Role.director)
    ids = []
    for kind, severity, owner in (
        ("complaint", "high", org.owner.id),
        ("feedback", "normal", None),
        ("complaint", "urgent", None),
    ):
        r = await client.post(
            "/api/v1/feedback",
            headers=headers,
            json={"kind": kind, "severity": severity, "channel": "weibo", "content": "…", "owner_id": owner},
        )
        ids.append(r.json()["id"])
    await client.post(f"/api/v1/feedback/{ids[2]}/responses", headers=headers, json={"message": "收到"})

    async def listed(**params) -> list[int]:
        r = await client.get("/api/v1/feedback", headers=headers, params=params)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert await listed(kind="complaint") == [ids[0], ids[2]]
    assert await listed(status="new") == ids[:2]
    assert await listed(severity="urgent") == [ids[2]]
    assert await listed(owner_id=org.owner.id) == [ids[0]]
    assert await listed(department_id=org.department.id) == [ids[0]]
    assert await listed(overdue="true") == []

    world.at("2025-03-04T12:30:00+08:00")  # the open complaint is past its 2 h
    assert await listed(overdue="true") == [ids[0]]
    assert await listed(overdue="false") == ids[1:]

    r = await client.get("/api/v1/feedback", headers=headers, params={"limit": 2})
    page = r.json()
    assert [i["id"] for i in page["items"]] == ids[:2] and page["next_cursor"]
    r = await client.get("/api/v1/feedback", headers=headers, params={"limit": 2, "cursor": page["next_cursor"]})
    assert [i["id"] for i in r.json()["items"]] == ids[2:] and r.json()["next_cursor"] is None

    r = await client.get(f"/api/v1/feedback/{ids[0]}", headers=headers)
    assert r.status_code == 200
    assert r.json()["sla"][0]["breached"] is True
