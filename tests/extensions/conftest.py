"""The approvals tests' org (planner → manager → marketing director, the head of 市场部), its bots,
and a task of the planner's with its own due date."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import Approval, Task
from tests.approvals.conftest import Org
from tests.arrival.conftest import bots, org

__all__ = ["bots", "org"]


async def make_task(client, org: Org, due_at: str, user=None, **extra: Any) -> dict[str, Any]:
    user = user or org.planner
    body = {"title": "双十一海报", "assignee_id": user.id, "due_at": due_at, **extra}
    r = await client.post("/api/v1/tasks", headers=org.headers(user), json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def ask(client, org: Org, task_id: int, user=None, expect: int = 201, **body: Any) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/extension-requests",
        headers=org.headers(user or org.planner),
        json={"subject_type": "task", "subject_id": task_id, **body},
    )
    assert r.status_code == expect, r.text
    return r.json()


async def task_due(sessions, task_id: int):
    async with unit_of_work(sessions) as s:
        return (await s.get_one(Task, task_id)).due_at


async def approvals(sessions) -> list[Approval]:
    async with unit_of_work(sessions) as s:
        return list(await s.scalars(select(Approval).order_by(Approval.id)))
