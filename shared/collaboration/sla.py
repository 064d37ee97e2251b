"""Collaboration requests as SLA subjects: each occurrence (a recurring request has one per
working day), owed by the request's owner, due when the occurrence says."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import CollaborationOccurrence, CollaborationRequest, OccurrenceStatus, User
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class CollaborationSubject(StrEnum):
    request = "collaboration_request"  # the trail item
    occurrence = "collaboration"  # the timed subject: one occurrence of a request


async def load_occurrences(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    """Owed by the request's owner on the first collaborating department."""
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
            type=CollaborationSubject.occurrence,
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


COLLABORATION_ESCALATION: dict[str, Any] = {
    "name": "协作升级 Collaboration escalation",
    "description": "warn the owner at 80 %; breach → owner + their department head; +4 working hours → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "department_head"]},
        {"offset": "+PT4H", "recipients": ["director"]},
    ],
}

# /collaboration-requests/{id}
register_item(TrailItem(CollaborationSubject.request, CollaborationRequest.id, aliases=("collaboration-request",)))
OCCURRENCE = register(
    SubjectSpec(
        type=CollaborationSubject.occurrence,
        load=load_occurrences,
        statuses=tuple(OccurrenceStatus),
        labels={"zh-CN": "跨部门协作", "en-US": "Collaboration request"},
        trail=(TrailLink(CollaborationSubject.request, CollaborationOccurrence.request_id),),
        due_column=CollaborationOccurrence.due_at,
        default_start=(OccurrenceStatus.open,),
        default_stop=(OccurrenceStatus.done,),
        default_cancel=(OccurrenceStatus.cancelled,),
        default_policies=(
            (
                COLLABORATION_ESCALATION,
                {
                    "name": "跨部门协作反馈 Collaboration feedback deadline",
                    "description": "each occurrence of a collaboration request, against the request's own deadline",
                    "target_kind": "working_days",
                    "target_value": "2",
                    "start_statuses": ["open"],
                    "stop_statuses": ["done"],
                    "cancel_statuses": ["cancelled"],
                },
            ),
        ),
    )
)
