"""Reviews as SLA subjects: the review as a whole (owed by the requester, paused while it is back
with them, their resubmission timed too) and each reviewer's answer in each round."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.models import Department, ResponseStatus, ReviewRequest, ReviewResponse, ReviewStatus, User
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class ReviewSubject(StrEnum):
    request = "review_request"
    response = "review_response"


def _target(raw: dict[str, Any] | None) -> tuple[str, str] | None:
    return (raw["kind"], str(raw["value"])) if raw else None


async def load_reviews(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """A review request as a whole: the requester owns it (and its resubmission after changes)."""
    rows = await session.execute(select(ReviewRequest).where(ReviewRequest.id.in_(list(ids))))
    return {
        r.id: SubjectContext(
            type=ReviewSubject.request,
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


async def load_responses(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
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
            type=ReviewSubject.response,
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


REVIEW_ESCALATION: dict[str, Any] = {
    "name": "评审默认升级 Review default escalation",
    "description": "warn the requester at 80 %; breach → requester + manager; +8 working hours → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
        {"offset": "+PT8H", "recipients": ["director"]},
    ],
}
REVIEW_RESPONSE_ESCALATION: dict[str, Any] = {
    "name": "评审反馈升级 Reviewer feedback escalation",
    "description": "warn the reviewer at 80 %; breach → reviewer + the reviewing department's head, "
    "reminded every 4 hours (max 2)",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {
            "offset": "0",
            "recipients": ["assignee", "department_head"],
            "repeat_every": "PT4H",
            "max_repeats": 2,
        },
    ],
}

register_item(TrailItem(ReviewSubject.request, ReviewRequest.id, aliases=("review",)))  # /reviews/{id}
REVIEW = register(
    SubjectSpec(
        type=ReviewSubject.request,
        load=load_reviews,
        statuses=tuple(ReviewStatus),
        labels={"zh-CN": "跨部门评审", "en-US": "Cross-department review"},
        trail=(TrailLink(ReviewSubject.request, ReviewRequest.id),),
        default_start=(ReviewStatus.in_review,),
        default_pause=(ReviewStatus.changes_requested,),
        default_stop=(ReviewStatus.approved, ReviewStatus.rejected),
        default_cancel=(ReviewStatus.cancelled,),
        default_policies=(
            (
                REVIEW_ESCALATION,
                {
                    "name": "跨部门评审 2 个工作日 Review closes within 2 working days",
                    "description": "the whole review, from request to consensus; paused while it is back with the "
                    "requester",
                    "target_kind": "working_days",
                    "target_value": "2",
                    "start_statuses": ["in_review"],
                    "pause_statuses": ["changes_requested"],
                    "stop_statuses": ["approved", "rejected"],
                    "cancel_statuses": ["cancelled"],
                },
            ),
            (
                REVIEW_ESCALATION,
                {
                    "name": "评审修改重提 Resubmission within 1 working day",
                    "description": "after changes are requested, the requester resubmits within 1 working day",
                    "target_kind": "working_days",
                    "target_value": "1",
                    "start_statuses": ["changes_requested"],
                    "pause_statuses": [],
                    "stop_statuses": ["in_review", "approved", "rejected"],
                    "cancel_statuses": ["cancelled"],
                },
            ),
        ),
    )
)
RESPONSE = register(
    SubjectSpec(
        type=ReviewSubject.response,
        load=load_responses,
        statuses=tuple(ResponseStatus),
        labels={"zh-CN": "评审反馈", "en-US": "Review feedback"},
        trail=(TrailLink(ReviewSubject.request, ReviewResponse.review_id),),
        default_start=(ResponseStatus.pending,),
        default_stop=(ResponseStatus.answered,),
        default_cancel=(ResponseStatus.cancelled,),
        default_policies=(
            (
                REVIEW_RESPONSE_ESCALATION,
                {
                    "name": "评审部门 24 小时反馈 Reviewer answers within 24 h",
                    "description": "each reviewing department (or person) answers within the review's response "
                    "target (default 24 h calendar time)",
                    "target_kind": "calendar",
                    "target_value": "PT24H",
                    "start_statuses": ["pending"],
                    "stop_statuses": ["answered"],
                    "cancel_statuses": ["cancelled"],
                },
            ),
        ),
    )
)
