"""Task writes. Deadline bookkeeping happens here, in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.models import OPEN_TASK_STATUSES, Campaign, Priority, Task, TaskStatus, User


def _apply_status_side_effects(task_changes: dict[str, Any], *, old: Task | None, now: datetime) -> None:
    status = task_changes.get("status")
    if status is None or (old is not None and old.status == status):
        return
    if status == TaskStatus.done:
        task_changes["completed_at"] = now
    elif old is not None and old.status == TaskStatus.done:
        task_changes["completed_at"] = None


async def create_task(session: AsyncSession, *, actor: Actor, data: dict[str, Any], now: datetime) -> Task:
    """Create a task; the reporter is the caller."""
    await crud.check_references(
        session, {"campaign_id": (Campaign, data.get("campaign_id")), "assignee_id": (User, data.get("assignee_id"))}
    )
    data = {**data, "reporter_id": actor.user_id}
    _apply_status_side_effects(data, old=None, now=now)
    return await crud.create(session, actor=actor, obj=Task(**data), entity_type="task")


async def update_task(
    session: AsyncSession, *, actor: Actor, task_id: int, changes: dict[str, Any], now: datetime
) -> Task:
    """Change a task. A new due date re-arms the overdue alert for that date."""
    task = await crud.get_or_404(session, Task, task_id, for_update=True)
    await crud.check_references(
        session,
        {"campaign_id": (Campaign, changes.get("campaign_id")), "assignee_id": (User, changes.get("assignee_id"))},
    )
    changes = dict(changes)
    if "due_at" in changes and changes["due_at"] != task.due_at:
        changes["overdue_alerted_at"] = None
    _apply_status_side_effects(changes, old=task, now=now)
    return await crud.update(session, actor=actor, obj=task, changes=changes, entity_type="task")


def task_filter(
    stmt: Select[Any],
    *,
    status: TaskStatus | None,
    assignee_id: int | None,
    campaign_id: int | None,
    priority: Priority | None,
    due_before: datetime | None,
    due_after: datetime | None,
    overdue: bool | None,
    now: datetime,
) -> Select[Any]:
    if status is not None:
        stmt = stmt.where(Task.status == status)
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    if campaign_id is not None:
        stmt = stmt.where(Task.campaign_id == campaign_id)
    if priority is not None:
        stmt = stmt.where(Task.priority == priority)
    if due_before is not None:
        stmt = stmt.where(Task.due_at < due_before)
    if due_after is not None:
        stmt = stmt.where(Task.due_at >= due_after)
    if overdue is True:
        stmt = stmt.where(Task.due_at <= now, Task.status.in_(OPEN_TASK_STATUSES))
    elif overdue is False:
        stmt = stmt.where((Task.due_at.is_(None)) | (Task.due_at > now) | Task.status.not_in(OPEN_TASK_STATUSES))
    return stmt
