"""Rectification items as SLA subjects: owed by their owner, due at their own due date (else the
policy's target, or its own target of any kind); running while open or in progress; breach → the
owner and the owner's manager, then the director."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import User
from shared.rectifications.models import Rectification, RectificationStatus
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class RectificationSubject(StrEnum):
    rectification = "rectification"


async def load_rectifications(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    rows = await session.execute(
        select(
            Rectification.id,
            Rectification.title,
            Rectification.status,
            Rectification.owner_id,
            Rectification.campaign_id,
            Rectification.due_at,
            Rectification.deadline_kind,
            Rectification.deadline_value,
            User.department_id,
        )
        .outerjoin(User, User.id == Rectification.owner_id)
        .where(Rectification.id.in_(list(ids)))
    )
    return {
        r.id: SubjectContext(
            type=RectificationSubject.rectification,
            id=r.id,
            title=r.title,
            status=str(r.status),
            path=f"/api/v1/rectifications/{r.id}",
            assignee_id=r.owner_id,
            department_id=r.department_id,
            campaign_id=r.campaign_id,
            explicit_due_at=r.due_at,
            explicit_target=(
                (r.deadline_kind, r.deadline_value)
                if r.deadline_kind is not None and r.deadline_value is not None
                else None
            ),
        )
        for r in rows
    }


RECTIFICATION_ESCALATION: dict[str, Any] = {
    "name": "整改升级 Rectification escalation",
    "description": "warn the owner at 80 %; breach → the owner and the owner's manager; +4 working hours → "
    "the director (the manager's manager)",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
        {"offset": "+PT4H", "recipients": ["director"]},
    ],
}

register_item(TrailItem(RectificationSubject.rectification, Rectification.id))
RECTIFICATION = register(
    SubjectSpec(
        type=RectificationSubject.rectification,
        load=load_rectifications,
        statuses=tuple(RectificationStatus),
        labels={"zh-CN": "整改措施", "en-US": "Rectification item"},
        trail=(TrailLink(RectificationSubject.rectification, Rectification.id),),
        due_column=Rectification.due_at,
        default_start=(RectificationStatus.open, RectificationStatus.in_progress),
        default_stop=(RectificationStatus.done, RectificationStatus.verified),
        default_policies=(
            (
                RECTIFICATION_ESCALATION,
                {
                    "name": "整改时限 Rectification deadline",
                    "description": "every open rectification item: its own due date, else 5 working days",
                    "target_kind": "working_days",
                    "target_value": "5",
                    "start_statuses": [RectificationStatus.open, RectificationStatus.in_progress],
                    "stop_statuses": [RectificationStatus.done, RectificationStatus.verified],
                },
            ),
        ),
    )
)
