"""What the SLA engine needs to know about a subject, whatever its type.

Each subject type is a loader (ids → contexts) and its statuses: tasks, campaign stages, review
requests and each reviewer's answer, approvers on an approval step, collaboration occurrences and
customer feedback all get timers, escalation and notifications from the one engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.models import (
    Approval,
    ApprovalAssignment,
    ApprovalStep,
    Campaign,
    CampaignStage,
    CampaignStatus,
    CollaborationOccurrence,
    CollaborationRequest,
    Department,
    Feedback,
    ReviewRequest,
    ReviewResponse,
    StageStatus,
    Task,
    User,
)


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
            "tags": list(self.tags),
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
    # The sweep's hot path: one array-bound Core query, no ORM identity map or IN-list expansion.
    rows = await (await session.connection()).execute(_TASKS, {"ids": list(ids)})
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


def _target(raw: dict[str, Any] | None) -> tuple[str, str] | None:
    return (raw["kind"], str(raw["value"])) if raw else None


async def _load_reviews(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """A review request as a whole: the requester owns it (and its resubmission after changes)."""
    rows = await session.execute(select(ReviewRequest).where(ReviewRequest.id.in_(list(ids))))
    return {
        r.id: SubjectContext(
            type="review_request",
            id=r.id,
            title=r.title,
            status=str(r.status),
            path=f"/api/v1/reviews/{r.id}",
            assignee_id=r.requester_id,
            department_id=r.department_id,
            campaign_id=r.campaign_id,
        )
        for r in rows.scalars()
    }


async def _load_review_responses(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """One reviewer's answer in one round: owed by the named reviewer, else the department's head;
    it counts against the reviewing department, so its escalations reach that department's head."""
    reviewer = aliased(User)
    rows = await session.execute(
        select(
            ReviewResponse.id,
            ReviewResponse.status,
            ReviewResponse.round,
            ReviewResponse.user_id,
            ReviewResponse.department_id,
            ReviewRequest.id.label("review_id"),
            ReviewRequest.title,
            ReviewRequest.campaign_id,
            ReviewRequest.response_target,
            Department.name.label("department_name"),
            Department.head_user_id,
            reviewer.name.label("reviewer_name"),
            reviewer.department_id.label("reviewer_department_id"),
        )
        .join(ReviewRequest, ReviewRequest.id == ReviewResponse.review_id)
        .outerjoin(Department, Department.id == ReviewResponse.department_id)
        .outerjoin(reviewer, reviewer.id == ReviewResponse.user_id)
        .where(ReviewResponse.id.in_(list(ids)))
    )
    return {
        r.id: SubjectContext(
            type="review_response",
            id=r.id,
            title=f"{r.title} · {r.department_name or r.reviewer_name or '?'}",
            status=str(r.status),
            path=f"/api/v1/reviews/{r.review_id}",
            assignee_id=r.user_id or r.head_user_id,
            department_id=r.department_id or r.reviewer_department_id,
            campaign_id=r.campaign_id,
            explicit_target=_target(r.response_target),
        )
        for r in rows
    }


async def _load_approval_assignments(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """One approver on the active step of an approval, timed by the step's own limit if it has one."""
    approver = aliased(User)
    rows = await session.execute(
        select(
            ApprovalAssignment.id,
            ApprovalAssignment.status,
            ApprovalAssignment.approver_id,
            Approval.id.label("approval_id"),
            Approval.title,
            Approval.campaign_id,
            Approval.department_id,
            ApprovalStep.name.label("step_name"),
            ApprovalStep.time_limit,
            approver.department_id.label("approver_department_id"),
        )
        .join(ApprovalStep, ApprovalStep.id == ApprovalAssignment.step_id)
        .join(Approval, Approval.id == ApprovalAssignment.approval_id)
        .outerjoin(approver, approver.id == ApprovalAssignment.approver_id)
        .where(ApprovalAssignment.id.in_(list(ids)))
    )
    return {
        r.id: SubjectContext(
            type="approval_assignment",
            id=r.id,
            title=f"{r.title} · {r.step_name}",
            status=str(r.status),
            path=f"/api/v1/approvals/{r.approval_id}",
            assignee_id=r.approver_id,
            department_id=r.approver_department_id or r.department_id,
            campaign_id=r.campaign_id,
            explicit_target=_target(r.time_limit),
        )
        for r in rows
    }


async def _load_collaboration(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """One occurrence of a collaboration request (a recurring one has one per working day): owed by
    the request's owner on the first collaborating department, due when the occurrence says."""
    rows = await session.execute(
        select(
            CollaborationOccurrence.id,
            CollaborationOccurrence.status,
            CollaborationOccurrence.occurrence_date,
            CollaborationOccurrence.due_at,
            CollaborationRequest.id.label("request_id"),
            CollaborationRequest.matter,
            CollaborationRequest.owner_id,
            CollaborationRequest.campaign_id,
            CollaborationRequest.collaborating_department_ids,
            CollaborationRequest.deadline_kind,
            CollaborationRequest.deadline_value,
            User.department_id.label("owner_department_id"),
        )
        .join(CollaborationRequest, CollaborationRequest.id == CollaborationOccurrence.request_id)
        .outerjoin(User, User.id == CollaborationRequest.owner_id)
        .where(CollaborationOccurrence.id.in_(list(ids)))
    )
    out = {}
    for r in rows:
        recurring = r.deadline_kind == "daily_at"
        departments = list(r.collaborating_department_ids or [])
        out[r.id] = SubjectContext(
            type="collaboration",
            id=r.id,
            title=f"{r.matter} · {r.occurrence_date.isoformat()}" if recurring else r.matter,
            status=str(r.status),
            path=f"/api/v1/collaboration-requests/{r.request_id}",
            assignee_id=r.owner_id,
            department_id=r.owner_department_id or (departments[0] if departments else None),
            campaign_id=r.campaign_id,
            explicit_due_at=r.due_at,
            explicit_target=(r.deadline_kind, r.deadline_value),
        )
    return out


async def _load_feedback(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """Customer feedback or a complaint: its kind is a tag and its severity a priority, so policies
    tell them apart (`tags: [complaint]`, `priorities: [urgent]`)."""
    rows = await session.execute(select(Feedback).where(Feedback.id.in_(list(ids))))
    out = {}
    for r in rows.scalars():
        who = f"{r.customer_name}: " if r.customer_name else ""
        snippet = r.content if len(r.content) <= 60 else r.content[:59] + "…"
        out[r.id] = SubjectContext(
            type="feedback",
            id=r.id,
            title=f"{who}{snippet}",
            status=str(r.status),
            path=f"/api/v1/feedback/{r.id}",
            priority=str(r.severity),
            assignee_id=r.owner_id,
            department_id=r.department_id,
            campaign_id=r.campaign_id,
            tags=(str(r.kind),),
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
    "review_request": SubjectType(
        name="review_request",
        load=_load_reviews,
        statuses=("in_review", "changes_requested", "approved", "rejected", "cancelled"),
        default_start=("in_review",),
        default_pause=("changes_requested",),
        default_stop=("approved", "rejected"),
        default_cancel=("cancelled",),
    ),
    "review_response": SubjectType(
        name="review_response",
        load=_load_review_responses,
        statuses=("pending", "answered", "cancelled"),
        default_start=("pending",),
        default_stop=("answered",),
        default_cancel=("cancelled",),
    ),
    "approval_assignment": SubjectType(
        name="approval_assignment",
        load=_load_approval_assignments,
        statuses=("pending", "approved", "rejected", "withdrawn"),
        default_start=("pending",),
        default_stop=("approved", "rejected"),
        default_cancel=("withdrawn",),
    ),
    "collaboration": SubjectType(
        name="collaboration",
        load=_load_collaboration,
        statuses=("open", "done", "cancelled"),
        default_start=("open",),
        default_stop=("done",),
        default_cancel=("cancelled",),
    ),
    "feedback": SubjectType(
        name="feedback",
        load=_load_feedback,
        statuses=("new", "responded", "resolved", "closed"),
        default_start=("new",),
        default_stop=("responded", "resolved", "closed"),
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
