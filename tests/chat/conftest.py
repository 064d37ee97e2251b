"""Two departments of people linked to their chat accounts, a task policy whose breach repeats,
and helpers to act from the chat, sweep and read what was recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from shared.actor import Actor
from shared.chat.actions import ChatAction, Outcome, Source, Target, Verb, perform
from shared.db import unit_of_work
from shared.models import AuditLog, Department, Role, SlaTimer, Task, User
from shared.sla.engine import sweep_due_timers
from shared.tasks.schemas import TaskCreate
from shared.tasks.service import create_task
from shared.tasks.sla import TaskSubject
from tests.factories import escalations, make_channel, make_department, make_policy, make_token, make_user, timers

T0 = "2026-12-03T10:00:00+08:00"  # a Thursday
# Feishu open ids as Feishu gives them.
OU_ZHANG = "ou_7d8a6e6df7621556ce0d21922b676706"
OU_QIAN = "ou_5ad573a6411d72b8305fda3a9c15c70e"
OU_STRANGER = "ou_c99c5f35d542efc7ee492afe11af19ef"
# The breach repeats every hour (three times); 3.5 hours after it the manager is told.
REPEATING = [
    {"offset": "0", "recipients": ["assignee"], "repeat_every": "PT1H", "max_repeats": 3},
    {"offset": "+PT3H30M", "recipients": ["assignee_manager"]},
]


@dataclass
class Org:
    marketing: Department
    finance: Department
    head: User  # 王总监, heads marketing
    manager: User  # 李经理
    zhang: User  # 张三, a planner on Feishu
    li: User  # 李四, a colleague on DingTalk
    outsider: User  # 钱会计, finance
    tokens: dict[int, str]

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user.id]}"}


@pytest.fixture
async def org(sessions, clock) -> Org:
    clock.set(datetime.fromisoformat(T0))
    marketing = await make_department(sessions, name="市场部")
    finance = await make_department(sessions, name="财务部")
    head = await make_user(
        sessions, name="王总监", department_id=marketing.id, role=Role.manager, dingtalk_user_id="ding_wang"
    )
    manager = await make_user(
        sessions, name="李经理", department_id=marketing.id, manager_id=head.id, role=Role.manager
    )
    zhang = await make_user(
        sessions, name="张三", department_id=marketing.id, manager_id=manager.id, feishu_open_id=OU_ZHANG
    )
    li = await make_user(sessions, name="李四", department_id=marketing.id, dingtalk_user_id="ding_li")
    outsider = await make_user(sessions, name="钱会计", department_id=finance.id, feishu_open_id=OU_QIAN)
    async with unit_of_work(sessions) as s:
        (await s.get_one(Department, marketing.id)).head_user_id = head.id
    await make_channel(sessions, url="http://127.0.0.1:9/hooks/market", department_ids=[marketing.id])
    tokens = {u.id: (await make_token(sessions, user=u))[1] for u in (head, manager, zhang, li, outsider)}
    return Org(marketing, finance, head, manager, zhang, li, outsider, tokens)


def feishu(verb: Verb, target: Target, who: str = OU_ZHANG, **extra: Any) -> ChatAction:
    return ChatAction(verb, target, Source.feishu, who, **extra)


async def act(sessions, clock, action: ChatAction) -> Outcome:
    """What a transport does: perform in one transaction, committed."""
    async with unit_of_work(sessions) as s:
        return await perform(s, clock, action)


async def make_task(sessions, clock, org: Org, **data: Any) -> Task:
    """张三's task, reported by 李经理 (so it belongs to marketing)."""
    reporter = Actor.user(org.manager.id, org.manager.role, org.marketing.id)
    async with unit_of_work(sessions) as s:
        return await create_task(
            s,
            actor=reporter,
            data=TaskCreate(**{"title": "双十一海报", "assignee_id": org.zhang.id, **data}),
            now=clock.now(),
        )


async def sweep(sessions, clock, iso: str) -> None:
    clock.set(datetime.fromisoformat(iso))
    async with unit_of_work(sessions) as s:
        await sweep_due_timers(s, now=clock.now(), batch_size=100)


async def fired(sessions, subject_id: int, subject_type: str = TaskSubject.task) -> list[tuple[int, int]]:
    return [(e.level, e.repeat) for e in await escalations(sessions, subject_type, subject_id)]


async def timer_of(sessions, task_id: int) -> SlaTimer:
    (timer,) = await timers(sessions, TaskSubject.task, task_id)
    return timer


async def audit_rows(sessions, entity_type: str, entity_id: int) -> list[AuditLog]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(AuditLog)
                .where(AuditLog.entity_type == entity_type, AuditLog.entity_id == entity_id)
                .order_by(AuditLog.id)
            )
        )


@pytest.fixture
async def repeating(sessions):
    """Tasks are due one calendar hour after they are created; the breach repeats hourly."""
    return await make_policy(sessions, levels=REPEATING, target_kind="calendar", target_value="PT1H")
