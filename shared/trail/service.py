"""An item's trail: its comments, every audited change and every escalation its deadlines fired,
merged in time order — the 留痕 the source documents ask of every piece of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.audit import service as audit
from shared.errors import NotFound
from shared.models import (
    Approval,
    ApprovalAssignment,
    AuditLog,
    Base,
    Campaign,
    CampaignStage,
    CollaborationOccurrence,
    CollaborationRequest,
    Comment,
    Escalation,
    Feedback,
    ReviewRequest,
    ReviewResponse,
    Task,
    User,
)

# Trail subject → its table, and the SLA subjects whose escalations belong to its trail.
SUBJECTS: dict[str, type[Base]] = {
    "campaign": Campaign,
    "campaign_stage": CampaignStage,
    "task": Task,
    "review_request": ReviewRequest,
    "approval": Approval,
    "collaboration_request": CollaborationRequest,
    "feedback": Feedback,
}
MAX_BODY = 20_000


@dataclass
class TrailEntry:
    at: datetime
    kind: str  # comment | change | escalation
    action: str  # "comment", "create", "review.answer", "sla.breach" …
    actor: str | None  # "user:3", "system:worker"
    actor_user_id: int | None
    actor_name: str | None
    details: dict[str, Any]


async def require_subject(session: AsyncSession, subject_type: str, subject_id: int) -> None:
    model = SUBJECTS[subject_type]
    if await session.scalar(select(model.id).where(model.id == subject_id)) is None:  # type: ignore[attr-defined]
        raise NotFound(f"{subject_type} {subject_id} does not exist")


async def add_comment(
    session: AsyncSession, *, actor: Actor, subject_type: str, subject_id: int, body: str, now: datetime
) -> Comment:
    """Comment on an item (audited like every write)."""
    await require_subject(session, subject_type, subject_id)
    comment = Comment(
        subject_type=subject_type, subject_id=subject_id, author_id=actor.user_id, body=body, created_at=now
    )
    session.add(comment)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="comment",
        entity_type=subject_type,
        entity_id=subject_id,
        after={"comment_id": comment.id},
    )
    return comment


async def _sla_subjects(session: AsyncSession, subject_type: str, subject_id: int) -> list[tuple[str, list[int]]]:
    """The SLA subjects (type, ids) whose escalations are part of this item's trail."""
    if subject_type in ("task", "campaign_stage", "feedback"):
        return [(subject_type, [subject_id])]
    if subject_type == "campaign":
        stages = await session.scalars(select(CampaignStage.id).where(CampaignStage.campaign_id == subject_id))
        return [("campaign_stage", list(stages))]
    if subject_type == "review_request":
        responses = await session.scalars(select(ReviewResponse.id).where(ReviewResponse.review_id == subject_id))
        return [("review_request", [subject_id]), ("review_response", list(responses))]
    if subject_type == "approval":
        assignments = await session.scalars(
            select(ApprovalAssignment.id).where(ApprovalAssignment.approval_id == subject_id)
        )
        return [("approval_assignment", list(assignments))]
    occurrences = await session.scalars(
        select(CollaborationOccurrence.id).where(CollaborationOccurrence.request_id == subject_id)
    )
    return [("collaboration", list(occurrences))]


async def trail(session: AsyncSession, subject_type: str, subject_id: int, *, limit: int = 500) -> list[TrailEntry]:
    """The item's history, oldest first (the most recent `limit` entries)."""
    await require_subject(session, subject_type, subject_id)
    entries: list[TrailEntry] = []
    names: dict[int, str] = {}
    comments = list(
        await session.scalars(
            select(Comment)
            .where(Comment.subject_type == subject_type, Comment.subject_id == subject_id)
            .order_by(Comment.id.desc())
            .limit(limit)
        )
    )
    changes = list(
        await session.scalars(
            select(AuditLog)
            .where(AuditLog.entity_type == subject_type, AuditLog.entity_id == subject_id, AuditLog.action != "comment")
            .order_by(AuditLog.id.desc())
            .limit(limit)
        )
    )
    sla = [(t, ids) for t, ids in await _sla_subjects(session, subject_type, subject_id) if ids]
    escalations = (
        list(
            await session.scalars(
                select(Escalation)
                .where(or_(*(and_(Escalation.subject_type == t, Escalation.subject_id.in_(ids)) for t, ids in sla)))
                .order_by(Escalation.id.desc())
                .limit(limit)
            )
        )
        if sla
        else []
    )
    user_ids = {c.author_id for c in comments} | {a.actor_user_id for a in changes}
    user_ids.discard(None)
    if user_ids:
        names = {u.id: u.name for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
    for c in comments:
        entries.append(
            TrailEntry(
                c.created_at,
                "comment",
                "comment",
                f"user:{c.author_id}" if c.author_id else None,
                c.author_id,
                names.get(c.author_id or -1),
                {"comment_id": c.id, "body": c.body},
            )
        )
    for a in changes:
        entries.append(
            TrailEntry(
                a.at,
                "change",
                a.action,
                a.actor,
                a.actor_user_id,
                names.get(a.actor_user_id or -1),
                {"before": a.before, "after": a.after},
            )
        )
    for e in escalations:
        entries.append(
            TrailEntry(
                e.fired_at,
                "escalation",
                f"sla.{e.kind.value}",
                "system:worker",
                None,
                None,
                {
                    "subject_type": e.subject_type,
                    "subject_id": e.subject_id,
                    "level": e.level,
                    "repeat": e.repeat,
                    "scheduled_at": e.scheduled_at.isoformat(),
                    "late_by_s": e.late_by_s,
                    "recipients": e.recipients,
                    "notes": e.notes,
                    "suppressed": e.suppressed,
                },
            )
        )
    entries.sort(key=lambda x: x.at)
    return entries[-limit:]
