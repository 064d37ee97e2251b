"""Object-level authorization: who may see and who may change an item.

Roles are global ceilings (viewer < member < manager < director < admin); *where* a role below
director applies is the caller's department and the items they are a party to:

- directors, admins and background processes see and change everything;
- everyone else sees the items of their own department, the items of no department (company-wide)
  and the items they are a party to (owner, assignee, reporter, requester, asked to review or
  approve, a member of a collaborating department);
- viewers never write; members and managers change what they see (the domain then decides which
  party may do what: only the requester cancels a review, only a manager marks an expense paid …).

An item the caller may not see is a 404 — its existence is not leaked — and one they see but may
not change a 403. Each kind of item is one SQL condition (`Rule.visible`), used alike by board
lists (`visible`: one query, the condition inside it) and single items (`require_read`,
`require_write`). The kinds are keyed by the name the audit log and the trail give them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, any_, false, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.approvals.sla import ApprovalSubject
from shared.budget.models import BudgetItem, BudgetLine, Expense
from shared.campaigns.sla import CampaignItem
from shared.collaboration.sla import CollaborationSubject
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.feedback.sla import FeedbackSubject
from shared.goals.models import Goal
from shared.goals.sla import GoalItem
from shared.kpis.models import Kpi
from shared.models import (
    Approval,
    ApprovalAssignment,
    Campaign,
    CampaignStage,
    CollaborationRequest,
    Feedback,
    ReviewRequest,
    ReviewResponse,
    Role,
    Task,
    User,
)
from shared.rectifications.models import Rectification
from shared.rectifications.sla import RectificationSubject
from shared.reports.models import Report, ReportSchedule
from shared.reviews.sla import ReviewSubject
from shared.risks.models import Risk
from shared.risks.sla import RiskSubject
from shared.roi.models import RoiEstimate
from shared.roi.sla import RoiSubject
from shared.tasks.sla import TaskSubject
from shared.workflow.sla import StageSubject


class Kind(StrEnum):
    """Items that are neither SLA subjects nor trail items: their audit log names."""

    kpi = "kpi"
    report_schedule = "report_schedule"
    report = "report"


Condition = Callable[[Actor], ColumnElement[bool]]


@dataclass(frozen=True)
class Rule:
    model: Any  # the ORM class (its `id` is the item's id)
    visible: Condition  # the rows a caller below director sees


def _uid(actor: Actor) -> ColumnElement[Any]:
    return literal(actor.user_id if actor.user_id is not None else -1)


def home(column: Any, actor: Actor) -> ColumnElement[bool]:
    """The item's department is the caller's, or it has none (a company-wide item)."""
    if actor.department_id is None:
        return column.is_(None)  # type: ignore[no-any-return]
    return or_(column == actor.department_id, column.is_(None))


def _users_at_home(column: Any, actor: Actor) -> ColumnElement[bool]:
    """A person column (reporter, owner) whose department is the caller's (or none, or nobody)."""
    return or_(column.is_(None), column.in_(select(User.id).where(home(User.department_id, actor))))


def _home_or_owned_campaign(actor: Actor) -> ColumnElement[bool]:
    return or_(home(Campaign.department_id, actor), Campaign.owner_id == _uid(actor))


def _stage_owners_campaigns(actor: Actor) -> Select[Any]:
    """The campaigns with a stage the caller owns."""
    return select(CampaignStage.campaign_id).where(CampaignStage.owner_id == _uid(actor))


def _campaign(actor: Actor) -> ColumnElement[bool]:
    return or_(_home_or_owned_campaign(actor), Campaign.id.in_(_stage_owners_campaigns(actor)))


def _in_campaigns(column: Any, actor: Actor) -> ColumnElement[bool]:
    """The item hangs on a campaign the caller sees (`_campaign`, as two sets each read from its
    indexes: the department's and the owner's campaigns, the campaigns of the stages they own — one
    set with the stages' subquery inside its OR would be a sequential scan of every campaign)."""
    return or_(
        column.in_(select(Campaign.id).where(_home_or_owned_campaign(actor))),
        column.in_(_stage_owners_campaigns(actor)),
    )


def _task(actor: Actor) -> ColumnElement[bool]:
    # A task's department is its campaign's; a standalone task's, its reporter's — kept on the row
    # (`tasks.department_id`, NULL when the campaign or the reporter has none: company-wide), so a
    # member's board reads it from the row instead of two subqueries per row. The assignee is a
    # party; so are the campaign's owner and its stages' owners (as `_campaign` has them).
    return or_(
        Task.assignee_id == _uid(actor),
        Task.reporter_id == _uid(actor),
        home(Task.department_id, actor),
        Task.campaign_id.in_(select(Campaign.id).where(Campaign.owner_id == _uid(actor))),
        Task.campaign_id.in_(_stage_owners_campaigns(actor)),
    )


def _stage(actor: Actor) -> ColumnElement[bool]:
    return or_(CampaignStage.owner_id == _uid(actor), _in_campaigns(CampaignStage.campaign_id, actor))


def _feedback(actor: Actor) -> ColumnElement[bool]:
    return or_(home(Feedback.department_id, actor), Feedback.owner_id == _uid(actor))


def _review(actor: Actor) -> ColumnElement[bool]:
    asked = ReviewResponse.user_id == _uid(actor)
    if actor.department_id is not None:
        asked = or_(asked, ReviewResponse.department_id == actor.department_id)
    return or_(
        home(ReviewRequest.department_id, actor),
        ReviewRequest.requester_id == _uid(actor),
        ReviewRequest.id.in_(select(ReviewResponse.review_id).where(asked)),
        and_(ReviewRequest.campaign_id.is_not(None), _in_campaigns(ReviewRequest.campaign_id, actor)),
    )


def _approval(actor: Actor) -> ColumnElement[bool]:
    return or_(
        home(Approval.department_id, actor),
        Approval.requester_id == _uid(actor),
        Approval.id.in_(select(ApprovalAssignment.approval_id).where(ApprovalAssignment.approver_id == _uid(actor))),
        and_(Approval.campaign_id.is_not(None), _in_campaigns(Approval.campaign_id, actor)),
    )


def _collaboration(actor: Actor) -> ColumnElement[bool]:
    collaborating = (
        false()
        if actor.department_id is None
        else literal(actor.department_id) == any_(CollaborationRequest.collaborating_department_ids)
    )
    return or_(
        home(CollaborationRequest.initiating_department_id, actor),
        collaborating,
        CollaborationRequest.owner_id == _uid(actor),
        CollaborationRequest.requester_id == _uid(actor),
        and_(CollaborationRequest.campaign_id.is_not(None), _in_campaigns(CollaborationRequest.campaign_id, actor)),
    )


def _owned_on_campaign(model: Any) -> Condition:
    """Rectification items and risks: the owner's, their campaign's department, or (without a
    campaign) the owner's department."""

    def condition(actor: Actor) -> ColumnElement[bool]:
        return or_(
            model.owner_id == _uid(actor),
            and_(model.campaign_id.is_not(None), _in_campaigns(model.campaign_id, actor)),
            and_(model.campaign_id.is_(None), _users_at_home(model.owner_id, actor)),
        )

    return condition


def _kpi(actor: Actor) -> ColumnElement[bool]:
    return or_(Kpi.owner_id == _uid(actor), _in_campaigns(Kpi.campaign_id, actor))


def _expense(actor: Actor) -> ColumnElement[bool]:
    return or_(Expense.requester_id == _uid(actor), _in_campaigns(Expense.campaign_id, actor))


def _goal(actor: Actor) -> ColumnElement[bool]:
    return or_(home(Goal.department_id, actor), Goal.owner_id == _uid(actor))


def _scheduled(model: Any) -> Condition:
    """Report schedules and reports: a campaign's with the campaign, else the department's (a
    company report is everyone's)."""

    def condition(actor: Actor) -> ColumnElement[bool]:
        return or_(
            and_(model.campaign_id.is_not(None), _in_campaigns(model.campaign_id, actor)),
            and_(model.campaign_id.is_(None), home(model.department_id, actor)),
        )

    return condition


RULES: dict[str, Rule] = {
    CampaignItem.campaign: Rule(Campaign, _campaign),
    StageSubject.stage: Rule(CampaignStage, _stage),
    TaskSubject.task: Rule(Task, _task),
    FeedbackSubject.feedback: Rule(Feedback, _feedback),
    ReviewSubject.request: Rule(ReviewRequest, _review),
    ApprovalSubject.approval: Rule(Approval, _approval),
    CollaborationSubject.request: Rule(CollaborationRequest, _collaboration),
    RectificationSubject.rectification: Rule(Rectification, _owned_on_campaign(Rectification)),
    RiskSubject.risk: Rule(Risk, _owned_on_campaign(Risk)),
    Kind.kpi: Rule(Kpi, _kpi),
    BudgetItem.budget_line: Rule(BudgetLine, lambda actor: _in_campaigns(BudgetLine.campaign_id, actor)),
    BudgetItem.expense: Rule(Expense, _expense),
    GoalItem.goal: Rule(Goal, _goal),
    RoiSubject.roi_estimate: Rule(RoiEstimate, lambda actor: _in_campaigns(RoiEstimate.campaign_id, actor)),
    Kind.report_schedule: Rule(ReportSchedule, _scheduled(ReportSchedule)),
    Kind.report: Rule(Report, _scheduled(Report)),
}
_BY_MODEL = {rule.model: kind for kind, rule in RULES.items()}


def _rule(kind: str) -> Rule:
    return RULES[kind]


def condition(kind: str, actor: Actor) -> ColumnElement[bool]:
    """The SQL condition selecting the items of `kind` the caller may see."""
    if actor.sees_everything:
        return true()
    return _rule(kind).visible(actor)


def visible(stmt: Select[Any], actor: Actor, kind: str | None = None) -> Select[Any]:
    """A board's query narrowed to what the caller may see (unchanged for directors and admins);
    `kind` defaults to the statement's first entity."""
    if actor.sees_everything:
        return stmt
    if kind is None:
        kind = _BY_MODEL[stmt.column_descriptions[0]["entity"]]
    return stmt.where(condition(kind, actor))


def may_write(actor: Actor) -> bool:
    """Viewers read only; everyone above writes what they see."""
    return actor.at_least(Role.member)


async def can_read(session: AsyncSession, actor: Actor, kind: str, item_id: int) -> bool:
    if actor.sees_everything:
        return True
    model = _rule(kind).model
    found = await session.scalar(select(model.id).where(model.id == item_id, condition(kind, actor)))
    return found is not None


async def require_read(session: AsyncSession, actor: Actor, kind: str, item_id: int) -> None:
    """404 — as if it did not exist — unless the caller may see the item (a missing item is a 404 too)."""
    if not await can_read(session, actor, kind, item_id):
        model = _rule(kind).model
        raise NotFound(f"{model.__name__.lower()} {item_id} does not exist")


async def require_write(session: AsyncSession, actor: Actor, kind: str, item_id: int) -> None:
    """404 unless the caller sees the item; 403 when they see it but may not change anything."""
    await require_read(session, actor, kind, item_id)
    if not may_write(actor):
        raise Forbidden(f"a {actor.role.value} reads only")


def require_writer(actor: Actor) -> None:
    if not may_write(actor):
        raise Forbidden(f"a {actor.role.value} reads only")


def require_department(actor: Actor, department_id: int | None, *, field: str = "department_id") -> None:
    """403 unless the caller may work in `department_id` (their own, or none; any for directors)."""
    if actor.sees_everything or department_id is None or department_id == actor.department_id:
        return
    raise Forbidden(f"{field}: you work in your own department only (department {department_id} is not yours)")


def department_scope(actor: Actor, department_id: int | None) -> int | None:
    """Figures over many items (analytics, money, the risk matrix): directors and admins ask about
    any department, or all (None); everyone else about their own only — given none, their own is
    used; another department, or all of them, is a 403."""
    if actor.sees_everything:
        return department_id
    wanted = actor.department_id if department_id is None else department_id
    if wanted is None or wanted != actor.department_id:
        raise Forbidden(
            "department_id: figures across departments are for directors and admins; you see your own department's"
        )
    return wanted


def department_scopes(actor: Actor, department_ids: tuple[int, ...]) -> tuple[int, ...]:
    """`department_scope` for a filter taking several departments (empty: all)."""
    if actor.sees_everything:
        return department_ids
    return tuple({department_scope(actor, d) for d in department_ids or (None,)})  # type: ignore[misc]


def require_manages(actor: Actor, *, department_id: int | None, what: str, target: int | None = None) -> None:
    """Moving an item to another department or giving it another owner: a manager of its department
    (and of the target department, for a move), or a director or admin."""
    if actor.sees_everything:
        return
    departments = {department_id} | ({target} if target is not None else set())
    if actor.at_least(Role.manager) and departments <= {actor.department_id, None}:
        return
    raise Forbidden(f"only a manager of its department (or a director) may {what}")


def require_manages_only_own(actor: Actor, department_ids: list[int], *, field: str, what: str) -> None:
    """Configuration bound to departments (a channel and whose alerts it receives): a manager
    configures what is bound to their own department and no other; what is bound to none (every
    department's) or to another department stays with directors and admins. 403 naming `field`."""
    if actor.sees_everything:
        return
    if not actor.at_least(Role.manager):
        raise Forbidden(f"only a manager of its department (or a director) may configure {what}")
    named = set(department_ids)
    if actor.department_id is not None and named == {actor.department_id}:
        return
    others = sorted(named - {actor.department_id})
    message = (
        f"you configure {what} of your own department only (department {', '.join(map(str, others))} is not yours)"
        if others
        else f"{what} of every department (none named) are for directors and admins: name your department"
    )
    raise Forbidden.for_field(field, message)


async def require_reference(session: AsyncSession, actor: Actor, kind: str, item_id: int | None, *, field: str) -> None:
    """A command naming an item (`campaign_id` of a new task …) may name only one the caller may
    change: one they do not see reads as missing (422 naming the field), one they only see is a 403."""
    if item_id is None or actor.sees_everything:
        return
    if not await can_read(session, actor, kind, item_id):
        model = _rule(kind).model
        raise InvalidInput.for_field(field, f"{model.__name__.lower()} {item_id} does not exist", "reference")
    require_writer(actor)


def audit_visible(stmt: Select[Any], actor: Actor, *, entity_type: Any, entity_id: Any) -> Select[Any]:
    """The audit log narrowed to the rows of items the caller may read; rows about configuration
    (users, tokens, channels, policies, calendars …) stay with managers and above, as before."""
    if actor.sees_everything:
        return stmt
    items = [
        and_(entity_type == kind, entity_id.in_(select(rule.model.id).where(rule.visible(actor))))
        for kind, rule in RULES.items()
    ]
    if actor.at_least(Role.manager):
        items.append(entity_type.not_in(list(RULES)))
    return stmt.where(or_(*items))
