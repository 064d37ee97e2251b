"""申请延期 from the chat: the terms and a reason are needed before anything is asked; the request
itself is the extension domain's (`shared.sla.extensions`, built alongside)."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.chat.actions import ChatAction, Source, Target, Verb
from shared.db import unit_of_work
from shared.models import Approval
from shared.tasks.sla import TaskSubject
from shared.workflow.templates import ensure_workflow_defaults
from tests.chat.conftest import OU_QIAN, OU_ZHANG, act, make_task


async def approvals(sessions) -> list[Approval]:
    async with unit_of_work(sessions) as s:
        return list(await s.scalars(select(Approval).order_by(Approval.id)))


async def test_an_extension_needs_its_terms_and_a_reason_and_is_checked_like_any_write(sessions, clock, org, repeating):
    task = await make_task(sessions, clock, org)
    target = Target(TaskSubject.task, task.id)
    no_reason = await act(sessions, clock, ChatAction(Verb.extend, target, Source.feishu, OU_ZHANG, extend_by="2d"))
    assert (no_reason.ok, no_reason.message) == (False, "申请延期需要填写理由。")
    no_terms = await act(sessions, clock, ChatAction(Verb.extend, target, Source.feishu, OU_ZHANG, reason="素材未到"))
    assert no_terms.message.startswith("延期需要新的截止时间")
    outsider = await act(
        sessions, clock, ChatAction(Verb.extend, target, Source.feishu, OU_QIAN, extend_by="2d", reason="x")
    )
    assert outsider.message == f"找不到任务 #{task.id}，或你无权查看。"
    assert await approvals(sessions) == []


async def test_an_extension_request_from_the_card_becomes_an_approval(sessions, clock, org, repeating):
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    task = await make_task(sessions, clock, org)
    action = ChatAction.from_value(
        {"v": "extend", "t": TaskSubject.task, "id": task.id},
        source=Source.feishu,
        chat_user_id=OU_ZHANG,
        reason="2d 素材未到",
    )
    outcome = await act(sessions, clock, action)
    assert outcome.ok, outcome.message
    (approval,) = await approvals(sessions)
    assert outcome.message == f"已提交延期申请（审批 #{approval.id}），等待审批"
    assert approval.requester_id == org.zhang.id
    again = await act(sessions, clock, action)  # one pending extension per item: the domain refuses
    assert not again.ok
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Approval)) == 1
