"""Acting from the chat end to end, as people would: the notifier sends the card to the Feishu group
(botsim), someone clicks a button there, botsim sends Feishu's encrypted, signed callback to the API
listening on a port, the action is taken once, and the answered card replaces the one in the group.
DingTalk: someone @-mentions the robot with a command and the answer comes back in the group."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from shared.actor import Actor
from shared.approvals import service as approvals
from shared.approvals.schemas import ApprovalCreate
from shared.chat import feishu
from shared.chat.models import ChatEvent
from shared.db import unit_of_work
from shared.models import (
    Approval,
    ApprovalKind,
    AuditLog,
    Campaign,
    SlaAcknowledgement,
    Task,
    TaskStatus,
    User,
)
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.tasks.sla import TaskSubject
from shared.workflow.templates import ensure_workflow_defaults
from tests.chat.conftest import OU_STRANGER, OU_ZHANG, Org, fired, make_task, sweep
from tests.chat_wire.conftest import sim
from tests.chat_wire.test_chat_apps import DINGTALK, FEISHU
from tests.conftest import real_now
from tests.factories import auth
from tests.notify.helpers import make_dispatcher

OU_WANG = "ou_3e0f6f0a2a0b4c1d9e8f7a6b5c4d3e2f"


async def dingtalk_robot(client: Any, sessions: Any, botsim: Any, live_api: Any) -> None:
    """The DingTalk app registered in Closeloop, and botsim told where its robot's messages go."""
    admin = await auth(sessions)
    app = (await client.post("/api/v1/chat-apps", headers=admin, json=DINGTALK)).json()
    callback = f"{live_api.base}/api/v1/chat/dingtalk/{app['id']}/messages"
    botsim.http.post(
        "/_sim/apps",
        json={DINGTALK["app_id"]: {"vendor": "dingtalk", "app_secret": "ding-s3cret", "callback_url": callback}},
    ).raise_for_status()


async def feishu_group(client: Any, sessions: Any, botsim: Any, live_api: Any, org: Org) -> int:
    """Marketing's Feishu group: the chat app (botsim calls the live API back) and its channel."""
    feishu.TOKENS.clear()
    admin = await auth(sessions)
    app = (await client.post("/api/v1/chat-apps", headers=admin, json=FEISHU)).json()
    simulated = {
        "vendor": "feishu",
        "app_secret": FEISHU["app_secret"],
        "verification_token": FEISHU["verification_token"],
        "encrypt_key": FEISHU["encrypt_key"],
        "callback_url": f"{live_api.base}/api/v1/chat/feishu/{app['id']}/events",
    }
    botsim.http.post("/_sim/apps", json={FEISHU["app_id"]: simulated}).raise_for_status()
    channel = {
        "name": "市场部飞书群",
        "kind": "feishu_app",
        "chat_app_id": app["id"],
        "chat_id": "oc_market",
        "department_ids": [org.marketing.id],
    }
    r = await client.post("/api/v1/channels", headers=admin, json=channel)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def deliver(settings: Any, sessions: Any, arq_redis: Any, clock: Any, channel_id: int) -> None:
    async with Sender() as http:
        await drain(make_dispatcher(settings, sessions, arq_redis, http, clock), channel_id)


def cards(botsim: Any) -> list[dict[str, Any]]:
    return botsim.http.get("/_sim/feishu/cards", params={"chat_id": "oc_market"}).json()  # type: ignore[no-any-return]


async def click(botsim: Any, message_id: str, button: str, open_id: str, **extra: Any) -> dict[str, Any]:
    body = {"message_id": message_id, "button": button, "open_id": open_id, **extra}
    return await sim(botsim, "POST", "/_sim/feishu/click", json=body)  # type: ignore[no-any-return]


def text_of(card: dict[str, Any]) -> str:
    return str(card["card"]["elements"][0]["text"]["content"])


async def count(sessions: Any, model: Any) -> int:
    async with unit_of_work(sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def at(clock: Any, iso: str) -> None:
    clock.set(datetime.fromisoformat(iso))


async def test_acknowledge_on_the_alert_card_updates_it_in_place_and_stops_the_repeats(
    client, sessions, clock, org, repeating, botsim, live_api, use_botsim_apis, arq_redis
):
    channel_id = await feishu_group(client, sessions, botsim, live_api, org)
    task = await make_task(sessions, clock, org)
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")  # breached: the card goes to the group
    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    (card,) = cards(botsim)
    assert card["card"]["header"]["title"]["content"] == "已超时：双十一海报"
    assert [b["label"] for b in card["buttons"]] == ["认领", "完成", "查看详情", "申请延期"]

    at(clock, "2026-12-03T11:05:00+08:00")
    clicked = await click(botsim, card["message_id"], "认领", OU_ZHANG)
    assert clicked["status"] == 200 and clicked["updated"] is True
    assert clicked["answer"]["toast"] == {"type": "success", "content": f"已认领：任务 #{task.id}"}
    (card,) = cards(botsim)
    assert card["version"] == 1
    assert text_of(card).endswith("✅ 张三 已认领 · 12-03 11:05 (飞书)")
    assert [b["label"] for b in card["buttons"]] == ["完成", "查看详情", "申请延期"]  # nobody takes it twice

    for iso in ("12:00:01", "13:00:01"):  # the breach would repeat hourly
        await sweep(sessions, clock, f"2026-12-03T{iso}+08:00")
    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    assert await fired(sessions, task.id) == [(0, 0)]
    assert len(cards(botsim)) == 1  # no reminder reached the group

    # Someone whose card had not refreshed clicks 认领 on the first version: told who took it, when.
    stale = await click(botsim, card["message_id"], "认领", OU_ZHANG, version=0)
    assert stale["answer"]["toast"] == {"type": "info", "content": "已由 张三 于 12-03 11:05 认领"}
    assert await count(sessions, SlaAcknowledgement) == 1


async def test_done_on_the_card_completes_the_task_and_a_replay_acts_once(
    client, sessions, clock, org, repeating, botsim, live_api, use_botsim_apis, arq_redis
):
    channel_id = await feishu_group(client, sessions, botsim, live_api, org)
    task = await make_task(sessions, clock, org)
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    (card,) = cards(botsim)

    at(clock, "2026-12-03T11:30:00+08:00")
    done = await click(botsim, card["message_id"], "完成", OU_ZHANG)
    assert done["answer"]["toast"] == {"type": "success", "content": f"已完成：任务 #{task.id}"}
    (card,) = cards(botsim)
    assert text_of(card).endswith("✅ 张三 已完成 · 12-03 11:30 (飞书)")
    assert [b["label"] for b in card["buttons"]] == ["查看详情"]
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).status == TaskStatus.done
        audit = await s.scalar(select(func.count()).where(AuditLog.entity_id == task.id, AuditLog.source == "feishu"))
    events = await count(sessions, ChatEvent)

    # Feishu redelivers the same event (its answer was lost): the same answer, nothing done again.
    replay = await click(botsim, card["message_id"], "", "", replay=True)
    assert replay["event_id"] == done["event_id"] and replay["answer"] == done["answer"]
    async with unit_of_work(sessions) as s:
        again = await s.scalar(select(func.count()).where(AuditLog.entity_id == task.id, AuditLog.source == "feishu"))
    assert (again, await count(sessions, ChatEvent)) == (audit, events)


async def test_a_forged_click_and_an_unknown_chat_user_do_nothing(
    client, sessions, clock, org, repeating, botsim, live_api, use_botsim_apis, arq_redis
):
    channel_id = await feishu_group(client, sessions, botsim, live_api, org)
    task = await make_task(sessions, clock, org)
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    (card,) = cards(botsim)

    forged = await click(botsim, card["message_id"], "完成", OU_ZHANG, forge=True)
    assert forged["status"] == 401 and forged["updated"] is False
    stranger = await click(botsim, card["message_id"], "完成", OU_STRANGER)
    assert stranger["status"] == 200 and stranger["updated"] is False
    toast = stranger["answer"]["toast"]
    assert toast["type"] == "error"
    assert toast["content"].startswith(f"你的飞书账号（{OU_STRANGER}）尚未关联 Closeloop 用户，本次未执行任何操作。")
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).status == TaskStatus.todo
        assert await s.scalar(select(func.count()).where(AuditLog.source == "feishu")) == 0
    assert cards(botsim)[0]["version"] == 0


async def ask_approval(sessions: Any, clock: Any, org: Org) -> int:
    """张三 asks for his campaign's approval: the department head 王总监 decides (the default rule)."""
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
        await s.execute(update(User).where(User.id == org.head.id).values(feishu_open_id=OU_WANG))
        campaign = Campaign(name="双十一大促", owner_id=org.zhang.id, department_id=org.marketing.id)
        s.add(campaign)
        await s.flush()
        approval = await approvals.request_approval(
            s,
            actor=Actor.user(org.zhang.id, org.zhang.role, org.zhang.department_id),
            data=ApprovalCreate(kind=ApprovalKind.campaign, campaign_id=campaign.id),
            now=clock.now(),
        )
        return approval.id


async def test_approve_and_reject_on_the_approval_card_with_the_stale_toast(
    client, sessions, clock, org, botsim, live_api, use_botsim_apis, arq_redis
):
    channel_id = await feishu_group(client, sessions, botsim, live_api, org)
    approved_id = await ask_approval(sessions, clock, org)
    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    (card,) = cards(botsim)
    assert [b["label"] for b in card["buttons"]] == ["同意", "查看详情", "驳回"]
    assert card["buttons"][2]["inputs"] == ["reason_0"]

    own = await click(botsim, card["message_id"], "同意", OU_ZHANG)  # the requester: four eyes
    assert own["answer"]["toast"]["type"] == "error"
    at(clock, "2026-12-03T10:20:00+08:00")
    ok = await click(botsim, card["message_id"], "同意", OU_WANG)
    assert ok["answer"]["toast"]["type"] == "success" and ok["updated"] is True
    (card,) = cards(botsim)
    assert text_of(card).endswith("✅ 王总监 已同意 · 12-03 10:20 (飞书)")
    at(clock, "2026-12-03T10:40:00+08:00")
    late = await click(botsim, card["message_id"], "驳回", OU_WANG, version=0, input="再想想")
    assert late["answer"]["toast"] == {"type": "info", "content": "已由 王总监 于 12-03 10:20 同意"}

    # A second request, rejected: the reason typed in the card's input is the decision's reason.
    rejected_id = await ask_approval(sessions, clock, org)
    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    second = cards(botsim)[-1]
    bare = await click(botsim, second["message_id"], "驳回", OU_WANG)
    assert bare["answer"]["toast"] == {"type": "error", "content": "驳回需要填写理由。"}
    no = await click(botsim, second["message_id"], "驳回", OU_WANG, input="预算超标")
    assert no["answer"]["toast"]["type"] == "success"
    async with unit_of_work(sessions) as s:
        first, other = await s.get_one(Approval, approved_id), await s.get_one(Approval, rejected_id)
        assert first.status.value == "approved"
        assert (other.status.value, other.decision_reason) == ("rejected", "预算超标")


async def test_a_dingtalk_command_is_done_and_answered_in_the_group_once(
    client, sessions, clock, org, botsim, live_api, use_botsim_apis
):
    task = await make_task(sessions, clock, org)
    clock.set(real_now())  # DingTalk signs with the real time; its window is an hour
    await dingtalk_robot(client, sessions, botsim, live_api)

    say = {"app": DINGTALK["app_id"], "user_id": "ding_li", "text": f"完成 T{task.id}", "conversation_id": "cid_m"}
    said = await sim(botsim, "POST", "/_sim/dingtalk/say", json=say)
    expected = f"@ding_li 已完成：任务 #{task.id}"
    assert said["status"] == 200 and said["answer"]["markdown"]["text"] == expected
    assert said["answer"]["at"] == {"atUserIds": ["ding_li"], "isAtAll": False}
    answers = botsim.http.get("/_sim/dingtalk/answers", params={"conversation_id": "cid_m"}).json()
    assert [a["body"] for a in answers] == [said["answer"]]
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).status == TaskStatus.done
        (row,) = await s.scalars(
            select(AuditLog).where(AuditLog.entity_type == TaskSubject.task, AuditLog.source == "dingtalk")
        )
        assert row.actor_user_id == org.li.id

    again = await sim(botsim, "POST", "/_sim/dingtalk/say", json={**say, "msg_id": said["msg_id"]})
    assert again["answer"] == said["answer"]  # the redelivery is answered as before, acted on once
    assert len(botsim.http.get("/_sim/dingtalk/answers").json()) == 1

    stranger = await sim(botsim, "POST", "/_sim/dingtalk/say", json={**say, "user_id": "ding_nobody"})
    assert "尚未关联 Closeloop 用户" in stranger["answer"]["markdown"]["text"]
    nonsense = await sim(botsim, "POST", "/_sim/dingtalk/say", json={**say, "text": "你好"})
    assert "我能听懂这些命令" in nonsense["answer"]["markdown"]["text"]


async def test_a_session_webhook_off_dingtalk_is_not_called_but_the_answer_still_comes_back(
    client, sessions, clock, org, botsim, live_api
):
    # No use_botsim_apis: DingTalk is api.dingtalk.com, so botsim's sessionWebhook is somewhere else.
    task = await make_task(sessions, clock, org)
    clock.set(real_now())
    await dingtalk_robot(client, sessions, botsim, live_api)
    said = await sim(
        botsim,
        "POST",
        "/_sim/dingtalk/say",
        json={"app": DINGTALK["app_id"], "user_id": "ding_li", "text": f"完成 T{task.id}"},
    )
    assert said["answer"]["markdown"]["text"] == f"@ding_li 已完成：任务 #{task.id}"
    assert botsim.http.get("/_sim/dingtalk/answers").json() == []
