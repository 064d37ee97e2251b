"""Work-arrival notifications: written to the outbox in the transaction of the change that makes
the work arrive (a review round opens, an approval step becomes active …), routed like SLA alerts
(each person's department group plus the channels serving every department), switched by
subscriptions, and delivered by the notifier with the same rate limits and digests.

Each domain calls `announce` once, after the change; the dedupe key names the subject and the
occasion, so a retried job or a second call sends nothing more."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.approvals.sla import ApprovalSubject
from shared.collaboration.sla import CollaborationSubject
from shared.feedback.sla import FeedbackSubject
from shared.models import (
    Approval,
    Campaign,
    CampaignStage,
    CollaborationRequest,
    Feedback,
    FeedbackKind,
    ReviewRequest,
    SlaTimer,
    TimerState,
)
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.notify.subscriptions import switches
from shared.notify.work import WorkEvent
from shared.reviews.sla import ReviewSubject
from shared.sla import registry
from shared.sla.directory import Directory, Person
from shared.workflow.sla import StageSubject


@dataclass(frozen=True)
class Audience:
    """Who is told: `people` are @mentioned in the groups of `department_id` (None: the first
    person's department) and in the channels that serve every department."""

    department_id: int | None = None
    people: tuple[int | None, ...] = ()
    head: bool = False  # also @mention the department's head (a department asked as a whole)


@dataclass(frozen=True)
class Facts:
    """What the card says besides the subject: who caused it and, for decisions and stages, what."""

    by: int | None = None
    outcome: str | None = None
    reason: str | None = None
    stage_from: str | None = None
    stage_to: str | None = None


async def _due_at(session: AsyncSession, subject_type: str, subject_id: int) -> datetime | None:
    return await session.scalar(
        select(func.min(SlaTimer.due_at)).where(
            SlaTimer.subject_type == subject_type,
            SlaTimer.subject_id == subject_id,
            SlaTimer.state.in_((TimerState.running, TimerState.paused)),
        )
    )


async def announce(
    session: AsyncSession,
    event: WorkEvent,
    subject_type: str,
    subject_ids: Iterable[int],
    *,
    now: datetime,
    to: list[Audience] | None = None,
    occasion: str = "",
    facts: Facts = Facts(),
) -> list[int]:
    """Tell the audience (by default each subject's assignee, in the subject's department) that
    work arrived; returns the outbox rows written (none when sent before or switched off)."""
    ids = list(subject_ids)
    if not ids:
        return []
    contexts = await registry.get(subject_type).load(session, ids)
    d = Directory(session)
    await d.load_static()
    rules = await switches(session, event)
    written: list[int] = []
    for subject_id in ids:
        ctx = contexts.get(subject_id)
        if ctx is None:
            continue
        audiences = to if to is not None else [Audience(ctx.department_id, (ctx.assignee_id,))]
        await d.prefetch_people([facts.by, *(p for a in audiences for p in a.people)])
        await d.prefetch_chain([], [ctx.campaign_id])  # and every department's head
        channels: dict[int, tuple[list[Person], list[int]]] = {}
        for audience in audiences:
            people = [p for p in map(d.person, audience.people) if p is not None]
            department_id = audience.department_id
            head = d.department_head(department_id) if audience.head else None
            if head is not None and head not in people:
                people.append(head)
            if department_id is None and people:
                department_id = people[0].department_id
            for channel_id in d.channels_for_department(department_id):
                if not rules.enabled(channel_id, department_id):
                    continue
                mentioned, departments = channels.setdefault(channel_id, ([], []))
                mentioned.extend(p for p in people if p not in mentioned)
                if department_id is not None and department_id not in departments:
                    departments.append(department_id)
        if not channels:
            continue
        due_at = await _due_at(session, subject_type, subject_id)
        base = _payload(event, ctx.as_payload(), d, ctx.campaign_id, facts, due_at, now)
        key = f"{event.value}:{subject_type}:{subject_id}" + (f":{occasion}" if occasion else "")
        items = [
            OutboxItem(
                dedupe_key=f"{key}:ch{channel_id}",
                event_type=event.value,
                subject_type=subject_type,
                subject_id=subject_id,
                channel_id=channel_id,
                payload=base
                | {
                    "departments": [{"id": i, "name": d.departments[i][0]} for i in departments if i in d.departments],
                    "mentions": [p.mention() for p in people],
                    "locale": people[0].locale if people else None,
                },
            )
            for channel_id, (people, departments) in sorted(channels.items())
        ]
        written += await add_to_outbox(session, items, now=now)
    return written


def _payload(
    event: WorkEvent,
    subject: dict[str, Any],
    d: Directory,
    campaign_id: int | None,
    facts: Facts,
    due_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    campaign = d.campaign(campaign_id)
    by = d.person(facts.by)
    return {
        "kind": event.kind,
        "subject": subject,
        "campaign": {"id": campaign_id, "name": campaign[0]} if campaign is not None else None,
        "due_at": due_at.isoformat() if due_at is not None else None,
        "by": {"id": by.id, "name": by.name} if by is not None else None,
        "outcome": facts.outcome,
        "reason": facts.reason,
        "stage_from": facts.stage_from,
        "stage_to": facts.stage_to,
        "occurred_at": now.isoformat(),
    }


# ---- the domains' hooks: one call each, after the change (and its timers) ------------------------
async def review_round_opened(
    session: AsyncSession, response_ids: Iterable[int], *, by: int | None, now: datetime
) -> list[int]:
    """Each reviewer of the new round: the named person, or the reviewing department's head."""
    return await announce(
        session, WorkEvent.review_requested, ReviewSubject.response, response_ids, now=now, facts=Facts(by=by)
    )


async def review_concluded(
    session: AsyncSession, review: ReviewRequest, *, by: int | None, comment: str | None, now: datetime
) -> list[int]:
    """The requester hears the round's outcome: approved, rejected, or changes requested."""
    return await announce(
        session,
        WorkEvent.decision_made,
        ReviewSubject.request,
        [review.id],
        now=now,
        to=[Audience(people=(review.requester_id,))],
        occasion=f"round{review.round}",
        facts=Facts(by=by, outcome=review.status.value, reason=comment),
    )


async def approvers_assigned(
    session: AsyncSession, assignment_ids: Iterable[int], *, by: int | None, now: datetime
) -> list[int]:
    """Each approver of the step that just became active."""
    return await announce(
        session, WorkEvent.approval_waiting, ApprovalSubject.assignment, assignment_ids, now=now, facts=Facts(by=by)
    )


async def approval_decided(
    session: AsyncSession, approval: Approval, assignment_id: int, *, by: int | None, now: datetime
) -> list[int]:
    """The requester hears the decision (the deciding approver's assignment is the subject)."""
    return await announce(
        session,
        WorkEvent.decision_made,
        ApprovalSubject.assignment,
        [assignment_id],
        now=now,
        to=[Audience(people=(approval.requester_id,))],
        occasion=approval.status.value,
        facts=Facts(by=by, outcome=approval.status.value, reason=approval.decision_reason),
    )


async def collaboration_created(
    session: AsyncSession, request: CollaborationRequest, occurrence_id: int, *, now: datetime
) -> list[int]:
    """Each collaborating department's group, its head @mentioned."""
    return await announce(
        session,
        WorkEvent.collaboration_received,
        CollaborationSubject.occurrence,
        [occurrence_id],
        now=now,
        to=[Audience(department_id, head=True) for department_id in request.collaborating_department_ids],
        facts=Facts(by=request.requester_id),
    )


async def feedback_received(session: AsyncSession, feedback: Feedback, *, now: datetime) -> list[int]:
    """A complaint reaches the owning department at once (the owner, else the head, @mentioned)."""
    if feedback.kind != FeedbackKind.complaint:
        return []
    audience = Audience(feedback.department_id, (feedback.owner_id,), head=feedback.owner_id is None)
    return await announce(
        session, WorkEvent.complaint_received, FeedbackSubject.feedback, [feedback.id], now=now, to=[audience]
    )


async def stage_left(
    session: AsyncSession,
    campaign: Campaign,
    left: CampaignStage,
    entered: CampaignStage | None,
    *,
    by: int | None,
    now: datetime,
) -> list[int]:
    """The campaign's department: the next stage began (its owner @mentioned), or, after the last
    stage, the campaign is complete (its owner @mentioned)."""
    if entered is not None:
        facts = Facts(by=by, stage_from=left.name, stage_to=entered.name)
        return await announce(session, WorkEvent.stage_advanced, StageSubject.stage, [entered.id], now=now, facts=facts)
    return await announce(
        session,
        WorkEvent.campaign_completed,
        StageSubject.stage,
        [left.id],
        now=now,
        to=[Audience(campaign.department_id, (campaign.owner_id,))],
        facts=Facts(by=by, stage_from=left.name),
    )
