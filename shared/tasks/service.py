"""Task writes. Deadline bookkeeping happens here, in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, any_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import archive, crud
from shared.actor import Actor
from shared.archive import Disposal
from shared.audit import service as audit
from shared.errors import Conflict, FieldError, InvalidInput
from shared.filters import any_of, contains_text
from shared.models import OPEN_TASK_STATUSES, Campaign, CampaignStage, Priority, Task, TaskStatus, User
from shared.sla.registry import Completion, Done, on_campaign_cancelled, register_completion
from shared.sla.sync import check_due, sync_timers
from shared.tasks.schemas import TaskCreate, TaskUpdate
from shared.tasks.sla import TaskSubject


def _completion(status: TaskStatus | None, *, old: TaskStatus | None, now: datetime) -> dict[str, Any]:
    """`completed_at` follows the status: set when the task is done, cleared when it is reopened."""
    if status is None or status == old:
        return {}
    if status == TaskStatus.done:
        return {"completed_at": now}
    if old == TaskStatus.done:
        return {"completed_at": None}
    return {}


async def _campaign_of_stage(session: AsyncSession, stage_id: int, *, campaign_id: int | None) -> int:
    """A task inside a campaign stage belongs to that stage's campaign (taken from the stage when
    not given; a different campaign is refused)."""
    stage_campaign = await session.scalar(select(CampaignStage.campaign_id).where(CampaignStage.id == stage_id))
    if stage_campaign is None:
        raise InvalidInput.for_field("stage_id", f"campaign stage {stage_id} does not exist", "reference")
    if campaign_id is not None and campaign_id != stage_campaign:
        raise InvalidInput.for_field("stage_id", f"stage {stage_id} belongs to campaign {stage_campaign}")
    return stage_campaign


async def _require_live_campaign(session: AsyncSession, campaign_id: int | None) -> None:
    """New work does not go into an archived campaign (it would reappear on the boards)."""
    if campaign_id is not None and await session.scalar(
        select(Campaign.id).where(Campaign.id == campaign_id, Campaign.archived_at.is_not(None))
    ):
        raise InvalidInput.for_field("campaign_id", f"campaign {campaign_id} is archived", "state")


async def create_task(session: AsyncSession, *, actor: Actor, data: TaskCreate, now: datetime) -> Task:
    """Create a task (the caller is its reporter) and start its SLA timers."""
    await crud.check_references(
        session, {"campaign_id": (Campaign, data.campaign_id), "assignee_id": (User, data.assignee_id)}
    )
    check_due(data.due_at)
    campaign_id = data.campaign_id
    if data.stage_id is not None:
        campaign_id = await _campaign_of_stage(session, data.stage_id, campaign_id=campaign_id)
    await _require_live_campaign(session, campaign_id)
    task = Task(
        **data.model_dump(exclude={"campaign_id"}),
        campaign_id=campaign_id,
        reporter_id=actor.user_id,
        **_completion(data.status, old=None, now=now),
    )
    task = await crud.create(session, actor=actor, obj=task, entity_type=TaskSubject.task)
    await sync_timers(session, TaskSubject.task, [task.id], now=now, created=True)
    return task


async def update_task(session: AsyncSession, *, actor: Actor, task_id: int, changes: TaskUpdate, now: datetime) -> Task:
    """Change a task; its SLA timers follow (pause, resume, meet, cancel, new deadline) in this transaction."""
    task = await crud.get_or_404(session, Task, task_id, for_update=True)
    archive.require_live(task, TaskSubject.task)
    await crud.check_references(
        session, {"campaign_id": (Campaign, changes.campaign_id), "assignee_id": (User, changes.assignee_id)}
    )
    check_due(changes.due_at)
    given = changes.model_fields_set
    values = changes.model_dump(exclude_unset=True)
    if changes.stage_id is not None:
        campaign_id = changes.campaign_id if "campaign_id" in given else task.campaign_id
        values["campaign_id"] = await _campaign_of_stage(session, changes.stage_id, campaign_id=campaign_id)
    elif "campaign_id" in given and changes.campaign_id != task.campaign_id and task.stage_id is not None:
        values["stage_id"] = None  # moved to another campaign: it leaves its old campaign's stage
    if values.get("campaign_id", task.campaign_id) != task.campaign_id:
        await _require_live_campaign(session, values["campaign_id"])
    values |= _completion(changes.status, old=task.status, now=now)
    task = await crud.update(session, actor=actor, obj=task, changes=values, entity_type=TaskSubject.task)
    await sync_timers(session, TaskSubject.task, [task.id], now=now)
    return task


async def delete_task(session: AsyncSession, *, actor: Actor, task_id: int, now: datetime) -> Disposal:
    """DELETE a task (`shared.archive`): one never worked on is deleted; one with history is
    cancelled if open and archived. Either way its timers stop in the same transaction."""
    task = await crud.get_or_404(session, Task, task_id, for_update=True)
    history = await archive.history_of(session, TaskSubject.task, task_id)
    if history and task.archived_at is None:
        await archive_tasks(session, actor=actor, tasks=[task], now=now, history=history)
        return Disposal.archived
    disposal = await archive.remove(
        session, actor=actor, obj=task, entity_type=TaskSubject.task, now=now, history=history
    )
    await sync_timers(session, TaskSubject.task, [task_id], now=now)
    return disposal


async def archive_tasks(
    session: AsyncSession, *, actor: Actor, tasks: list[Task], now: datetime, history: list[str]
) -> None:
    """Cancel the open ones (their timers stop) and archive them all (`archive` in the audit log)."""
    for task in tasks:
        if task.status.is_open:
            await crud.update(
                session, actor=actor, obj=task, changes={"status": TaskStatus.cancelled}, entity_type=TaskSubject.task
            )
        await archive.archive(session, actor=actor, obj=task, entity_type=TaskSubject.task, now=now, history=history)
    await sync_timers(session, TaskSubject.task, [t.id for t in tasks], now=now)


def task_filter(
    stmt: Select[Any],
    *,
    statuses: Collection[TaskStatus] | None = None,
    assignee_id: int | None = None,
    campaign_id: int | None = None,
    stage_id: int | None = None,
    priority: Priority | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    overdue: bool | None = None,
    tag: str | None = None,
    q: str | None = None,
    archived: bool = False,
    now: datetime,
) -> Select[Any]:
    """The task board's filters (its department: `in_department`). Archived tasks only with
    `archived=True`."""
    stmt = archive.archived_filter(stmt, Task, archived)
    if statuses:
        stmt = stmt.where(any_of(Task.status, statuses))
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    if campaign_id is not None:
        stmt = stmt.where(Task.campaign_id == campaign_id)
    if stage_id is not None:
        stmt = stmt.where(Task.stage_id == stage_id)
    if priority is not None:
        stmt = stmt.where(Task.priority == priority)
    if due_before is not None:
        stmt = stmt.where(Task.due_at < due_before)
    if due_after is not None:
        stmt = stmt.where(Task.due_at >= due_after)
    if tag:
        stmt = stmt.where(literal(tag) == any_(Task.tags))
    if q:
        stmt = stmt.where(contains_text(q, Task.title))
    if overdue is True:
        stmt = stmt.where(Task.due_at <= now, Task.status.in_(OPEN_TASK_STATUSES))
    elif overdue is False:
        stmt = stmt.where((Task.due_at.is_(None)) | (Task.due_at > now) | Task.status.not_in(OPEN_TASK_STATUSES))
    return stmt


def in_department(department_id: int) -> list[ColumnElement[bool]]:
    """The ways a task is in a department, each served by its own index in id order: through its
    campaign (the campaign's department) or through its assignee (the assignee's department).
    Boards pass them to `paginate(any_of=…)`, which reads each on its index."""
    return [
        and_(Task.campaign_id.is_not(None), Task.department_id == department_id),
        Task.assignee_department_id == department_id,
    ]


@on_campaign_cancelled(TaskSubject.task)
async def cancel_for_campaign(session: AsyncSession, actor: Actor, campaign_id: int, now: datetime, reason: str) -> int:
    """The campaign was cancelled, or completed on a template that cancels open tasks (one that
    waits refuses the last gate while any is open): its open tasks are cancelled, timers too."""
    tasks = list(
        await session.scalars(
            select(Task)
            .where(Task.campaign_id == campaign_id, Task.status.in_(OPEN_TASK_STATUSES))
            .order_by(Task.id)
            .with_for_update()
        )
    )
    for task in tasks:
        await crud.update(
            session, actor=actor, obj=task, changes={"status": TaskStatus.cancelled}, entity_type=TaskSubject.task
        )
    await sync_timers(session, TaskSubject.task, [t.id for t in tasks], now=now)
    return len(tasks)


async def complete_task(session: AsyncSession, actor: Actor, task_id: int, now: datetime) -> None:
    """Mark an open task done (the chat's 完成): as a PATCH to `done` would; a task no longer open is a 409."""
    task = await crud.get_or_404(session, Task, task_id, for_update=True)
    if not task.status.is_open:
        raise Conflict(
            f"task {task_id} is {task.status.value}", errors=[FieldError("status", task.status.value, "state")]
        )
    await update_task(session, actor=actor, task_id=task_id, changes=TaskUpdate(status=TaskStatus.done), now=now)


async def task_done(session: AsyncSession, task_id: int) -> Done | None:
    task = await session.get(Task, task_id)
    if task is None or task.status != TaskStatus.done:
        return None
    who = await audit.who_set(session, entity_type=TaskSubject.task, entity_id=task_id, field="status", value="done")
    return Done(by=who[0] if who else None, at=task.completed_at)


register_completion(TaskSubject.task, Completion(complete=complete_task, completed=task_done))
