"""The customer's name and contact: raw for those who handle the item, masked for everyone else,
never raw in chat or in the audit log; settled feedback past its retention is anonymised."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from shared.actor import Actor
from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.feedback.privacy import purge
from shared.models import AuditLog, ChannelKind, Feedback, Role
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.redact import mask_contact, mask_name, scrub_contacts
from tests.factories import make_channel, make_department, make_token, make_user
from tests.notify.helpers import make_dispatcher

CUSTOMER = {"customer_name": "张三丰", "customer_contact": "13812345678"}
CONTENT = "退款没到账，请回电 13987654321 或发邮件 zhang.sf@example.com"


async def _create(client, headers, **body) -> dict:
    r = await client.post(
        "/api/v1/feedback",
        headers=headers,
        json={"channel": "phone", "kind": "complaint", "content": CONTENT, **CUSTOMER, **body},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_one_masking_helper_for_names_phones_emails_and_free_text():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_contact("13812345678") == "138****5678"
    assert mask_contact("alice@example.com") == "a***@example.com"
    assert mask_contact("wx_zhangsan") == "w***"
    assert scrub_contacts(CONTENT) == "退款没到账，请回电 139****4321 或发邮件 z***@example.com"


async def test_customer_data_is_raw_for_its_handlers_and_masked_for_everyone_else(client, sessions, org):
    other = await make_department(sessions, name="设计部")
    readers = {
        "owner": org.owner,
        "colleague": await make_user(sessions, department_id=org.department.id),
        "viewer_in_department": await make_user(sessions, department_id=org.department.id, role=Role.viewer),
        "manager_elsewhere": await make_user(sessions, department_id=other.id, role=Role.manager),
        "member_elsewhere": await make_user(sessions, department_id=other.id),
        "no_department": await make_user(sessions),
    }
    headers = {}
    for name, user in readers.items():
        headers[name] = {"Authorization": f"Bearer {(await make_token(sessions, user=user))[1]}"}
    item = await _create(client, headers["owner"], owner_id=org.owner.id)
    # Company-wide feedback (no department, no owner): everyone reads it, only managers raw.
    shared = await _create(client, headers["owner"], department_id=None)
    assert shared["department_id"] is None and shared["owner_id"] is None

    def customer(one: dict) -> tuple[str, str]:
        return one["customer_name"], one["customer_contact"]

    seen, seen_shared = {}, {}
    for name, h in headers.items():
        r = await client.get(f"/api/v1/feedback/{item['id']}", headers=h)
        seen[name] = customer(r.json()) if r.status_code == 200 else r.status_code
        seen_shared[name] = customer((await client.get(f"/api/v1/feedback/{shared['id']}", headers=h)).json())
        listed = {i["id"]: customer(i) for i in (await client.get("/api/v1/feedback", headers=h)).json()["items"]}
        assert listed == {
            **({item["id"]: seen[name]} if r.status_code == 200 else {}),
            shared["id"]: seen_shared[name],
        }, name
    raw, masked = ("张三丰", "13812345678"), ("张**", "138****5678")
    # Another department's people do not see a department's feedback at all (404, not masked).
    assert seen == {
        "owner": raw,
        "colleague": raw,
        "viewer_in_department": raw,
        "manager_elsewhere": 404,
        "member_elsewhere": 404,
        "no_department": 404,
    }
    assert seen_shared == {
        "owner": masked,
        "colleague": masked,
        "viewer_in_department": masked,
        "manager_elsewhere": raw,
        "member_elsewhere": masked,
        "no_department": masked,
    }
    # A name read masked cannot be searched either; the content can.
    for name, want in (("colleague", [item["id"]]), ("member_elsewhere", []), ("manager_elsewhere", [shared["id"]])):
        r = await client.get("/api/v1/feedback", headers=headers[name], params={"q": "张三丰"})
        assert [i["id"] for i in r.json()["items"]] == want, name
    r = await client.get("/api/v1/feedback", headers=headers["member_elsewhere"], params={"q": "退款"})
    assert [i["id"] for i in r.json()["items"]] == [shared["id"]]


async def test_chat_messages_about_feedback_carry_no_raw_contact_data(
    settings, sessions, client, world, org, arq_redis, botsim
):
    botsim.add_bots({"service": {"kind": "feishu"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "service"), department_ids=[org.department.id]
    )
    headers = {"Authorization": f"Bearer {(await make_token(sessions, user=org.owner))[1]}"}
    await _create(client, headers, owner_id=org.owner.id)
    async with Sender() as http:
        for at in ("2025-03-04T11:40:00+08:00", "2025-03-04T12:00:01+08:00"):  # the warning, then the breach
            assert (await world.sweep(at)).fired == 1
            await drain(make_dispatcher(settings, sessions, arq_redis, http, SystemClock()), channel.id)
    bodies = [str(m["body"]) for m in botsim.messages("service")]
    assert len(bodies) == 3  # the complaint's arrival card at once, then the warning and the breach
    for body in bodies[1:]:
        assert "张**" in body and "139****4321" in body
    for body in bodies:
        for raw in ("张三丰", "13812345678", "13987654321", "zhang.sf@example.com"):
            assert raw not in body


async def test_the_audit_log_keeps_feedback_snapshots_masked(client, sessions, org):
    headers = {"Authorization": f"Bearer {(await make_token(sessions, user=org.owner))[1]}"}
    item = await _create(client, headers, owner_id=org.owner.id)
    r = await client.post(
        f"/api/v1/feedback/{item['id']}/responses", headers=headers, json={"message": "已回电 13812345678"}
    )
    assert r.status_code == 200
    async with unit_of_work(sessions) as s:
        rows = list(await s.scalars(select(AuditLog).where(AuditLog.entity_type == "feedback").order_by(AuditLog.id)))
    created, answered = rows[0].after, rows[1].after
    assert (created["customer_name"], created["customer_contact"]) == ("张**", "138****5678")
    assert created["content"] == "退款没到账，请回电 139****4321 或发邮件 z***@example.com"
    assert answered["first_response"] == "已回电 138****5678"
    assert "13812345678" not in str([r.before for r in rows] + [r.after for r in rows])


async def test_purge_anonymises_settled_feedback_past_retention_once(client, sessions, org, world):
    headers = {"Authorization": f"Bearer {(await make_token(sessions, user=org.owner))[1]}"}
    old_closed = await _create(client, headers, owner_id=org.owner.id)
    old_open = await _create(client, headers, owner_id=org.owner.id)
    for item in (old_closed,):
        r = await client.patch(f"/api/v1/feedback/{item['id']}", headers=headers, json={"status": "resolved"})
        assert r.status_code == 200
    world.at("2025-04-01T10:00:00+08:00")
    recent = await _create(client, headers, owner_id=org.owner.id)
    await client.patch(f"/api/v1/feedback/{recent['id']}", headers=headers, json={"status": "closed"})

    system = Actor.system("privacy-purge")
    now = datetime.fromisoformat("2025-04-10T10:00:00+08:00")  # resolved 37 days ago, closed 9 days ago
    async with unit_of_work(sessions) as s:
        dry = await purge(s, actor=system, now=now, retention_days=30, dry_run=True)
    assert [(d.feedback_id, d.cleared) for d in dry] == [
        (old_closed["id"], ("customer_name", "customer_contact", "content"))
    ]
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Feedback, old_closed["id"])).customer_name == "张三丰"  # a dry run writes nothing

    async with unit_of_work(sessions) as s:
        done = await purge(s, actor=system, now=now, retention_days=30)
    assert [d.feedback_id for d in done] == [old_closed["id"]]
    async with unit_of_work(sessions) as s:
        rows = {f.id: f for f in await s.scalars(select(Feedback))}
        audits = list(await s.scalars(select(AuditLog).where(AuditLog.action == "anonymise")))
    gone = rows[old_closed["id"]]
    assert (gone.customer_name, gone.customer_contact, gone.anonymised_at) == (None, None, now)
    assert gone.content == "退款没到账，请回电 139****4321 或发邮件 z***@example.com"
    assert rows[old_open["id"]].customer_name == "张三丰" and rows[recent["id"]].customer_name == "张三丰"
    assert [(a.entity_id, a.actor, sorted(a.after)) for a in audits] == [
        (old_closed["id"], "system:privacy-purge", ["anonymised_at", "customer_contact", "customer_name"])
    ]

    async with unit_of_work(sessions) as s:  # idempotent: nothing left to do
        assert await purge(s, actor=system, now=now + timedelta(days=1), retention_days=30) == []
    r = await client.get(f"/api/v1/feedback/{old_closed['id']}", headers=headers)
    assert r.json()["anonymised_at"] is not None and r.json()["customer_contact"] is None
