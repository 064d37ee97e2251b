"""Subscriptions: a work-arrival kind switched off for a channel or for a department sends nothing
there; the most specific switch wins; the API validates and audits them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AuditLog
from shared.notify.work import WorkEvent
from tests.approvals.conftest import Org
from tests.arrival.conftest import Bots, deliver, rows

BASE = "/api/v1/notification-subscriptions"


async def switch(client, org: Org, expect: int = 200, by=None, **body: Any) -> dict[str, Any]:
    r = await client.post(BASE, headers=org.headers(by or org.marketing_director), json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def complain(client, org: Org, content: str = "包装破损") -> None:
    r = await client.post(
        "/api/v1/feedback",
        headers=org.headers(org.planner),
        json={
            "kind": "complaint",
            "channel": "wechat",
            "content": content,
            "department_id": org.marketing.id,
            "owner_id": org.planner.id,
        },
    )
    assert r.status_code == 201, r.text


async def reached(sessions, bots: Bots) -> list[str]:
    names = {bots.market.id: "market", bots.hook.id: "hook"}
    return sorted(
        names[r.channel_id] for r in await rows(sessions, WorkEvent.complaint_received) if r.channel_id in names
    )


async def test_switched_off_for_a_channel_nothing_reaches_it(client, sessions, settings, arq_redis, botsim, org, bots):
    await switch(client, org, event="work.complaint_received", channel_id=bots.market.id, enabled=False)
    await complain(client, org)
    assert await reached(sessions, bots) == ["hook"]
    await deliver(settings, sessions, arq_redis, bots)
    assert botsim.messages("market") == []
    assert [m["body"]["type"] for m in botsim.messages("hook")] == ["work.complaint_received"]


async def test_switched_off_for_a_department_nothing_reaches_any_of_its_groups_unless_a_narrower_switch_says_so(
    client, sessions, org, bots
):
    await switch(client, org, event="work.complaint_received", department_id=org.marketing.id, enabled=False)
    await complain(client, org, "包装破损")
    assert await reached(sessions, bots) == []
    # The webhook's messages for 市场部 back on: channel + department is narrower than the department.
    await switch(
        client,
        org,
        event="work.complaint_received",
        channel_id=bots.hook.id,
        department_id=org.marketing.id,
        enabled=True,
    )
    await complain(client, org, "发货太慢")
    assert await reached(sessions, bots) == ["hook"]
    # Another kind is untouched by the complaint switch.
    r = await client.post(
        "/api/v1/reviews",
        headers=org.headers(org.finance_director),
        json={"title": "预算复核", "reviewer_department_ids": [org.marketing.id]},
    )
    assert r.status_code == 201, r.text
    assert [
        r.channel_id for r in await rows(sessions, WorkEvent.review_requested) if r.channel_id == bots.market.id
    ] == [bots.market.id]


async def test_a_switch_is_set_once_per_scope_listed_audited_and_removed(client, sessions, org, bots):
    first = await switch(client, org, event="work.stage_advanced", channel_id=bots.market.id, enabled=False)
    again = await switch(client, org, event="work.stage_advanced", channel_id=bots.market.id, enabled=True)
    assert again["id"] == first["id"] and again["enabled"] is True
    await switch(client, org, event="work.stage_advanced", department_id=org.finance.id, enabled=False, by=org.cmo)
    r = await client.get(BASE, headers=org.headers(org.planner), params={"channel_id": bots.market.id})
    assert [(s["event"], s["enabled"]) for s in r.json()["items"]] == [("work.stage_advanced", True)]
    r = await client.get(BASE, headers=org.headers(org.planner), params={"event": "work.stage_advanced"})
    assert len(r.json()["items"]) == 2
    async with unit_of_work(sessions) as s:
        audited = await s.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.entity_type == "notification_subscription")
        )
    assert audited == 3  # created, changed, created
    r = await client.delete(f"{BASE}/{first['id']}", headers=org.headers(org.marketing_director))
    assert r.status_code == 204
    r = await client.get(BASE, headers=org.headers(org.planner), params={"channel_id": bots.market.id})
    assert r.json()["items"] == []

    r = await client.get("/api/v1/notification-events", headers=org.headers(org.planner))
    assert [(e["event"], e["default_enabled"]) for e in r.json()] == [(e.value, True) for e in WorkEvent]


async def test_bad_switches_are_422s_naming_the_field_and_members_cannot_set_them(client, sessions, org, bots):
    for body, field in (
        ({"event": "work.nope", "enabled": False}, "body.event"),
        ({"event": "sla.breach", "enabled": False}, "body.event"),
        ({"event": "work.stage_advanced", "channel_id": 999_999, "enabled": False}, "body.channel_id"),
        ({"event": "work.stage_advanced", "department_id": 999_999, "enabled": False}, "body.department_id"),
        ({"event": "work.stage_advanced"}, "body.enabled"),
        ({"event": "work.stage_advanced", "enabled": False, "kind": "x"}, "body.kind"),
    ):
        r = await client.post(BASE, headers=org.headers(org.marketing_director), json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == [field], body
    r = await client.post(
        BASE, headers=org.headers(org.planner), json={"event": "work.stage_advanced", "enabled": False}
    )
    assert r.status_code == 403
    r = await client.get(BASE, headers=org.headers(org.planner))
    assert r.json()["items"] == []


async def test_a_manager_switches_their_own_departments_messages_only(client, sessions, org, bots):
    # 市场部's head: their department (on any channel, the shared webhook too) and their own group.
    mine = await switch(client, org, event="work.review_requested", department_id=org.marketing.id, enabled=False)
    await switch(
        client,
        org,
        event="work.review_requested",
        department_id=org.marketing.id,
        channel_id=bots.hook.id,
        enabled=True,
    )
    await switch(client, org, event="work.review_requested", channel_id=bots.market.id, enabled=False)
    # Not: every department, finance, or the webhook 财务部 shares, for everyone's messages on it.
    for body, field in (
        ({}, "body.department_id"),
        ({"department_id": org.finance.id}, "body.department_id"),
        ({"channel_id": bots.hook.id}, "body.channel_id"),
    ):
        r = await client.post(
            BASE,
            headers=org.headers(org.marketing_director),
            json={"event": "work.review_requested", "enabled": False, **body},
        )
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == [field], body
    # A director set finance's switch: the marketing head may not remove it; their own, yes.
    theirs = await switch(
        client, org, event="work.review_requested", department_id=org.finance.id, enabled=False, by=org.cmo
    )
    r = await client.delete(f"{BASE}/{theirs['id']}", headers=org.headers(org.marketing_director))
    assert r.status_code == 403, r.text
    r = await client.delete(f"{BASE}/{mine['id']}", headers=org.headers(org.marketing_director))
    assert r.status_code == 204, r.text
    r = await client.get(BASE, headers=org.headers(org.planner), params={"event": "work.review_requested"})
    assert {(s["channel_id"], s["department_id"]) for s in r.json()["items"]} == {
        (bots.hook.id, org.marketing.id),
        (bots.market.id, None),
        (None, org.finance.id),
    }
