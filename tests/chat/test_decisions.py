"""Approving, rejecting and answering reviews from the chat: the buttons the cards carry come back
as actions, decided with the API's four-eyes rules; a rejection or a change request says why; a
second click on a decided card says who decided and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from shared.actor import Actor
from shared.approvals import service as approvals
from shared.approvals.schemas import ApprovalCreate
from shared.approvals.sla import ApprovalSubject
from shared.chat.actions import ChatAction, Source, Target, Verb, buttons_for, parse_command
from shared.db import unit_of_work
from shared.models import Approval, ApprovalKind, Campaign, Notification, ReviewRequest, ReviewStatus
from shared.notify.work import WorkEvent
from shared.reviews import service as reviews
from shared.reviews.schemas import ReviewCreate
from shared.reviews.sla import ReviewSubject
from shared.workflow.templates import ensure_workflow_defaults
from tests.chat.conftest import OU_QIAN, OU_ZHANG, Org, act, audit_rows


def as_user(user) -> Actor:
    return Actor.user(user.id, user.role, user.department_id)


async def ask_approval(sessions, clock, org: Org) -> tuple[int, Notification]:
    """张三 asks for his campaign's approval: the department head 王总监 decides (the default rule)."""
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
        campaign = Campaign(name="双十一大促", owner_id=org.zhang.id, department_id=org.marketing.id)
        s.add(campaign)
        await s.flush()
        approval = await approvals.request_approval(
            s,
            actor=as_user(org.zhang),
            data=ApprovalCreate(kind=ApprovalKind.campaign, campaign_id=campaign.id),
            now=clock.now(),
        )
        (card,) = await s.scalars(select(Notification).where(Notification.event_type == WorkEvent.approval_waiting))
        return approval.id, card


def click(card: Notification, label: str, who: str, source: Source = Source.dingtalk, reason: str | None = None):
    (button,) = [b for b in buttons_for(card.event_type, card.payload, locale="zh-CN") if b.label == label]
    return ChatAction.from_value(button.value, source=source, chat_user_id=who, reason=reason)


async def status_of(sessions, approval_id: int) -> str:
    async with unit_of_work(sessions) as s:
        return (await s.get_one(Approval, approval_id)).status.value


async def test_the_approver_approves_from_the_card_and_a_second_click_says_so(sessions, clock, org):
    approval_id, card = await ask_approval(sessions, clock, org)
    labels = [(b.label, b.needs_reason, b.style) for b in buttons_for(card.event_type, card.payload, locale="zh-CN")]
    assert labels == [("同意", False, "primary"), ("驳回", True, "danger")]

    clock.set(datetime.fromisoformat("2026-12-03T10:20:00+08:00"))
    outcome = await act(sessions, clock, click(card, "同意", "ding_wang"))
    assert outcome.ok
    assert outcome.message == f"已同意：审批 #{approval_id} 活动审批 Campaign approval: 双十一大促"
    assert outcome.card is not None and outcome.card.buttons == []
    assert outcome.card.title == "待你审批：活动审批 Campaign approval: 双十一大促 · 部门负责人 Department head"
    assert outcome.card.lines[-1] == "✅ 王总监 已同意 · 12-03 10:20 (钉钉)"
    assert await status_of(sessions, approval_id) == "approved"
    decided = [a for a in await audit_rows(sessions, ApprovalSubject.approval, approval_id) if a.action != "create"]
    assert [(a.action, a.source) for a in decided] == [("approval.request", "api"), ("approval.approve", "dingtalk")]

    clock.set(datetime.fromisoformat("2026-12-03T10:40:00+08:00"))
    again = await act(sessions, clock, click(card, "驳回", "ding_wang", reason="再想想"))
    assert (again.ok, again.stale, again.message) == (False, True, "已由 王总监 于 12-03 10:20 同意")
    assert again.card is not None and again.card.lines[-1] == "已由 王总监 于 12-03 10:20 同意"
    assert await status_of(sessions, approval_id) == "approved"


async def test_a_rejection_needs_a_reason_and_the_requester_cannot_approve_his_own(sessions, clock, org):
    approval_id, card = await ask_approval(sessions, clock, org)
    own = await act(sessions, clock, click(card, "同意", OU_ZHANG, Source.feishu))
    assert (own.ok, own.stale) == (False, False)
    assert own.message == f"无权操作：you are not a pending approver on approval #{approval_id}'s current step"

    bare = await act(sessions, clock, click(card, "驳回", "ding_wang", reason="  "))
    assert (bare.ok, bare.message) == (False, "驳回需要填写理由。")
    assert await status_of(sessions, approval_id) == "pending"

    rejected = await act(
        sessions,
        clock,
        parse_command(f"驳回 A{approval_id} 预算超标").action(source=Source.dingtalk, chat_user_id="ding_wang"),
    )
    assert rejected.ok
    async with unit_of_work(sessions) as s:
        approval = await s.get_one(Approval, approval_id)
        assert (approval.status.value, approval.decision_reason) == ("rejected", "预算超标")


async def test_another_department_sees_no_approval_and_it_cannot_be_completed(sessions, clock, org):
    approval_id, card = await ask_approval(sessions, clock, org)
    outsider = await act(sessions, clock, click(card, "同意", OU_QIAN, Source.feishu))
    assert outsider.message == f"找不到审批 #{card.subject_id}，或你无权查看。"
    assert "双十一" not in outsider.message
    done = await act(
        sessions,
        clock,
        ChatAction(Verb.done, Target(ApprovalSubject.assignment, card.subject_id), Source.dingtalk, "ding_wang"),
    )
    assert (done.ok, done.message) == (False, f"审批 #{card.subject_id}不能在聊天中完成，请在系统中处理。")
    assert await status_of(sessions, approval_id) == "pending"


async def ask_review(sessions, clock, org: Org) -> tuple[int, Notification]:
    """张三 asks 李四 to review his poster."""
    async with unit_of_work(sessions) as s:
        review = await reviews.request_review(
            s,
            actor=as_user(org.zhang),
            data=ReviewCreate(title="海报终稿", reviewer_user_ids=[org.li.id]),
            now=clock.now(),
        )
        (card,) = await s.scalars(select(Notification).where(Notification.event_type == WorkEvent.review_requested))
        return review.id, card


async def test_a_reviewer_requests_changes_with_a_comment_from_the_card(sessions, clock, org):
    review_id, card = await ask_review(sessions, clock, org)
    buttons = buttons_for(card.event_type, card.payload, locale="en-US")
    assert [(b.label, b.verb, b.needs_reason) for b in buttons] == [
        ("Approve", Verb.review_approve, False),
        ("Request changes", Verb.review_changes, True),
        ("Reject", Verb.review_reject, True),
    ]
    bare = await act(sessions, clock, click(card, "需修改", "ding_li"))
    assert (bare.ok, bare.message) == (False, "需修改需要填写理由。")

    clock.set(datetime.fromisoformat("2026-12-03T11:00:00+08:00"))
    outcome = await act(sessions, clock, click(card, "需修改", "ding_li", reason="标题字号太小"))
    assert outcome.ok and outcome.message == f"已要求修改：跨部门评审 #{review_id} 海报终稿"
    assert outcome.card is not None and outcome.card.lines[-1] == "✅ 李四 已要求修改 · 12-03 11:00 (钉钉)"
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(ReviewRequest, review_id)).status == ReviewStatus.changes_requested
    (answer,) = [a for a in await audit_rows(sessions, ReviewSubject.request, review_id) if a.action == "review.answer"]
    assert answer.source == "dingtalk" and answer.after is not None and answer.after["comment"] == "标题字号太小"

    again = await act(sessions, clock, click(card, "通过", "ding_li"))
    assert (again.ok, again.stale, again.message) == (False, True, "已由 李四 于 12-03 11:00 要求修改")


async def test_a_review_is_approved_by_command_and_only_by_a_reviewer(sessions, clock, org):
    review_id, _ = await ask_review(sessions, clock, org)
    command = parse_command(f"通过 R{review_id}")
    assert command.verb == Verb.review_approve
    not_asked = await act(sessions, clock, command.action(source=Source.dingtalk, chat_user_id="ding_wang"))
    assert (not_asked.ok, not_asked.message) == (False, "你不是本轮的评审人。")
    approved = await act(sessions, clock, command.action(source=Source.dingtalk, chat_user_id="ding_li"))
    assert approved.ok
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(ReviewRequest, review_id)).status == ReviewStatus.approved
