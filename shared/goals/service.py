"""Goals: drafted, approved (approval kind goal), then changed only through an approved adjustment
(kind goal_adjustment); children stay within their parent; actuals roll up."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import archive, crud
from shared.actor import Actor
from shared.approvals import service as approvals
from shared.approvals.hooks import on_approval_decided
from shared.audit import service as audit
from shared.errors import Conflict, FieldError, InvalidInput
from shared.goals.metrics import is_summable
from shared.goals.models import AdjustmentStatus, Goal, GoalActual, GoalAdjustment, GoalStatus
from shared.goals.periods import BadPeriod, Period
from shared.goals.schemas import (
    GoalActualCreate,
    GoalAdjustmentCreate,
    GoalCreate,
    GoalProgress,
    GoalRead,
    GoalUpdate,
)
from shared.goals.sla import GoalItem
from shared.kpis.service import kpi_actuals
from shared.models import Approval, ApprovalKind, ApprovalStatus, Campaign, Department, User
from shared.org.permissions import require_may_act

ITEM = GoalItem.goal
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except BadPeriod as exc:
        raise InvalidInput.for_field("period", str(exc)) from None


def _num(value: Decimal) -> str:
    """A target as people write it: 5000, not 5000.0000."""
    return f"{value.normalize():f}"


async def _children_sum(session: AsyncSession, parent_id: int, *, except_id: int | None = None) -> Decimal:
    stmt = select(func.coalesce(func.sum(Goal.target), 0)).where(Goal.parent_id == parent_id)
    if except_id is not None:
        stmt = stmt.where(Goal.id != except_id)
    return Decimal(await session.scalar(stmt) or 0)


async def _check_within_parent(
    session: AsyncSession, parent: Goal, target: Decimal, *, except_id: int | None = None
) -> None:
    """Summable children never add up to more than their parent: 422 naming `target` and by how much."""
    if not is_summable(parent.metric):
        return
    total = await _children_sum(session, parent.id, except_id=except_id) + target
    if total > parent.target:
        raise InvalidInput.for_field(
            "target",
            f"the children of goal {parent.id} would add up to {_num(total)}, "
            f"{_num(total - parent.target)} more than its target {_num(parent.target)}",
            "exceeds_parent",
        )


async def _check_covers_children(session: AsyncSession, goal: Goal, target: Decimal) -> None:
    """A parent's target never drops below what its summable children already add up to."""
    if not is_summable(goal.metric):
        return
    total = await _children_sum(session, goal.id)
    if total > target:
        raise InvalidInput.for_field(
            "target",
            f"its children already add up to {_num(total)}, {_num(total - target)} more than {_num(target)}",
            "below_children",
        )


async def require_may_act_on(
    session: AsyncSession,
    actor: Actor,
    *,
    department_id: int | None,
    parties: Iterable[int | None],
    what: str,
) -> None:
    """403 unless the actor is one of `parties`, a member of the goal's department or a manager."""
    who = "its owner, its creator, a member of its department or a manager"
    if department_id is None:
        who = "its owner, its creator or a manager (a company goal)"
    await require_may_act(session, actor, who=who, what=what, parties=parties, departments=[department_id])


async def create(session: AsyncSession, *, actor: Actor, data: GoalCreate, now: datetime) -> Goal:
    """Draft a goal; a child must be the next period level inside its parent's period, on the
    same metric, and (for summable metrics) keep the children within the parent's target."""
    owner_id = data.owner_id if data.owner_id is not None else actor.user_id
    await crud.check_references(
        session,
        {
            "department_id": (Department, data.department_id),
            "parent_id": (Goal, data.parent_id),
            "owner_id": (User, owner_id),
        },
    )
    period = _period(data.period)
    department_id = data.department_id
    parent = None
    if data.parent_id is not None:
        parent = await crud.get_or_404(session, Goal, data.parent_id, for_update=True)  # serialises siblings
        errors = []
        if data.metric != parent.metric:
            errors.append(FieldError("metric", f"must be its parent's metric {parent.metric!r}", "parent"))
        if not period.within(Period.parse(parent.period)):
            level = {"year": "a quarter", "quarter": "a month"}.get(parent.period_kind.value)
            want = f"{level} of {parent.period}" if level else "nothing: a monthly goal has no children"
            errors.append(FieldError("period", f"must be {want}", "parent"))
        if "department_id" not in data.model_fields_set:
            department_id = parent.department_id
        elif parent.department_id is not None and department_id != parent.department_id:
            errors.append(
                FieldError("department_id", f"must be its parent's department {parent.department_id}", "parent")
            )
        if errors:
            raise InvalidInput.for_fields(errors)
        await _check_within_parent(session, parent, data.target)
    # A department's members plan its goals; company goals are a manager's.
    await require_may_act_on(session, actor, department_id=department_id, parties=(), what="draft this goal")
    goal = Goal(
        title=data.title,
        description=data.description,
        department_id=department_id,
        parent_id=data.parent_id,
        metric=data.metric,
        target=data.target,
        period_kind=period.kind,
        period=str(period),
        owner_id=owner_id,
        created_by=actor.user_id,
        status=GoalStatus.draft,
    )
    return await crud.create(session, actor=actor, obj=goal, entity_type=ITEM)


async def _settled(session: AsyncSession, goal: Goal) -> Goal:
    """A goal whose approval was withdrawn (cancelled) is a draft again."""
    if goal.status == GoalStatus.pending and goal.approval_id is not None:
        status = await session.scalar(select(Approval.status).where(Approval.id == goal.approval_id))
        if status == ApprovalStatus.cancelled:
            goal.status = GoalStatus.draft
            await session.flush()
    return goal


def _require_draft(goal: Goal) -> None:
    if goal.status == GoalStatus.approved:
        raise Conflict(
            f"goal {goal.id} is approved: it changes only through an adjustment request (requestGoalAdjustment)",
            errors=[FieldError("status", "approved: read-only", "state")],
        )
    if goal.status == GoalStatus.pending:
        raise Conflict(
            f"goal {goal.id} is awaiting approval #{goal.approval_id}: cancel that approval to edit it",
            errors=[FieldError("status", "pending approval: read-only", "state")],
        )


async def update(session: AsyncSession, *, actor: Actor, goal_id: int, changes: GoalUpdate, now: datetime) -> Goal:
    """Change a draft goal (its owner, creator, a member of its department or a manager)."""
    goal = await _settled(session, await crud.get_or_404(session, Goal, goal_id, for_update=True))
    await require_may_act_on(
        session, actor, department_id=goal.department_id, parties=[goal.owner_id, goal.created_by], what="edit it"
    )
    _require_draft(goal)
    values: dict[str, Any] = changes.model_dump(exclude_unset=True)
    await crud.check_references(session, {"owner_id": (User, values.get("owner_id"))})
    if "period" in values:
        period = _period(values["period"])
        parent = await session.get(Goal, goal.parent_id) if goal.parent_id is not None else None
        if parent is not None and not period.within(Period.parse(parent.period)):
            raise InvalidInput.for_field("period", f"must lie inside its parent's period {parent.period}", "parent")
        has_children = await session.scalar(select(Goal.id).where(Goal.parent_id == goal.id).limit(1))
        if has_children is not None and period.kind != goal.period_kind:
            raise InvalidInput.for_field("period", "its children fix its period kind", "children")
        values |= {"period": str(period), "period_kind": period.kind}
    if "target" in values:
        if goal.parent_id is not None:
            parent = await crud.get_or_404(session, Goal, goal.parent_id, for_update=True)
            await _check_within_parent(session, parent, values["target"], except_id=goal.id)
        await _check_covers_children(session, goal, values["target"])
    return await crud.update(session, actor=actor, obj=goal, changes=values, entity_type=ITEM)


async def delete(session: AsyncSession, *, actor: Actor, goal_id: int, now: datetime) -> None:
    """Delete a draft goal without children, actuals or campaigns serving it (an approved goal
    stays: it is on record; `shared.archive`)."""
    goal = await _settled(session, await crud.get_or_404(session, Goal, goal_id, for_update=True))
    await require_may_act_on(
        session, actor, department_id=goal.department_id, parties=[goal.owner_id, goal.created_by], what="delete it"
    )
    _require_draft(goal)
    if await session.scalar(select(Goal.id).where(Goal.parent_id == goal.id).limit(1)) is not None:
        raise Conflict(
            f"goal {goal.id} has children: delete them first",
            errors=[FieldError("children", "has children", "state")],
        )
    await archive.remove(session, actor=actor, obj=goal, entity_type=ITEM, now=now)


# ---- consistency and reads -------------------------------------------------------------------------


@dataclass(frozen=True)
class Children:
    count: int
    target_sum: Decimal


async def children_of(session: AsyncSession, goal_ids: list[int]) -> dict[int, Children]:
    """Each goal's number of children and the sum of their targets (one query)."""
    if not goal_ids:
        return {}
    rows = await session.execute(
        select(Goal.parent_id, func.count(), func.coalesce(func.sum(Goal.target), 0))
        .where(Goal.parent_id.in_(goal_ids))
        .group_by(Goal.parent_id)
    )
    return {r[0]: Children(int(r[1]), Decimal(r[2])) for r in rows if r[0] is not None}


def read(goal: Goal, children: Children | None) -> GoalRead:
    summable = is_summable(goal.metric)
    extra: dict[str, Any] = {"summable": summable, "children_count": children.count if children else 0}
    if children is not None and summable:
        extra |= {
            "children_target_sum": children.target_sum,
            "children_difference": children.target_sum - goal.target,
        }
    return GoalRead.model_validate({**{c: getattr(goal, c) for c in _COLUMNS}, **extra})


_COLUMNS = (
    "id",
    "title",
    "description",
    "department_id",
    "parent_id",
    "metric",
    "target",
    "period_kind",
    "period",
    "owner_id",
    "created_by",
    "status",
    "approval_id",
    "approved_at",
    "created_at",
    "updated_at",
)


async def read_many(session: AsyncSession, goals: list[Goal]) -> list[GoalRead]:
    kids = await children_of(session, [g.id for g in goals])
    return [read(g, kids.get(g.id)) for g in goals]


def goal_filter(
    stmt: Select[Any],
    *,
    department_id: int | None = None,
    company: bool | None = None,
    parent_id: int | None = None,
    top_level: bool | None = None,
    metric: str | None = None,
    period: str | None = None,
    statuses: Collection[GoalStatus] | None = None,
    owner_id: int | None = None,
) -> Select[Any]:
    """The goal board's filters."""
    if department_id is not None:
        stmt = stmt.where(Goal.department_id == department_id)
    if company is not None:
        stmt = stmt.where(Goal.department_id.is_(None) if company else Goal.department_id.is_not(None))
    if parent_id is not None:
        stmt = stmt.where(Goal.parent_id == parent_id)
    if top_level is not None:
        stmt = stmt.where(Goal.parent_id.is_(None) if top_level else Goal.parent_id.is_not(None))
    if metric is not None:
        stmt = stmt.where(Goal.metric == metric)
    if period is not None:
        stmt = stmt.where(Goal.period == period)
    if statuses:
        stmt = stmt.where(Goal.status.in_(list(statuses)))
    if owner_id is not None:
        stmt = stmt.where(Goal.owner_id == owner_id)
    return stmt


# ---- approval ----------------------------------------------------------------------------------


async def request_approval(
    session: AsyncSession, *, actor: Actor, goal_id: int, reason: str | None, now: datetime
) -> Goal:
    """Ask for the goal's approval (kind goal: its department's head, a company goal's director);
    422 when its summable children do not add up to its target, saying by how much."""
    goal = await _settled(session, await crud.get_or_404(session, Goal, goal_id, for_update=True))
    await require_may_act_on(
        session,
        actor,
        department_id=goal.department_id,
        parties=[goal.owner_id, goal.created_by],
        what="ask for its approval",
    )
    _require_draft(goal)
    kids = (await children_of(session, [goal.id])).get(goal.id)
    if kids is not None and is_summable(goal.metric) and kids.target_sum != goal.target:
        diff = kids.target_sum - goal.target
        raise InvalidInput.for_field(
            "children",
            f"its {kids.count} children add up to {_num(kids.target_sum)}, "
            f"{_num(abs(diff))} {'more' if diff > 0 else 'less'} than its target {_num(goal.target)}",
            "inconsistent",
        )
    approval = await approvals.request_for_item(
        session,
        actor=actor,
        kind=ApprovalKind.goal,
        title=f"目标审批 Goal approval: {goal.title} · {goal.period} · {goal.metric} {_num(goal.target)}",
        reason=reason,
        department_id=goal.department_id,
        details={"goal_id": goal.id, "target": str(goal.target), "period": goal.period, "metric": goal.metric},
        now=now,
    )
    return await crud.update(
        session,
        actor=actor,
        obj=goal,
        changes={"status": GoalStatus.pending, "approval_id": approval.id},
        entity_type=ITEM,
    )


@on_approval_decided(ApprovalKind.goal)
async def goal_decided(session: AsyncSession, approval: Approval, now: datetime) -> None:
    """Approved: the goal binds (read-only from now on). Rejected: a draft again, to be revised."""
    goal = await session.get(Goal, int(approval.details["goal_id"]), with_for_update=True)
    if goal is None or goal.approval_id != approval.id:
        return
    approved = approval.status == ApprovalStatus.approved
    changes: dict[str, Any] = {"status": GoalStatus.approved if approved else GoalStatus.draft}
    if approved:
        changes["approved_at"] = now
    await crud.update(
        session, actor=Actor.system(f"approval:{approval.id}"), obj=goal, changes=changes, entity_type=ITEM
    )


# ---- adjustment --------------------------------------------------------------------------------


async def _settle_adjustments(session: AsyncSession, goal_id: int, now: datetime) -> None:
    """Adjustments whose approval was withdrawn are cancelled."""
    rows = await session.execute(
        select(GoalAdjustment, Approval.status)
        .join(Approval, Approval.id == GoalAdjustment.approval_id)
        .where(GoalAdjustment.goal_id == goal_id, GoalAdjustment.status == AdjustmentStatus.pending)
    )
    for adjustment, status in rows:
        if status == ApprovalStatus.cancelled:
            adjustment.status, adjustment.decided_at = AdjustmentStatus.cancelled, now
    await session.flush()


async def request_adjustment(
    session: AsyncSession, *, actor: Actor, goal_id: int, data: GoalAdjustmentCreate, now: datetime
) -> GoalAdjustment:
    """Ask to change an approved goal's target (kind goal_adjustment); one pending at a time. The
    target changes when the approval is approved; every adjustment stays on record."""
    goal = await crud.get_or_404(session, Goal, goal_id, for_update=True)
    await require_may_act_on(
        session,
        actor,
        department_id=goal.department_id,
        parties=[goal.owner_id, goal.created_by],
        what="ask to adjust it",
    )
    if goal.status != GoalStatus.approved:
        raise Conflict(
            f"goal {goal.id} is {goal.status.value}: a draft is edited directly (updateGoal)",
            errors=[FieldError("status", goal.status.value, "state")],
        )
    await _settle_adjustments(session, goal.id, now)
    pending = await session.scalar(
        select(GoalAdjustment.id).where(
            GoalAdjustment.goal_id == goal.id, GoalAdjustment.status == AdjustmentStatus.pending
        )
    )
    if pending is not None:
        raise Conflict(
            f"adjustment {pending} of goal {goal.id} is still pending: decide or cancel its approval first",
            errors=[FieldError("target", f"adjustment {pending} is pending", "duplicate")],
        )
    if data.target == goal.target:
        raise InvalidInput.for_field("target", f"is already the goal's target {_num(goal.target)}", "unchanged")
    if goal.parent_id is not None:
        parent = await crud.get_or_404(session, Goal, goal.parent_id, for_update=True)
        await _check_within_parent(session, parent, data.target, except_id=goal.id)
    await _check_covers_children(session, goal, data.target)
    approval = await approvals.request_for_item(
        session,
        actor=actor,
        kind=ApprovalKind.goal_adjustment,
        title=f"目标调整 Goal adjustment: {goal.title} · {goal.period} {_num(goal.target)} → {_num(data.target)}",
        reason=data.reason,
        department_id=goal.department_id,
        details={"goal_id": goal.id, "target_from": str(goal.target), "target_to": str(data.target)},
        now=now,
    )
    adjustment = GoalAdjustment(
        goal_id=goal.id,
        approval_id=approval.id,
        target_from=goal.target,
        target_to=data.target,
        reason=data.reason,
        status=AdjustmentStatus.pending,
        requested_by=actor.user_id,
    )
    session.add(adjustment)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="goal.adjustment_request",
        entity_type=ITEM,
        entity_id=goal.id,
        after=audit.snapshot(adjustment),
    )
    await session.refresh(adjustment)
    return adjustment


@on_approval_decided(ApprovalKind.goal_adjustment)
async def adjustment_decided(session: AsyncSession, approval: Approval, now: datetime) -> None:
    """Approved: the goal's target becomes the adjustment's (audited). Rejected: it stays."""
    adjustment = (
        await session.scalars(select(GoalAdjustment).where(GoalAdjustment.approval_id == approval.id).with_for_update())
    ).first()
    if adjustment is None or adjustment.status != AdjustmentStatus.pending:
        return
    approved = approval.status == ApprovalStatus.approved
    adjustment.status = AdjustmentStatus.approved if approved else AdjustmentStatus.rejected
    adjustment.decided_at = now
    await session.flush()
    if approved:
        goal = await crud.get_or_404(session, Goal, adjustment.goal_id, for_update=True)
        await crud.update(
            session,
            actor=Actor.system(f"approval:{approval.id}"),
            obj=goal,
            changes={"target": adjustment.target_to},
            entity_type=ITEM,
        )


async def adjustments_of(session: AsyncSession, goal_id: int, now: datetime) -> list[GoalAdjustment]:
    """A goal's adjustment history, oldest first."""
    await crud.get_or_404(session, Goal, goal_id)
    await _settle_adjustments(session, goal_id, now)
    return list(
        await session.scalars(
            select(GoalAdjustment).where(GoalAdjustment.goal_id == goal_id).order_by(GoalAdjustment.id)
        )
    )


# ---- actuals and progress ------------------------------------------------------------------------


async def report_actual(
    session: AsyncSession, *, actor: Actor, goal_id: int, data: GoalActualCreate, now: datetime
) -> GoalActual:
    """Record the goal's own figure to date (an approved or draft goal alike)."""
    goal = await crud.get_or_404(session, Goal, goal_id)
    await require_may_act_on(
        session, actor, department_id=goal.department_id, parties=[goal.owner_id], what="report on it"
    )
    if data.as_of is not None and data.as_of > now:
        raise InvalidInput.for_field("as_of", "must not lie in the future", "range")
    row = GoalActual(
        goal_id=goal.id,
        value=data.value,
        as_of=data.as_of or now,
        source=data.source,
        note=data.note,
        reported_by=actor.user_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session, actor=actor, action="goal.actual", entity_type=ITEM, entity_id=goal.id, after=audit.snapshot(row)
    )
    await session.refresh(row)
    return row


async def actuals_of(session: AsyncSession, goal_id: int) -> list[GoalActual]:
    await crud.get_or_404(session, Goal, goal_id)
    return list(
        await session.scalars(
            select(GoalActual).where(GoalActual.goal_id == goal_id).order_by(GoalActual.as_of, GoalActual.id)
        )
    )


async def linked_kpi_actuals(session: AsyncSession, goal_ids: Collection[int]) -> dict[int, Decimal]:
    """What the campaigns serving these goals report (goal id → value): each campaign's KPI actual for
    the goal's metric, summed for a summable metric and averaged for a rate. Goals no campaign
    reports on are absent (nothing is invented)."""
    rows = await session.execute(
        select(Goal.id, Goal.metric, Campaign.id)
        .join(Campaign, Campaign.goal_id == Goal.id)
        .where(Goal.id.in_(list(goal_ids)))
        .order_by(Goal.id, Campaign.id)
    )
    found: dict[int, tuple[str, list[Decimal]]] = {}
    for goal_id, metric, campaign_id in rows:
        value = (await kpi_actuals(session, campaign_id)).get(metric)
        if value is not None:
            found.setdefault(goal_id, (metric, []))[1].append(value)
    places = Decimal("0.0001")  # as goals keep their figures (NUMERIC scale 4)
    return {
        goal_id: (sum(values, Decimal(0)) / (1 if is_summable(metric) else len(values))).quantize(places)
        for goal_id, (metric, values) in found.items()
    }


async def _tree(session: AsyncSession, root: Goal) -> dict[int | None, list[Goal]]:
    """The goal's descendants by parent id (annual → quarterly → monthly: at most two levels)."""
    by_parent: dict[int | None, list[Goal]] = {}
    frontier = [root.id]
    while frontier:
        rows = list(
            await session.scalars(select(Goal).where(Goal.parent_id.in_(frontier)).order_by(Goal.period, Goal.id))
        )
        for g in rows:
            by_parent.setdefault(g.parent_id, []).append(g)
        frontier = [g.id for g in rows]
    return by_parent


async def _latest_reports(session: AsyncSession, goal_ids: list[int]) -> dict[int, Decimal]:
    """Each goal's latest report (by as-of time, then by when it was written)."""
    rows = await session.execute(
        select(GoalActual.goal_id, GoalActual.value)
        .where(GoalActual.goal_id.in_(goal_ids))
        .order_by(GoalActual.as_of.desc(), GoalActual.id.desc())
    )
    latest: dict[int, Decimal] = {}
    for r in rows:
        latest.setdefault(r.goal_id, Decimal(r.value))
    return latest


def attainment(actual: Decimal | None, target: Decimal) -> tuple[Decimal | None, str | None]:
    """actual / target × 100, rounded half-up to 0.01 (Decimal arithmetic throughout)."""
    if actual is None:
        return None, "nothing reported yet"
    if target == 0:
        return None, "the target is 0: attainment is undefined"
    return (actual / target * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP), None


async def progress(session: AsyncSession, goal_id: int) -> GoalProgress:
    """Target, actual and attainment of the goal and of each of its children, recursively."""
    root = await crud.get_or_404(session, Goal, goal_id)
    by_parent = await _tree(session, root)
    ids = [root.id, *(g.id for kids in by_parent.values() for g in kids)]
    reports = await _latest_reports(session, ids)
    linked = await linked_kpi_actuals(session, ids)

    def build(goal: Goal) -> GoalProgress:
        children = [build(c) for c in by_parent.get(goal.id, [])]
        own = [v for v in (reports.get(goal.id), linked.get(goal.id)) if v is not None]
        if is_summable(goal.metric):
            parts = own + [c.actual for c in children if c.actual is not None]
            actual = sum(parts, Decimal(0)) if parts else None
        else:
            actual = reports.get(goal.id, linked.get(goal.id))  # a rate does not add up from its children
        pct, note = attainment(actual, goal.target)
        return GoalProgress(
            goal_id=goal.id,
            title=goal.title,
            metric=goal.metric,
            period=goal.period,
            status=goal.status,
            target=goal.target,
            actual=actual,
            attainment_pct=pct,
            note=note,
            children=children,
        )

    return build(root)
