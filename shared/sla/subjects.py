"""What the SLA engine needs to know about a subject, whatever its type.

Tasks register here now; review requests, feedback and collaboration requests register their own
adapter later and get timers, escalation and notifications without engine changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Task, User


@dataclass(frozen=True)
class SubjectContext:
    type: str
    id: int
    title: str
    status: str
    path: str  # API path, e.g. /api/v1/tasks/7 (prefixed with PUBLIC_URL in messages)
    priority: str | None = None
    assignee_id: int | None = None
    department_id: int | None = None
    campaign_id: int | None = None
    tags: tuple[str, ...] = ()
    explicit_due_at: datetime | None = None

    def as_payload(self, public_url: str) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "priority": self.priority,
            "url": f"{public_url}{self.path}",
        }


Loader = Callable[[AsyncSession, Iterable[int]], Awaitable[dict[int, SubjectContext]]]


@dataclass(frozen=True)
class SubjectType:
    name: str
    load: Loader
    statuses: tuple[str, ...]
    default_start: tuple[str, ...] = ()
    default_pause: tuple[str, ...] = ()
    default_stop: tuple[str, ...] = ()
    default_cancel: tuple[str, ...] = field(default=())


_TASKS = (
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


async def _load_tasks(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    rows = await session.execute(
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
        .where(Task.id.in_(list(ids)))
    )
    return {
        r.id: SubjectContext(
            type="task",
            id=r.id,
            title=r.title,
            status=str(r.status),
            path=f"/api/v1/tasks/{r.id}",
            priority=str(r.priority),
            assignee_id=r.assignee_id,
            department_id=r.department_id,
            campaign_id=r.campaign_id,
            tags=tuple(r.tags or ()),
            explicit_due_at=r.due_at,
        )
        for r in rows
    }


SUBJECT_TYPES: dict[str, SubjectType] = {
    "task": SubjectType(
        name="task",
        load=_load_tasks,
        statuses=("todo", "in_progress", "blocked", "done", "cancelled"),
        default_start=("todo", "in_progress"),
        default_pause=("blocked",),
        default_stop=("done",),
        default_cancel=("cancelled",),
    ),
}


def matches(conditions: dict[str, Any], ctx: SubjectContext) -> bool:
    """Empty or missing conditions match everything; listed values must include the subject's."""
    if (p := conditions.get("priorities")) and ctx.priority not in p:
        return False
    if (d := conditions.get("department_ids")) and ctx.department_id not in d:
        return False
    if (c := conditions.get("campaign_ids")) and ctx.campaign_id not in c:
        return False
    return not ((t := conditions.get("tags")) and not set(t) & set(ctx.tags))
