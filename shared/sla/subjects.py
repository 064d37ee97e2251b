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

from shared.models import Campaign, CampaignStage, CampaignStatus, StageStatus, Task, User


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
    # The subject's own target (kind, value), e.g. a campaign stage's time limit; else the policy's.
    explicit_target: tuple[str, str] | None = None
    timed: bool = True  # False: this subject has no deadline of its own (e.g. a stage "per plan")

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


async def _load_stages(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """A campaign's stage: owned by its owner, in the campaign's department, timed by its
    template's time limit; the active stage of a campaign on hold reads as `on_hold`."""
    rows = await session.execute(
        select(
            CampaignStage.id,
            CampaignStage.key,
            CampaignStage.name,
            CampaignStage.status,
            CampaignStage.owner_id,
            CampaignStage.spec,
            Campaign.id.label("campaign_id"),
            Campaign.name.label("campaign_name"),
            Campaign.status.label("campaign_status"),
            Campaign.department_id,
            User.department_id.label("owner_department_id"),
        )
        .join(Campaign, Campaign.id == CampaignStage.campaign_id)
        .outerjoin(User, User.id == CampaignStage.owner_id)
        .where(CampaignStage.id.in_(list(ids)))
    )
    out = {}
    for r in rows:
        status = str(r.status)
        if r.status == StageStatus.active and r.campaign_status == CampaignStatus.on_hold:
            status = "on_hold"
        limit = (r.spec or {}).get("time_limit")
        out[r.id] = SubjectContext(
            type="campaign_stage",
            id=r.id,
            title=f"{r.campaign_name} · {r.name}",
            status=status,
            path=f"/api/v1/campaigns/{r.campaign_id}/stages/{r.key}",
            assignee_id=r.owner_id,
            department_id=r.department_id or r.owner_department_id,
            campaign_id=r.campaign_id,
            explicit_target=(limit["kind"], limit["value"]) if limit else None,
            timed=limit is not None,
        )
    return out


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
    "campaign_stage": SubjectType(
        name="campaign_stage",
        load=_load_stages,
        statuses=("pending", "active", "on_hold", "done", "cancelled"),
        default_start=("active",),
        default_pause=("on_hold",),
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
