"""The first closed loop: an open task past its due time raises one `task.overdue` alert
per routed channel, written to the outbox in the sweep's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import OPEN_TASK_STATUSES, Campaign, Department, Task, User
from shared.notify.channels import channels_for_department
from shared.notify.outbox import OutboxItem, add_to_outbox


def task_url(public_url: str, task_id: int) -> str:
    return f"{public_url}/api/v1/tasks/{task_id}"


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "mobile": user.mobile,
        "feishu_open_id": user.feishu_open_id,
        "dingtalk_user_id": user.dingtalk_user_id,
        "wecom_user_id": user.wecom_user_id,
        "locale": user.locale.value,
    }


async def overdue_payload(session: AsyncSession, task: Task, *, public_url: str) -> dict[str, Any]:
    assignee = await session.get(User, task.assignee_id) if task.assignee_id else None
    campaign = await session.get(Campaign, task.campaign_id) if task.campaign_id else None
    department = await session.get(Department, assignee.department_id) if assignee and assignee.department_id else None
    assert task.due_at is not None
    return {
        "task": {
            "id": task.id,
            "title": task.title,
            "status": task.status.value,
            "priority": task.priority.value,
            "due_at": task.due_at.isoformat(),
            "url": task_url(public_url, task.id),
        },
        "assignee": _person(assignee),
        "campaign": {"id": campaign.id, "name": campaign.name} if campaign else None,
        "department": {"id": department.id, "name": department.name} if department else None,
    }


async def sweep_overdue_tasks(
    session: AsyncSession, *, now: datetime, batch_size: int, public_url: str
) -> tuple[int, list[int]]:
    """Claim up to batch_size overdue tasks (SKIP LOCKED) and write their alerts.

    Returns (tasks claimed, new notification ids). Safe to run from any number of workers.
    """
    tasks = list(
        (
            await session.scalars(
                select(Task)
                .where(
                    Task.overdue_alerted_at.is_(None),
                    Task.due_at.is_not(None),
                    Task.due_at <= now,
                    Task.status.in_(OPEN_TASK_STATUSES),
                )
                .order_by(Task.due_at)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    items: list[OutboxItem] = []
    for task in tasks:
        payload = await overdue_payload(session, task, public_url=public_url)
        department_id = (payload["department"] or {}).get("id")
        assert task.due_at is not None
        occurrence = int(task.due_at.timestamp())
        for channel in await channels_for_department(session, department_id):
            items.append(
                OutboxItem(
                    dedupe_key=f"task.overdue:{task.id}:{occurrence}:ch{channel.id}",
                    event_type="task.overdue",
                    subject_type="task",
                    subject_id=task.id,
                    channel_id=channel.id,
                    payload=payload,
                )
            )
        task.overdue_alerted_at = now
    ids = await add_to_outbox(session, items, now=now)
    await session.flush()
    return len(tasks), ids
