"""An item's trail: its comments, every audited change and every escalation its deadlines fired,
merged in time order — the 留痕 the source documents ask of every piece of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import subjects  # noqa: F401 — every trail item and subject type is registered
from shared.models import AuditLog, Comment, Escalation, User
from shared.sla import registry
from shared.trail.comments import MAX_BODY, add_comment, item_aliases, item_name, item_names, require_subject

__all__ = [
    "MAX_BODY",
    "TrailEntry",
    "add_comment",
    "item_aliases",
    "item_name",
    "item_names",
    "require_subject",
    "trail",
]


@dataclass
class TrailEntry:
    at: datetime
    kind: str  # comment | change | escalation
    action: str  # "comment", "create", "review.answer", "sla.breach" …
    actor: str | None  # "user:3", "system:worker"
    actor_user_id: int | None
    actor_name: str | None
    details: dict[str, Any]
    source: str | None = None  # a change's: `api`, `feishu`, `dingtalk` … (None: CLI, background)


async def _sla_subjects(session: AsyncSession, item: str, item_id: int) -> list[tuple[str, list[int]]]:
    """The SLA subjects (type, ids) whose escalations are part of this item's trail: every
    registered subject type linked to the item, found through its link column."""
    out = []
    for spec in registry.subject_types():
        for link in spec.trail:
            if link.item != item:
                continue
            own_id = link.column.class_.id
            if link.column is own_id:  # the subject is the item itself
                out.append((spec.name, [item_id]))
            else:
                out.append((spec.name, list(await session.scalars(select(own_id).where(link.column == item_id)))))
    return out


async def trail(session: AsyncSession, subject_type: str, subject_id: int, *, limit: int = 500) -> list[TrailEntry]:
    """The item's history, oldest first (the most recent `limit` entries); `subject_type` may be the
    item's registered name or its route-style alias."""
    subject_type = await require_subject(session, subject_type, subject_id)
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
                a.source,
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
