"""完成 from the chat: the item is met by its own domain (task, collaboration occurrence,
rectification item), audited as coming from the chat and shown so in the trail; a second click
says who finished it; other types say they cannot be completed here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from shared.actor import Actor
from shared.chat.actions import ChatAction, Source, Target, Verb
from shared.collaboration import service as collaboration
from shared.collaboration.schemas import CollaborationCreate, CollaborationDeadline
from shared.collaboration.sla import CollaborationSubject
from shared.db import unit_of_work
from shared.models import CollaborationOccurrence, OccurrenceStatus, Task, TaskStatus, TimerState
from shared.rectifications import service as rectifications
from shared.rectifications.models import Rectification, RectificationStatus
from shared.rectifications.schemas import RectificationCreate
from shared.rectifications.sla import RectificationSubject
from shared.tasks.sla import TaskSubject
from tests.chat.conftest import OU_QIAN, act, feishu, make_task, sweep, timer_of


async def test_done_meets_the_task_and_its_trail_says_it_came_from_feishu(sessions, clock, client, org, repeating):
    task = await make_task(sessions, clock, org)
    await sweep(sessions, clock, "2026-12-03T11:00:01+08:00")
    clock.set(datetime.fromisoformat("2026-12-03T11:30:00+08:00"))
    outcome = await act(sessions, clock, feishu(Verb.done, Target(TaskSubject.task, task.id)))
    assert outcome.ok and outcome.message == f"已完成：任务 #{task.id}"
    assert outcome.card is not None and outcome.card.buttons == []
    assert outcome.card.lines[-1] == "✅ 张三 已完成 · 12-03 11:30 (飞书)"
    async with unit_of_work(sessions) as s:
        done = await s.get_one(Task, task.id)
        assert (done.status, done.completed_at) == (TaskStatus.done, clock.now())
    timer = await timer_of(sessions, task.id)
    assert (timer.state, timer.met_at) == (TimerState.met, clock.now())

    r = await client.get(f"/api/v1/trail/task/{task.id}", headers=org.headers(org.zhang))
    assert r.status_code == 200, r.text
    changes = [(e["action"], e["actor_name"], e["source"]) for e in r.json()["entries"] if e["kind"] == "change"]
    assert changes == [("create", "李经理", "api"), ("update", "张三", "feishu")]


async def test_a_second_done_says_who_finished_it_and_changes_nothing(sessions, clock, org):
    task = await make_task(sessions, clock, org)
    clock.set(datetime.fromisoformat("2026-12-03T10:30:00+08:00"))
    assert (await act(sessions, clock, feishu(Verb.done, Target(TaskSubject.task, task.id)))).ok
    clock.set(datetime.fromisoformat("2026-12-03T10:45:00+08:00"))
    again = await act(
        sessions, clock, ChatAction(Verb.done, Target(TaskSubject.task, task.id), Source.dingtalk, "ding_li")
    )
    assert (again.ok, again.stale, again.message) == (False, True, "已由 张三 于 12-03 10:30 完成")
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).completed_at == datetime.fromisoformat("2026-12-03T10:30:00+08:00")


async def test_a_cancelled_task_is_not_completed_from_the_chat(sessions, clock, org):
    task = await make_task(sessions, clock, org, status=TaskStatus.cancelled)
    outcome = await act(sessions, clock, feishu(Verb.done, Target(TaskSubject.task, task.id)))
    assert (outcome.ok, outcome.stale) == (False, False)
    assert outcome.message == f"未执行：task {task.id} is cancelled"
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).status == TaskStatus.cancelled


async def test_another_departments_member_gets_not_found_without_the_title(sessions, clock, org):
    task = await make_task(sessions, clock, org)
    outcome = await act(sessions, clock, feishu(Verb.done, Target(TaskSubject.task, task.id), who=OU_QIAN))
    assert (outcome.ok, outcome.message) == (False, f"找不到任务 #{task.id}，或你无权查看。")
    missing = await act(sessions, clock, feishu(Verb.done, Target(TaskSubject.task, 999)))
    assert missing.message == "找不到任务 #999，或你无权查看。"  # the same words as a missing one
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).status == TaskStatus.todo


async def test_a_rectification_item_and_a_collaboration_occurrence_are_completed_by_their_domains(sessions, clock, org):
    zhang = Actor.user(org.zhang.id, org.zhang.role, org.marketing.id)
    async with unit_of_work(sessions) as s:
        item = await rectifications.create(
            s, actor=zhang, data=RectificationCreate(title="预审清单", owner_id=org.zhang.id), now=clock.now()
        )
        request = await collaboration.create_request(
            s,
            actor=zhang,
            data=CollaborationCreate(
                matter="提供销售数据",
                collaborating_department_ids=[org.marketing.id],
                owner_id=org.li.id,
                deadline=CollaborationDeadline(kind="calendar", value="PT24H"),
            ),
            now=clock.now(),
        )
        (occurrence_id,) = await s.scalars(
            select(CollaborationOccurrence.id).where(CollaborationOccurrence.request_id == request.id)
        )
    fixed = await act(sessions, clock, feishu(Verb.done, Target(RectificationSubject.rectification, item.id)))
    assert fixed.ok and fixed.message == f"已完成：整改措施 #{item.id}"
    answered = await act(
        sessions,
        clock,
        ChatAction(Verb.done, Target(CollaborationSubject.occurrence, occurrence_id), Source.dingtalk, "ding_li"),
    )
    assert answered.ok
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Rectification, item.id)).status == RectificationStatus.done
        occurrence = await s.get_one(CollaborationOccurrence, occurrence_id)
        assert (occurrence.status, occurrence.done_by) == (OccurrenceStatus.done, org.li.id)
    again = await act(
        sessions,
        clock,
        ChatAction(Verb.done, Target(CollaborationSubject.occurrence, occurrence_id), Source.dingtalk, "ding_li"),
    )
    assert (again.stale, again.message) == (True, "已由 李四 于 12-03 10:00 完成")
