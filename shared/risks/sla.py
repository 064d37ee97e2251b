"""A risk's next review as an SLA subject (`risk_review`): owed by the risk's owner, due one review
cadence (working days, `Risk.review_every_days`) after the previous review — or after the risk was
raised; overdue → the owner is reminded, then their manager. Recording the review meets the timer
and the service arms the next one (a new `risk_reviews` row)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import User
from shared.risks.models import ReviewStatus, Risk, RiskReview
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class RiskSubject(StrEnum):
    risk = "risk"  # the trail item
    risk_review = "risk_review"  # the timed subject


async def load_reviews(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    rows = await session.execute(
        select(
            RiskReview.id,
            RiskReview.status,
            Risk.id.label("risk_id"),
            Risk.title,
            Risk.level,
            Risk.owner_id,
            Risk.campaign_id,
            Risk.review_every_days,
            User.department_id,
        )
        .join(Risk, Risk.id == RiskReview.risk_id)
        .outerjoin(User, User.id == Risk.owner_id)
        .where(RiskReview.id.in_(list(ids)))
    )
    return {
        r.id: SubjectContext(
            type=RiskSubject.risk_review,
            id=r.id,
            title=r.title,
            status=str(r.status),
            path=f"/api/v1/risks/{r.risk_id}",
            priority=str(r.level),
            assignee_id=r.owner_id,
            department_id=r.department_id,
            campaign_id=r.campaign_id,
            explicit_target=("working_days", str(r.review_every_days)),
        )
        for r in rows
    }


RISK_REVIEW_ESCALATION: dict[str, Any] = {
    "name": "风险复核提醒 Risk review reminder",
    "description": "remind the owner at 80 % and when due; +8 working hours → the owner's manager",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee"]},
        {"offset": "+PT8H", "recipients": ["assignee_manager"]},
    ],
}

register_item(TrailItem(RiskSubject.risk, Risk.id, aliases=("risks",)))
RISK_REVIEW = register(
    SubjectSpec(
        type=RiskSubject.risk_review,
        load=load_reviews,
        statuses=tuple(ReviewStatus),
        labels={"zh-CN": "风险复核", "en-US": "Risk review"},
        trail=(TrailLink(RiskSubject.risk, RiskReview.risk_id),),
        default_start=(ReviewStatus.due,),
        default_stop=(ReviewStatus.done,),
        default_cancel=(ReviewStatus.cancelled,),
        default_policies=(
            (
                RISK_REVIEW_ESCALATION,
                {
                    "name": "风险复核周期 Risk review cadence",
                    "description": "every open risk is reviewed by its own cadence (working days, default 5)",
                    "target_kind": "working_days",
                    "target_value": "5",
                    "start_statuses": [ReviewStatus.due],
                    "stop_statuses": [ReviewStatus.done],
                    "cancel_statuses": [ReviewStatus.cancelled],
                },
            ),
        ),
    )
)
