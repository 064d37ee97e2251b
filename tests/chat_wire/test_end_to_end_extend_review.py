"""Asking for more time and answering a review from the chat, end to end through botsim: the alert
card's 申请延期 becomes an extension request, the department head's approval card reaches the group
and is decided there, and the task's timer re-arms at the moved deadline (or the requester hears
why not); a reviewer answers on the review card; a DingTalk @-command asks for more time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from shared.actor import Actor
from shared.db import unit_of_work
from shared.models import (
    Approval,
    ApprovalAssignment,
    ApprovalKind,
    Escalation,
    SlaPolicy,
    SlaTimer,
    Task,
    TimerState,
    User,
)
from shared.reviews import service as reviews
from shared.reviews.schemas import ReviewCreate
from shared.tasks.sla import TaskSubject
from shared.workflow.templates import ensure_workflow_defaults
from tests.chat.conftest import OU_ZHANG, Org, make_task, sweep
from tests.chat_wire.conftest import sim
from tests.chat_wire.test_chat_apps import DINGTALK
from tests.chat_wire.test_end_to_end import OU_WANG, at, cards, click, deliver, dingtalk_robot, feishu_group, text_of
from tests.conftest import real_now
from tests.factories import make_policy

OU_LI = "ou_0b2f6c8e1d3a4b5c6d7e8f9a0b1c2d3e"
T = datetime.fromisoformat
# Tasks are due one calendar hour after they are created; half an hour before, the assignee is warned.
WARN_THEN_BREACH = [
    {"offset": "-PT30M", "recipients": ["assignee"]},
    {"offset": "0", "recipients": ["assignee"]},
]


@pytest.fixture
async def warned(sessions):
    return await make_policy(sessions, levels=WARN_THEN_BREACH, target_kind="calendar", target_value="PT1H")


async def seed_defaults(sessions, policy: SlaPolicy) -> None:
    """The seeded approval rules (an extension goes to the department's head); of the task SLA
    policies only the test's own stays on, so the task has one timer."""
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
        await s.execute(
            update(SlaPolicy)
            .where(SlaPolicy.subject_type == TaskSubject.task, SlaPolicy.id != policy.id)
            .values(enabled=False)
        )


async def link_feishu(sessions, user: User, open_id: str) -> None:
    async with unit_of_work(sessions) as s:
        await s.execute(update(User).where(User.id == user.id).values(feishu_open_id=open_id))


async def escalations(sessions, task_id: int) -> list[tuple[int, int, str, datetime]]:
    """(timer, level, kind, scheduled_at) of every level fired on the task, oldest first."""
    async with unit_of_work(sessions) as s:
        rows = await s.execute(
            select(Escalation.timer_id, Escalation.level, Escalation.kind, Escalation.scheduled_at)
            .where(Escalation.subject_type == TaskSubject.task, Escalation.subject_id == task_id)
            .order_by(Escalation.id)
        )
        return [(timer, level, kind.value, scheduled) for timer, level, kind, scheduled in rows]


async def task_timers(sessions, task_id: int) -> list[SlaTimer]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(SlaTimer)
                .where(SlaTimer.subject_type == TaskSubject.task, SlaTimer.subject_id == task_id)
                .order_by(SlaTimer.id)
            )
        )


async def extension_requests(sessions) -> list[tuple[Approval, list[int]]]:
    """Each extension request with the people asked to decide it."""
    async with unit_of_work(sessions) as s:
        found = list(
            await s.scalars(select(Approval).where(Approval.kind == ApprovalKind.extension).order_by(Approval.id))
        )
        out = []
        for approval in found:
            approvers = await s.scalars(
                select(ApprovalAssignment.approver_id).where(ApprovalAssignment.approval_id == approval.id)
            )
            out.append((approval, list(approvers)))
        return out


async def ask_for_two_days_on_the_warning_card(
    client, sessions, clock, org: Org, policy: SlaPolicy, botsim, live_api, settings, arq_redis
) -> tuple[int, Task, dict[str, Any]]:
    """张三's task is due Thursday 11:00; at 10:30 the warning card reaches the group and at 10:35 he
    asks for two more working days from it. Returns the channel, the task and the head's approval card."""
    channel_id = await feishu_group(client, sessions, botsim, live_api, org)
    await link_feishu(sessions, org.head, OU_WANG)
    await seed_defaults(sessions, policy)
    task = await make_task(sessions, clock, org)  # Thursday 2026-12-03 10:00, due 11:00
    await sweep(sessions, clock, "2026-12-03T10:30:01+08:00")
    await deliver(settings, sessions, arq_redis, clock, channel_id)
    (alert,) = cards(botsim)
    assert alert["card"]["header"]["title"]["content"] == "即将超时：双十一海报"
    (extend,) = [b for b in alert["buttons"] if b["label"] == "申请延期"]
    assert extend["inputs"] == ["reason_0"]  # the terms and the reason are typed in the card

    at(clock, "2026-12-03T10:35:00+08:00")
    asked = await click(botsim, alert["message_id"], "申请延期", OU_ZHANG, input="2d 素材未到")
    ((approval, approvers),) = await extension_requests(sessions)
    assert asked["status"] == 200 and asked["updated"] is True
    assert asked["answer"]["toast"] == {
        "type": "success",
        "content": f"已提交延期申请（审批 #{approval.id}），等待审批",
    }
    (alert,) = cards(botsim)
    assert text_of(alert).endswith("✅ 张三 已申请延期 · 12-03 10:35 (飞书)")
    assert "申请延期" not in [b["label"] for b in alert["buttons"]]

    # Two working days after Thursday 11:00 on the team's calendar (Mon–Fri 09:00–18:00): Friday
    # 11:00 is one, the weekend does not count, Monday 11:00 is the second.
    assert approval.status.value == "pending" and approval.requester_id == org.zhang.id
    assert approval.department_id == org.marketing.id and approvers == [org.head.id]
    assert {k: approval.details[k] for k in ("due_from", "due_to", "extend_by", "reason", "source")} == {
        "due_from": "2026-12-03T11:00:00+08:00",
        "due_to": "2026-12-07T11:00:00+08:00",
        "extend_by": "2d",
        "reason": "素材未到",
        "source": "feishu",
    }

    await deliver(settings, sessions, arq_redis, clock, channel_id)
    alert_card, waiting = cards(botsim)
    assert alert_card["message_id"] == alert["message_id"]
    assert waiting["card"]["header"]["title"]["content"].startswith(
        "待你审批：延期申请 Extension: 任务「双十一海报」2026-12-03 11:00 → 2026-12-07 11:00"
    )
    assert [b["label"] for b in waiting["buttons"]] == ["同意", "查看详情", "驳回"]
    assert waiting["buttons"][2]["inputs"] == ["reason_0"]
    return channel_id, task, waiting


async def test_an_extension_asked_on_the_alert_card_and_approved_on_the_heads_card_re_arms_the_timer(
    client, sessions, clock, org, warned, botsim, live_api, use_botsim_apis, arq_redis
):
    channel_id, task, waiting = await ask_for_two_days_on_the_warning_card(
        client, sessions, clock, org, warned, botsim, live_api, use_botsim_apis, arq_redis
    )
    (old,) = await task_timers(sessions, task.id)

    at(clock, "2026-12-03T10:40:00+08:00")
    own = await click(botsim, waiting["message_id"], "同意", OU_ZHANG)  # four eyes: not his own request
    assert own["answer"]["toast"]["type"] == "error" and own["updated"] is False
    ok = await click(botsim, waiting["message_id"], "同意", OU_WANG)
    ((approval, _),) = await extension_requests(sessions)
    assert ok["answer"]["toast"] == {"type": "success", "content": f"已同意：审批 #{approval.id} {approval.title}"}
    assert ok["updated"] is True and approval.status.value == "approved"
    (waiting,) = [c for c in cards(botsim) if c["message_id"] == waiting["message_id"]]
    assert text_of(waiting).endswith("✅ 王总监 已同意 · 12-03 10:40 (飞书)")
    assert [b["label"] for b in waiting["buttons"]] == ["查看详情"]
    late = await click(botsim, waiting["message_id"], "驳回", OU_WANG, version=0, input="再想想")
    assert late["answer"]["toast"] == {"type": "info", "content": "已由 王总监 于 12-03 10:40 同意"}

    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).due_at == T("2026-12-07T11:00:00+08:00")
    before, after = await task_timers(sessions, task.id)
    assert (before.id, before.state, before.due_at) == (old.id, TimerState.cancelled, T("2026-12-03T11:00:00+08:00"))
    assert (after.state, after.due_at) == (TimerState.running, T("2026-12-07T11:00:00+08:00"))
    warned_at = [(old.id, 0, "warning", T("2026-12-03T10:30:00+08:00"))]
    assert await escalations(sessions, task.id) == warned_at

    # The old deadline passes, and Friday (a calendar day's extension would have ended on Saturday):
    # nothing fires.
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    await sweep(sessions, clock, "2026-12-05T11:00:01+08:00")
    assert await escalations(sessions, task.id) == warned_at
    # Monday: the warning again at 10:30, the breach at the new deadline, both on the new timer.
    await sweep(sessions, clock, "2026-12-07T10:59:59+08:00")
    warned_again = [*warned_at, (after.id, 0, "warning", T("2026-12-07T10:30:00+08:00"))]
    assert await escalations(sessions, task.id) == warned_again
    await sweep(sessions, clock, "2026-12-07T11:00:01+08:00")
    assert await escalations(sessions, task.id) == [
        *warned_again,
        (after.id, 1, "breach", T("2026-12-07T11:00:00+08:00")),
    ]
    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    assert cards(botsim)[-1]["card"]["header"]["title"]["content"] == "已超时：双十一海报"

    # The task's trail says who asked from where, and what moved.
    trail = (await client.get(f"/api/v1/trail/task/{task.id}", headers=org.headers(org.zhang))).json()
    (moved,) = [e["details"]["after"] for e in trail["entries"] if e["action"] == "deadline.extend"]
    assert (moved["source"], moved["note"]) == (
        "feishu",
        f"deadline extended from 2026-12-03 11:00 to 2026-12-07 11:00 by approval #{approval.id}",
    )


async def test_an_extension_rejected_on_the_heads_card_tells_the_requester_why(
    client, sessions, clock, org, warned, botsim, live_api, use_botsim_apis, arq_redis
):
    channel_id, task, waiting = await ask_for_two_days_on_the_warning_card(
        client, sessions, clock, org, warned, botsim, live_api, use_botsim_apis, arq_redis
    )
    at(clock, "2026-12-03T10:45:00+08:00")
    no = await click(botsim, waiting["message_id"], "驳回", OU_WANG, input="档期已定，今天必须交")
    ((approval, _),) = await extension_requests(sessions)
    assert no["answer"]["toast"] == {"type": "success", "content": f"已驳回：审批 #{approval.id} {approval.title}"}
    assert no["updated"] is True
    assert (approval.status.value, approval.decision_reason) == ("rejected", "档期已定，今天必须交")

    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    decided = cards(botsim)[-1]
    assert decided["message_id"] != waiting["message_id"]
    title = decided["card"]["header"]["title"]["content"]
    assert title == f"已有结果：{approval.title} · 部门负责人 Department head"
    assert approval.title == "延期申请 Extension: 任务「双十一海报」2026-12-03 11:00 → 2026-12-07 11:00"
    assert text_of(decided).splitlines() == [
        f"**事项**：审批 #{approval.id} {title.removeprefix('已有结果：')}",
        "**决定人**：王总监",
        "**结论**：驳回",
        "**理由**：档期已定，今天必须交",
        f"<at id={OU_ZHANG}></at>",  # the requester, @mentioned
    ]

    # Nothing moved: the breach comes at the old deadline.
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).due_at is None
    (timer,) = await task_timers(sessions, task.id)
    assert (timer.state, timer.due_at) == (TimerState.running, T("2026-12-03T11:00:00+08:00"))
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    assert [e[1:3] for e in await escalations(sessions, task.id)] == [(0, "warning"), (1, "breach")]


async def test_a_reviewer_requests_changes_on_the_review_card_and_a_second_click_is_stale(
    client, sessions, clock, org, botsim, live_api, use_botsim_apis, arq_redis
):
    channel_id = await feishu_group(client, sessions, botsim, live_api, org)
    await link_feishu(sessions, org.li, OU_LI)
    async with unit_of_work(sessions) as s:  # 张三 asks 李四 to review his poster
        review = await reviews.request_review(
            s,
            actor=Actor.user(org.zhang.id, org.zhang.role, org.zhang.department_id),
            data=ReviewCreate(title="海报终稿", reviewer_user_ids=[org.li.id]),
            now=clock.now(),
        )
    await deliver(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    (card,) = cards(botsim)
    assert card["card"]["header"]["title"]["content"] == "待你评审：海报终稿 · 李四"
    assert OU_LI in str(card["card"])  # the reviewer is @mentioned
    assert [b["label"] for b in card["buttons"]] == ["通过", "查看详情", "需修改", "驳回"]

    at(clock, "2026-12-03T11:00:00+08:00")
    changes = await click(botsim, card["message_id"], "需修改", OU_LI, input="标题字号太小")
    assert changes["answer"]["toast"] == {"type": "success", "content": f"已要求修改：跨部门评审 #{review.id} 海报终稿"}
    assert changes["updated"] is True
    (card,) = cards(botsim)
    assert card["version"] == 1
    assert text_of(card).endswith("✅ 李四 已要求修改 · 12-03 11:00 (飞书)")
    assert [b["label"] for b in card["buttons"]] == ["查看详情"]

    r = await client.get(f"/api/v1/reviews/{review.id}", headers=org.headers(org.zhang))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "changes_requested"
    (round_one,) = r.json()["rounds"]
    assert [
        (a["user_id"], a["status"], a["decision"], a["comment"], a["answered_by"], a["answered_at"])
        for a in round_one["responses"]
    ] == [(org.li.id, "answered", "request_changes", "标题字号太小", org.li.id, "2026-12-03T03:00:00Z")]

    # Someone whose card had not refreshed clicks 通过 on the first version: told what happened.
    stale = await click(botsim, card["message_id"], "通过", OU_LI, version=0)
    assert stale["answer"]["toast"] == {"type": "info", "content": "已由 李四 于 12-03 11:00 要求修改"}
    again = await client.get(f"/api/v1/reviews/{review.id}", headers=org.headers(org.zhang))
    assert again.json()["status"] == "changes_requested" and again.json()["rounds"] == r.json()["rounds"]


async def test_a_dingtalk_extension_command_is_answered_in_the_group_and_asks_the_head(
    client, sessions, clock, org, repeating, botsim, live_api, use_botsim_apis
):
    await seed_defaults(sessions, repeating)
    clock.set(real_now())  # DingTalk signs with the real time; its window is an hour
    task = await make_task(sessions, clock, org, assignee_id=org.li.id)  # 李四's, due in an hour
    (timer,) = await task_timers(sessions, task.id)
    await dingtalk_robot(client, sessions, botsim, live_api)

    say = {
        "app": DINGTALK["app_id"],
        "user_id": "ding_li",
        "text": f"延期 T{task.id} 2d 素材未到",
        "conversation_id": "cid_m",
    }
    said = await sim(botsim, "POST", "/_sim/dingtalk/say", json=say)
    ((approval, approvers),) = await extension_requests(sessions)
    expected = f"@ding_li 已提交延期申请（审批 #{approval.id}），等待审批"
    assert said["status"] == 200 and said["answer"]["markdown"]["text"] == expected
    answers = botsim.http.get("/_sim/dingtalk/answers", params={"conversation_id": "cid_m"}).json()
    assert [a["body"] for a in answers] == [said["answer"]]

    assert (approval.status.value, approval.requester_id, approvers) == ("pending", org.li.id, [org.head.id])
    details = approval.details
    assert (details["subject_type"], details["subject_id"]) == (TaskSubject.task, task.id)
    assert (details["extend_by"], details["reason"], details["source"]) == ("2d", "素材未到", "dingtalk")
    assert T(details["due_from"]) == timer.due_at and T(details["due_to"]) > timer.due_at

    again = await sim(botsim, "POST", "/_sim/dingtalk/say", json={**say, "msg_id": said["msg_id"]})
    assert again["answer"] == said["answer"]  # a redelivery is answered as before: one request
    assert len(await extension_requests(sessions)) == 1
