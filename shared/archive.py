"""What DELETE does, for every resource that has one, in one table: nothing with history is erased.

An item with history — anything beyond the bare draft: it left draft, was worked on, has tasks,
reviews, approvals, comments, escalations, delivered messages … — is **archived** (`archived_at`,
`archived_by`): hidden from boards and lists (`?archived=true` lists them), still read by id, in
its trail and in the audit log (`archive`); archiving runs the item's cancel cascade first, so
nothing of it keeps escalating. Configuration that live rules or history point at (a calendar, an
escalation policy, a department) is **refused** (409, naming what points at it) instead. Only an
item without history is really deleted (`delete` in the audit log).

`RULES` below is the table: per resource, what happens with history and what counts as history
(a campaign: it left draft, tasks, stages left, reviews, approvals, collaboration, KPIs, budget,
expenses, feedback, rectifications, risks, a submitted ROI estimate, comments, stage escalations;
a task: it left `todo`, comments, escalations; a channel, approval rule or report schedule: the
notifications, approvals or reports it made — archived and disabled (a chat app: the channels sending
through it and the events it received); a goal: actuals and the
campaigns serving it, besides the draft-only rule of `shared.goals.service.delete`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit, crud
from shared.actor import Actor
from shared.budget.models import BudgetLine, Expense
from shared.campaigns.sla import CampaignItem
from shared.chat.models import ChatApp, ChatEvent
from shared.errors import Conflict, FieldError
from shared.goals.models import Goal, GoalActual
from shared.kpis.models import Kpi
from shared.models import (
    Approval,
    ApprovalRule,
    Base,
    Calendar,
    Campaign,
    CampaignStage,
    CampaignStatus,
    Channel,
    CollaborationRequest,
    Comment,
    Department,
    Escalation,
    EscalationPolicy,
    Feedback,
    Notification,
    ReviewRequest,
    Task,
    TaskStatus,
)
from shared.rectifications.models import Rectification
from shared.reports.models import Report, ReportSchedule
from shared.risks.models import Risk
from shared.roi.models import RoiEstimate
from shared.tasks.sla import TaskSubject
from shared.workflow.sla import StageSubject


class Disposal(enum.StrEnum):
    deleted = "deleted"
    archived = "archived"


class WithHistory(enum.StrEnum):
    archive = "archive"
    refuse = "refuse"


# A kind of history: its name and the rows of it that belong to the item with the given id.
Probe = tuple[str, Callable[[int], Select[Any]]]


@dataclass(frozen=True)
class Rule:
    model: type[Base]
    with_history: WithHistory
    probes: tuple[Probe, ...] = ()
    referenced: bool = False  # any row of any table pointing at it is history
    deactivate: str | None = None  # the boolean column switched off when it is archived


def _comments(subject_type: str) -> Callable[[int], Select[Any]]:
    return lambda i: select(Comment.id).where(Comment.subject_type == subject_type, Comment.subject_id == i)


def _escalations(subject_type: str, ids: Callable[[int], Any]) -> Callable[[int], Select[Any]]:
    return lambda i: select(Escalation.id).where(
        Escalation.subject_type == subject_type, Escalation.subject_id.in_(ids(i))
    )


def _of_campaign(model: Any) -> Callable[[int], Select[Any]]:
    return lambda i: select(model.id).where(model.campaign_id == i)


RULES: dict[str, Rule] = {
    CampaignItem.campaign: Rule(
        Campaign,
        WithHistory.archive,
        probes=(
            (
                "left draft",
                lambda i: select(Campaign.id).where(Campaign.id == i, Campaign.status != CampaignStatus.draft),
            ),
            ("tasks", _of_campaign(Task)),
            (
                "stages left",
                lambda i: select(CampaignStage.id).where(
                    CampaignStage.campaign_id == i, CampaignStage.exited_at.is_not(None)
                ),
            ),
            ("reviews", _of_campaign(ReviewRequest)),
            ("approvals", _of_campaign(Approval)),
            ("collaboration requests", _of_campaign(CollaborationRequest)),
            ("KPIs", _of_campaign(Kpi)),
            ("budget lines", _of_campaign(BudgetLine)),
            ("expenses", _of_campaign(Expense)),
            ("customer feedback", _of_campaign(Feedback)),
            ("rectifications", _of_campaign(Rectification)),
            ("risks", _of_campaign(Risk)),
            (
                "ROI estimate submitted",
                lambda i: select(RoiEstimate.id).where(
                    RoiEstimate.campaign_id == i, RoiEstimate.submitted_by.is_not(None)
                ),
            ),
            ("comments", _comments(CampaignItem.campaign)),
            (
                "escalations",
                _escalations(
                    StageSubject.stage, lambda i: select(CampaignStage.id).where(CampaignStage.campaign_id == i)
                ),
            ),
        ),
    ),
    TaskSubject.task: Rule(
        Task,
        WithHistory.archive,
        probes=(
            ("worked on", lambda i: select(Task.id).where(Task.id == i, Task.status != TaskStatus.todo)),
            ("comments", _comments(TaskSubject.task)),
            ("escalations", _escalations(TaskSubject.task, lambda i: [i])),
        ),
    ),
    "channel": Rule(
        Channel,
        WithHistory.archive,
        probes=(("notifications", lambda i: select(Notification.id).where(Notification.channel_id == i)),),
        deactivate="enabled",
    ),
    "chat_app": Rule(
        ChatApp,
        WithHistory.archive,
        probes=(
            ("channels", lambda i: select(Channel.id).where(Channel.chat_app_id == i)),
            ("events received", lambda i: select(ChatEvent.id).where(ChatEvent.chat_app_id == i)),
        ),
        deactivate="enabled",
    ),
    "approval_rule": Rule(
        ApprovalRule,
        WithHistory.archive,
        probes=(("approvals", lambda i: select(Approval.id).where(Approval.rule_id == i)),),
        deactivate="enabled",
    ),
    "report_schedule": Rule(
        ReportSchedule,
        WithHistory.archive,
        probes=(("reports", lambda i: select(Report.id).where(Report.schedule_id == i)),),
        deactivate="enabled",
    ),
    "goal": Rule(
        Goal,
        WithHistory.refuse,
        probes=(
            ("actuals", lambda i: select(GoalActual.id).where(GoalActual.goal_id == i)),
            ("campaigns", lambda i: select(Campaign.id).where(Campaign.goal_id == i)),
        ),
    ),
    "calendar": Rule(Calendar, WithHistory.refuse, referenced=True),
    "escalation_policy": Rule(EscalationPolicy, WithHistory.refuse, referenced=True),
    "department": Rule(Department, WithHistory.refuse, referenced=True),
}


def _pointing(column: Any) -> Callable[[int], Select[Any]]:
    return lambda i: select(column).where(column == i)


def _references(model: type[Base]) -> list[Probe]:
    """Every foreign key in the schema that points at `model`'s table, as a probe."""
    table = model.__table__  # type: ignore[attr-defined]
    probes: list[Probe] = []
    for other in Base.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is table and other is not table:
                probes.append((other.name, _pointing(fk.parent)))
    return probes


async def history_of(session: AsyncSession, entity_type: str, entity_id: int) -> list[str]:
    """The kinds of history the item has (empty: a bare draft, which may really be deleted)."""
    rule = RULES[entity_type]
    probes = list(rule.probes) + (_references(rule.model) if rule.referenced else [])
    found = []
    for name, rows in probes:
        if await session.scalar(rows(entity_id).limit(1)) is not None and name not in found:
            found.append(name)
    return found


async def remove(
    session: AsyncSession,
    *,
    actor: Actor,
    obj: Any,
    entity_type: str,
    now: datetime,
    history: list[str] | None = None,
) -> Disposal:
    """Delete the item when it has no history; otherwise archive it (the caller ran its cancel
    cascade) or refuse with 409, per `RULES`. Archiving an archived item changes nothing."""
    rule = RULES[entity_type]
    found = history if history is not None else await history_of(session, entity_type, obj.id)
    if not found:
        await crud.delete(session, actor=actor, obj=obj, entity_type=entity_type)
        return Disposal.deleted
    if rule.with_history == WithHistory.refuse:
        label = entity_type.replace("_", " ")
        raise Conflict(
            f"{label} {obj.id} has history ({', '.join(found)}): it stays on record",
            errors=[FieldError(entity_type, f"has {name}", "history") for name in found],
        )
    if obj.archived_at is None:
        await archive(session, actor=actor, obj=obj, entity_type=entity_type, now=now, history=found)
    return Disposal.archived


async def archive(
    session: AsyncSession, *, actor: Actor, obj: Any, entity_type: str, now: datetime, history: list[str]
) -> None:
    """Set `archived_at`/`archived_by` (and switch the rule's `deactivate` flag off), audited as
    `archive` with the history that kept it."""
    rule = RULES[entity_type]
    before = audit.snapshot(obj)
    obj.archived_at, obj.archived_by = now, actor.user_id
    if rule.deactivate is not None:
        setattr(obj, rule.deactivate, False)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="archive",
        entity_type=entity_type,
        entity_id=obj.id,
        before=before,
        after={**audit.snapshot(obj), "history": history},
    )


def require_live(obj: Any, entity_type: str) -> None:
    """409 on a change to an archived item: it is on record as it was (a campaign is restored first)."""
    if obj.archived_at is not None:
        label = entity_type.replace("_", " ")
        raise Conflict(
            f"{label} {obj.id} is archived: it is read-only", errors=[FieldError("archived_at", "archived", "state")]
        )


async def restore(session: AsyncSession, *, actor: Actor, obj: Any, entity_type: str) -> None:
    """Bring an archived item back to the boards (what archiving cancelled stays cancelled), audited
    as `restore`; a flag archiving switched off stays off."""
    if obj.archived_at is None:
        return
    before = audit.snapshot(obj)
    obj.archived_at, obj.archived_by = None, None
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="restore",
        entity_type=entity_type,
        entity_id=obj.id,
        before=before,
        after=audit.snapshot(obj),
    )


def archived_filter(stmt: Select[Any], model: Any, archived: bool) -> Select[Any]:
    """A board's rows: the live ones by default, only the archived ones with `archived=True`."""
    column = model.archived_at
    return stmt.where(column.is_not(None) if archived else column.is_(None))
