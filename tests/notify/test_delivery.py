"""Delivery to botsim over real HTTP: signing, body-code checking, retries, dead letters, leases."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.notifier.main import drain, sweep_outbox
from services.worker.main import sweep_once
from shared.crypto import encrypt_secret, new_key
from shared.db import unit_of_work
from shared.models import Channel, ChannelKind, DeliveryAttempt, Notification, NotificationStatus
from shared.notify import delivery
from shared.pages.links import page_links
from shared.tasks.schemas import TaskCreate
from shared.tasks.service import create_task
from tests.factories import BREACH_ONLY, SYSTEM, auth, make_channel, make_department, make_policy, make_user
from tests.notify.helpers import expire_leases

OPEN_ID = "ou_7d8a6e6df7621556ce0d21922b676706"
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def ctx(ctx, settings):
    """The notifier's job context with the deployment's page links (where cards' buttons lead)."""
    return {**ctx, "pages": page_links(settings)}


async def overdue_notification(ctx, sessions, clock, **user) -> Notification:
    """An overdue task for a fresh assignee, swept into the outbox; returns its (single) notification."""
    dept = await make_department(sessions)
    owner = await make_user(sessions, department_id=dept.id, **user)
    await make_policy(sessions, levels=BREACH_ONLY)
    async with unit_of_work(sessions) as s:
        await create_task(
            s,
            actor=SYSTEM,
            now=clock.now(),
            data=TaskCreate(title="竞品分析", assignee_id=owner.id, due_at=clock.now() - timedelta(minutes=5)),
        )
    await sweep_once(ctx)
    async with unit_of_work(sessions) as s:
        return (await s.scalars(select(Notification))).one()


async def deliver(ctx, notification_id: int) -> str:
    """Drain the notification's channel; the outcome of its attempt, if one was made."""
    async with unit_of_work(ctx["sessions"]) as s:
        n = await s.get_one(Notification, notification_id)
        channel_id, before = n.channel_id, n.attempts
    report = await drain(ctx, channel_id)
    if report["messages"] == 0:
        return "not due or taken"
    async with unit_of_work(ctx["sessions"]) as s:
        attempt = (
            await s.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.notification_id == notification_id, DeliveryAttempt.attempt_no > before)
                .order_by(DeliveryAttempt.id.desc())
            )
        ).first()
    return attempt.outcome.value if attempt else "not due or taken"


async def reload(sessions, notification_id: int) -> tuple[Notification, list[DeliveryAttempt]]:
    async with unit_of_work(sessions) as s:
        n = await s.get_one(Notification, notification_id)
        attempts = list(
            (
                await s.scalars(
                    select(DeliveryAttempt)
                    .where(DeliveryAttempt.notification_id == notification_id)
                    .order_by(DeliveryAttempt.id)
                )
            ).all()
        )
        return n, attempts


async def test_feishu_card_is_signed_carries_the_keyword_and_is_recorded(ctx, sessions, clock, botsim):
    botsim.add_bots({"fs1": {"kind": "feishu", "secret": "s3cret", "keywords": ["Closeloop"]}})
    await make_channel(
        sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs1"), secret="s3cret", keywords=["Closeloop"]
    )
    n = await overdue_notification(ctx, sessions, clock, feishu_open_id=OPEN_ID, name="张三")
    assert await deliver(ctx, n.id) == "success"
    (msg,) = botsim.messages("fs1")
    card = msg["body"]["card"]
    assert msg["body"]["msg_type"] == "interactive"
    assert card["header"]["template"] == "red"
    title = card["header"]["title"]["content"]
    assert "Closeloop" in title and "竞品分析" in title
    text = card["elements"][0]["text"]["content"]
    assert "张三" in text and f"<at id={OPEN_ID}></at>" in text and "已逾期" in text and "5分钟" in text
    assert title.startswith("[Closeloop] 已超时：")
    # The button opens the task's page for people (signed), not the API's JSON.
    button = card["elements"][1]["actions"][0]["url"]
    assert button.startswith(f"{ctx['settings'].public_url}/api/v1/pages/task/{n.subject_id}?exp=")
    n, (attempt,) = await reload(sessions, n.id)
    assert n.status == NotificationStatus.delivered and n.delivered_at == clock.now()
    assert (attempt.outcome, attempt.http_status, attempt.vendor_code) == ("success", 200, "0")


async def test_english_recipient_gets_english_text(ctx, sessions, clock, botsim):
    botsim.add_bots({"fs1": {"kind": "feishu"}})
    await make_channel(sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs1"))
    n = await overdue_notification(ctx, sessions, clock, locale="en-US")
    await deliver(ctx, n.id)
    card = botsim.messages("fs1")[0]["body"]["card"]
    assert card["header"]["title"]["content"].startswith("Overdue:")
    assert "Overdue by" in card["elements"][0]["text"]["content"]


async def test_http_200_rejection_is_never_counted_as_sent(ctx, sessions, clock, botsim):
    botsim.add_bots({"fs1": {"kind": "feishu", "secret": "the-real-secret"}})
    await make_channel(sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs1"), secret="wrong")
    n = await overdue_notification(ctx, sessions, clock)
    assert await deliver(ctx, n.id) == "permanent"
    assert botsim.messages("fs1") == []
    assert botsim.stats()["fs1"]["rejected"] == {"19021": 1}
    n, (attempt,) = await reload(sessions, n.id)
    assert n.status == NotificationStatus.dead and n.delivered_at is None
    assert (attempt.http_status, attempt.vendor_code, attempt.outcome) == (200, "19021", "permanent")
    async with unit_of_work(sessions) as s:
        assert "sign match fail" in (await s.get_one(Channel, n.channel_id)).last_error


async def test_webhook_retries_with_backoff_and_keeps_its_id(ctx, sessions, clock, botsim):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    botsim.faults("gw1", http_500=1.0)
    await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    n = await overdue_notification(ctx, sessions, clock)
    assert await deliver(ctx, n.id) == "retryable"
    after_first, _ = await reload(sessions, n.id)
    wait = (after_first.next_attempt_at - clock.now()).total_seconds()
    assert 0.5 <= wait <= 1.0  # base 1 s, jittered
    assert await deliver(ctx, n.id) == "not due or taken"  # too early: no second request
    botsim.faults("gw1", http_500=0.0)
    clock.advance(wait)
    assert await deliver(ctx, n.id) == "success"
    (msg,) = botsim.messages("gw1")
    assert msg["webhook_id"] == str(n.message_id) and not msg["duplicate"]
    assert msg["body"]["type"] == "sla.breach" and msg["body"]["version"] == "1"
    assert msg["body"]["data"]["subject"]["title"] == "竞品分析"
    _, attempts = await reload(sessions, n.id)
    assert [(a.attempt_no, a.outcome, a.http_status) for a in attempts] == [(1, "retryable", 500), (2, "success", 204)]


async def test_timeouts_and_dropped_connections_are_retried(ctx, sessions, clock, botsim):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    n = await overdue_notification(ctx, sessions, clock)
    botsim.faults("gw1", drop_rate=1.0)
    assert await deliver(ctx, n.id) == "retryable"
    botsim.faults("gw1", delay_rate=1.0, delay_s=1.0)
    ctx["policy"] = dataclasses.replace(ctx["policy"], timeout_s=0.2)
    clock.advance(30)
    assert await deliver(ctx, n.id) == "retryable"
    _, attempts = await reload(sessions, n.id)
    assert [a.outcome for a in attempts] == ["retryable", "retryable"]
    assert attempts[0].http_status is None and "Error" in attempts[0].error
    assert "Timeout" in attempts[1].error
    # The slow receiver still accepts the request we gave up on: that is the one case where the
    # retry will be a duplicate, and it carries the same webhook-id for the receiver to dedupe.
    for _ in range(100):
        if botsim.messages("gw1"):
            break
        await asyncio.sleep(0.05)
    (late,) = botsim.messages("gw1")
    assert late["webhook_id"] == str(n.message_id)


async def test_retries_are_bounded_then_dead_lettered(ctx, sessions, clock, botsim):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    botsim.faults("gw1", http_500=1.0)
    await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    ctx["policy"] = dataclasses.replace(ctx["policy"], max_attempts=3)
    n = await overdue_notification(ctx, sessions, clock)
    outcomes = []
    for _ in range(3):
        outcomes.append(await deliver(ctx, n.id))
        clock.advance(60)
    assert outcomes == ["retryable"] * 3
    n, attempts = await reload(sessions, n.id)
    assert n.status == NotificationStatus.dead and len(attempts) == 3
    assert await deliver(ctx, n.id) == "not due or taken"


async def test_dingtalk_markdown_is_signed_and_mentions_for_real(ctx, sessions, clock, botsim):
    botsim.add_bots({"dt1": {"kind": "dingtalk", "secret": "SECabc"}})
    await make_channel(sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "dt1"), secret="SECabc")
    n = await overdue_notification(ctx, sessions, clock, mobile="13800000000")
    assert await deliver(ctx, n.id) == "success"
    body = botsim.messages("dt1")[0]["body"]
    assert body["msgtype"] == "markdown" and body["at"]["atMobiles"] == ["13800000000"]
    assert "@13800000000" in body["markdown"]["text"]


async def test_wecom_markdown_mentions_with_userid(ctx, sessions, clock, botsim):
    botsim.add_bots({"wc1": {"kind": "wecom"}})
    await make_channel(sessions, kind=ChannelKind.wecom, url=botsim.url("wecom", "wc1"))
    n = await overdue_notification(ctx, sessions, clock, wecom_user_id="zhangsan")
    assert await deliver(ctx, n.id) == "success"
    assert "<@zhangsan>" in botsim.messages("wc1")[0]["body"]["markdown"]["content"]


async def test_losing_redis_loses_nothing(ctx, sessions, clock, botsim, arq_redis):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    n = await overdue_notification(ctx, sessions, clock)
    await arq_redis.flushall()  # the doorbell is gone
    assert await arq_redis.queued_jobs(queue_name="closeloop:notify") == []
    await sweep_outbox(ctx)  # the notifier's periodic outbox sweep rings it again
    jobs = await arq_redis.queued_jobs(queue_name="closeloop:notify")
    assert {(j.function, j.args) for j in jobs} == {("drain", (n.channel_id,))}
    assert (await drain(ctx, n.channel_id))["outcomes"] == {"success": 1}
    assert len(botsim.messages("gw1")) == 1


async def test_a_notifier_that_dies_mid_delivery_loses_nothing(ctx, sessions, clock, botsim, arq_redis):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    n = await overdue_notification(ctx, sessions, clock)
    async with unit_of_work(sessions) as s:  # a notifier claims it … and dies before sending
        assert len(await delivery.claim_batch(s, n.channel_id, now=clock.now(), limit=10)) == 1
    await arq_redis.flushall()
    await sweep_outbox(ctx)
    assert await arq_redis.queued_jobs(queue_name="closeloop:notify") == []  # the lease still holds
    assert (await drain(ctx, n.channel_id))["messages"] == 0
    await expire_leases(sessions)  # the lease runs out on the database's clock
    await sweep_outbox(ctx)
    assert {j.args for j in await arq_redis.queued_jobs(queue_name="closeloop:notify")} == {(n.channel_id,)}
    assert (await drain(ctx, n.channel_id))["outcomes"] == {"success": 1}
    assert len(botsim.messages("gw1")) == 1


async def test_a_disabled_channel_holds_its_notifications(ctx, sessions, clock, botsim):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    n = await overdue_notification(ctx, sessions, clock)
    async with unit_of_work(sessions) as s:
        (await s.get_one(Channel, channel.id)).enabled = False
    assert await deliver(ctx, n.id) == "not due or taken"
    n, attempts = await reload(sessions, n.id)
    assert n.status == NotificationStatus.pending and n.attempts == 0 and attempts == []


async def test_a_channel_configured_through_the_api_is_signed_with_its_decrypted_secret(
    ctx, sessions, clock, botsim, client
):
    botsim.add_bots({"dt1": {"kind": "dingtalk", "secret": "SECviaapi"}})
    r = await client.post(
        "/api/v1/channels",
        headers=await auth(sessions),
        json={"name": "dt", "kind": "dingtalk", "url": botsim.url("dingtalk", "dt1"), "secret": "SECviaapi"},
    )
    assert r.status_code == 201, r.text
    n = await overdue_notification(ctx, sessions, clock)
    assert await deliver(ctx, n.id) == "success"
    assert len(botsim.messages("dt1")) == 1


async def test_a_secret_no_configured_key_opens_is_a_permanent_failure_naming_the_setting(ctx, sessions, clock, botsim):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"))
    async with unit_of_work(sessions) as s:  # as if CLOSELOOP_SECRET_KEY changed without _PREVIOUS
        (await s.get_one(Channel, channel.id)).secret_encrypted = encrypt_secret(WHSEC, keys=[new_key()])
    n = await overdue_notification(ctx, sessions, clock)
    assert await deliver(ctx, n.id) == "permanent"
    assert botsim.messages("gw1") == []  # never sent unsigned
    n, (attempt,) = await reload(sessions, n.id)
    assert n.status == NotificationStatus.dead and "CLOSELOOP_SECRET_KEY" in n.last_error
    assert (attempt.outcome, attempt.http_status) == ("permanent", None)


async def _card_text(ctx, sessions, botsim, bot: str) -> list[str]:
    """Sweep, deliver what the sweep queued, and return the card texts the group shows."""
    await sweep_once(ctx)
    async with unit_of_work(sessions) as s:
        ids = list(await s.scalars(select(Notification.id).order_by(Notification.id)))
    for notification_id in ids:
        await deliver(ctx, notification_id)
    return [m["body"]["card"]["elements"][0]["text"]["content"] for m in botsim.messages(bot)]


async def test_a_task_created_overdue_says_so_once_without_catch_up_wording(ctx, sessions, clock, botsim):
    botsim.add_bots({"fs1": {"kind": "feishu"}})
    await make_channel(sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs1"))
    owner = await make_user(sessions, department_id=(await make_department(sessions)).id, name="张三")
    breach_every_4h = [{"offset": "0", "recipients": ["assignee"], "repeat_every": "PT4H", "max_repeats": 3}]
    await make_policy(sessions, levels=breach_every_4h)
    due = clock.now() - timedelta(hours=15, minutes=40)
    async with unit_of_work(sessions) as s:
        data = TaskCreate(title="补录的竞品分析", assignee_id=owner.id, due_at=due)
        await create_task(s, actor=SYSTEM, now=clock.now(), data=data)
    (text,) = await _card_text(ctx, sessions, botsim, "fs1")
    assert "已逾期" in text and "15小时40分钟（创建时已逾期）" in text
    assert "补发" not in text and "服务中断" not in text and "次提醒" not in text
    assert len(await _card_text(ctx, sessions, botsim, "fs1")) == 1  # and nothing more: it said so once


async def test_a_breach_missed_while_the_worker_was_down_says_how_late(ctx, sessions, clock, botsim):
    botsim.add_bots({"fs1": {"kind": "feishu"}})
    await make_channel(sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs1"))
    owner = await make_user(sessions, department_id=(await make_department(sessions)).id, name="张三")
    await make_policy(sessions, levels=BREACH_ONLY)
    now = clock.now()
    clock.set(now - timedelta(hours=1))  # created an hour ago, due ten minutes later; no sweep since
    async with unit_of_work(sessions) as s:
        data = TaskCreate(title="竞品分析", assignee_id=owner.id, due_at=now - timedelta(minutes=50))
        await create_task(s, actor=SYSTEM, now=clock.now(), data=data)
    clock.set(now)
    (text,) = await _card_text(ctx, sessions, botsim, "fs1")
    assert "补发" in text and "服务中断期间到期，晚 50分钟 发出" in text
    assert "创建时已逾期" not in text
