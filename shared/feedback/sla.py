"""Customer feedback and complaints as SLA subjects: the first response is timed (feedback 24 h,
complaint 2 h, a high or urgent complaint 1 h) and a complaint's resolution too (3 working days).
The kind is a tag and the severity a priority, so policies tell them apart (`tags: [complaint]`,
`priorities: [high, urgent]`)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Feedback, FeedbackKind, FeedbackSeverity, FeedbackStatus
from shared.redact import mask_name, scrub_contacts
from shared.sla.registry import SubjectContext, SubjectSpec, TrailItem, TrailLink, register, register_item


class FeedbackSubject(StrEnum):
    feedback = "feedback"


async def load_feedback(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    rows = await session.execute(select(Feedback).where(Feedback.id.in_(list(ids))))
    out = {}
    for r in rows.scalars():
        # Titles go into chat messages and boards: never the customer's raw name or contact data.
        who = f"{mask_name(r.customer_name)}: " if r.customer_name else ""
        content = scrub_contacts(r.content)
        snippet = content if len(content) <= 60 else content[:59] + "…"
        out[r.id] = SubjectContext(
            type=FeedbackSubject.feedback,
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


FEEDBACK_ESCALATION: dict[str, Any] = {
    "name": "客户反馈升级 Customer feedback escalation",
    "description": "warn the handler at 80 %; breach → handler, their manager and the department head; +2 h → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager", "department_head"]},
        {"offset": "+PT2H", "calendar": True, "recipients": ["director"]},
    ],
}
_ANSWERED = [FeedbackStatus.responded, FeedbackStatus.resolved, FeedbackStatus.closed]
_SETTLED = [FeedbackStatus.resolved, FeedbackStatus.closed]
# Severity is the SLA priority: a high or urgent complaint is answered sooner.
_SEVERE = [FeedbackSeverity.high, FeedbackSeverity.urgent]
_ROUTINE = [FeedbackSeverity.low, FeedbackSeverity.normal]

register_item(TrailItem(FeedbackSubject.feedback, Feedback.id))
FEEDBACK = register(
    SubjectSpec(
        type=FeedbackSubject.feedback,
        load=load_feedback,
        statuses=tuple(FeedbackStatus),
        labels={"zh-CN": "客户反馈", "en-US": "Customer feedback"},
        tag_labels={FeedbackKind.complaint: {"zh-CN": "客诉", "en-US": "Customer complaint"}},
        trail=(TrailLink(FeedbackSubject.feedback, Feedback.id),),
        default_start=(FeedbackStatus.new,),
        default_stop=tuple(_ANSWERED),
        default_policies=(
            (
                FEEDBACK_ESCALATION,
                {
                    "name": "客户反馈 24 小时响应 Feedback first response in 24 h",
                    "description": "customer feedback gets its first response within 24 hours",
                    "conditions": {"tags": [FeedbackKind.feedback]},
                    "target_kind": "calendar",
                    "target_value": "PT24H",
                    "start_statuses": [FeedbackStatus.new],
                    "stop_statuses": _ANSWERED,
                },
            ),
            (
                FEEDBACK_ESCALATION,
                {
                    "name": "客诉 2 小时首次响应 Complaint first response in 2 h",
                    "description": "a customer complaint of low or normal severity gets its first response "
                    "within 2 hours",
                    "conditions": {"tags": [FeedbackKind.complaint], "priorities": _ROUTINE},
                    "target_kind": "calendar",
                    "target_value": "PT2H",
                    "start_statuses": [FeedbackStatus.new],
                    "stop_statuses": _ANSWERED,
                },
            ),
            (
                FEEDBACK_ESCALATION,
                {
                    "name": "严重客诉 1 小时首次响应 Severe complaint first response in 1 h",
                    "description": "a high or urgent customer complaint gets its first response within 1 hour",
                    "conditions": {"tags": [FeedbackKind.complaint], "priorities": _SEVERE},
                    "target_kind": "calendar",
                    "target_value": "PT1H",
                    "start_statuses": [FeedbackStatus.new],
                    "stop_statuses": _ANSWERED,
                },
            ),
            (
                FEEDBACK_ESCALATION,
                {
                    "name": "客诉 3 个工作日内解决 Complaint resolved in 3 working days",
                    "description": "a customer complaint is resolved (or closed) within 3 working days of "
                    "being recorded; the first response does not stop this clock",
                    "conditions": {"tags": [FeedbackKind.complaint]},
                    "target_kind": "working_days",
                    "target_value": "3",
                    "start_statuses": [FeedbackStatus.new],
                    "stop_statuses": _SETTLED,
                },
            ),
        ),
    )
)
