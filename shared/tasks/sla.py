"""Tasks as SLA subjects: their own due date, else the policy's target; blocked pauses the clock."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import RawSelect
from shared.models import Task, TaskStatus, User
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class TaskSubject(StrEnum):
    task = "task"


_TASKS = RawSelect(
    select(
        Task.id,
        Task.title,
        Task.status,
        Task.priority,
        Task.assignee_id,
        Task.campaign_id,
        Task.tags,
        Task.due_at,
        User.department_id,
    )
    .outerjoin(User, User.id == Task.assignee_id)
    .where(Task.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
)


async def load_tasks(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    # The sweep's hot path: one array-bound query, columns as the driver decodes them; no ORM
    # identity map, IN-list expansion or per-row result processing.
    return {
        id_: SubjectContext(
            type=TaskSubject.task,
            id=id_,
            title=title,
            status=status,
            path=f"/api/v1/tasks/{id_}",
            priority=priority,
            assignee_id=assignee_id,
            department_id=department_id,
            campaign_id=campaign_id,
            tags=tuple(tags or ()),
            explicit_due_at=due_at,
        )
        for id_, title, status, priority, assignee_id, campaign_id, tags, due_at, department_id in await _TASKS.fetch(
            session, ids=list(ids)
        )
    }


# Tasks: warn at 80 %, breach → assignee + manager (reminded every 4 working hours, at most 3
# times), +24 working hours → director.
DEFAULT_TASK_ESCALATION: dict[str, Any] = {
    "name": "任务默认升级 Task default escalation",
    "description": "warn at 80 %; breach → assignee + manager, repeated every 4 working hours (max 3); "
    "+24 working hours → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"], "repeat_every": "PT4H", "max_repeats": 3},
        {"offset": "+PT24H", "recipients": ["director"]},
    ],
}
DEFAULT_TASK_POLICY: dict[str, Any] = {
    "name": "任务截止 Task deadline",
    "description": "every open task: its own due date, else 3 working days; blocked pauses the clock",
    "conditions": {},
    "target_kind": "working_days",
    "target_value": "3",
    "start_statuses": ["todo", "in_progress"],
    "pause_statuses": ["blocked"],
    "stop_statuses": ["done"],
    "cancel_statuses": ["cancelled"],
    "pin_default_calendar": True,
}

register_item(TrailItem(TaskSubject.task, Task.id))
TASK = register(
    SubjectSpec(
        type=TaskSubject.task,
        load=load_tasks,
        statuses=tuple(TaskStatus),
        labels={"zh-CN": "任务", "en-US": "Task"},
        trail=(TrailLink(TaskSubject.task, Task.id),),
        due_column=Task.due_at,
        default_start=(TaskStatus.todo, TaskStatus.in_progress),
        default_pause=(TaskStatus.blocked,),
        default_stop=(TaskStatus.done,),
        default_cancel=(TaskStatus.cancelled,),
        default_policies=((DEFAULT_TASK_ESCALATION, DEFAULT_TASK_POLICY),),
    )
)
