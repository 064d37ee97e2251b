"""Budget lines and expenses. An expense is requested against a line and asks for an approval of
kind `expense` (the 15 % rule chooses a special chain); the approval's decision moves it to
approved or rejected (registered below with `on_approval_decided`); a manager marks it paid."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.approvals import service as approvals
from shared.approvals.hooks import on_approval_decided
from shared.approvals.schemas import ApprovalCancellation, ApprovalCreate
from shared.audit import service as audit
from shared.budget.alerts import check_deviation
from shared.budget.figures import lines_of, sums_by_line
from shared.budget.models import BudgetItem, BudgetLine, Expense, ExpenseStatus
from shared.budget.schemas import BudgetLineCreate, BudgetLineUpdate, ExpenseCancellation, ExpenseCreate, ExpensePayment
from shared.campaigns.guards import require_open_campaign
from shared.errors import Conflict, FieldError, InvalidInput
from shared.filters import any_of
from shared.models import Approval, ApprovalKind, ApprovalStatus, Campaign
from shared.org.permissions import require_may_act
from shared.sla.registry import on_campaign_cancelled


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


# ---- lines --------------------------------------------------------------------------------------


async def _owned_campaign(session: AsyncSession, actor: Actor, campaign_id: int, what: str) -> Campaign:
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    await require_may_act(
        session,
        actor,
        who="the campaign owner or a manager",
        what=what,
        parties=[campaign.owner_id],
        home=[campaign.department_id],
    )
    require_open_campaign(campaign)
    return campaign


async def _check_plan(
    session: AsyncSession, campaign: Campaign, *, currency: str, planned: Decimal, except_line: int | None
) -> None:
    """One currency per campaign, and its lines together within its approved budget (a bigger
    plan is a budget change: 双签)."""
    others = [line for line in await lines_of(session, campaign.id) if line.id != except_line]
    if others and others[0].currency != currency:
        raise InvalidInput.for_field("currency", f"this campaign's budget lines are in {others[0].currency}")
    planned_total = sum((line.planned for line in others), planned)
    if campaign.budget is not None and planned_total > campaign.budget:
        raise Conflict.on_input(
            f"the campaign's lines would plan {_money(planned_total)}, above its budget {_money(campaign.budget)}: "
            "raise the budget first (a budget_change approval)",
            "planned",
            f"lines would total {planned_total}, above the budget {campaign.budget}",
            "budget",
        )


async def create_line(
    session: AsyncSession, *, actor: Actor, campaign_id: int, data: BudgetLineCreate, now: datetime
) -> BudgetLine:
    """Add a line to the campaign's plan (its owner or a manager)."""
    campaign = await _owned_campaign(session, actor, campaign_id, "plan this campaign's budget")
    await _check_plan(session, campaign, currency=data.currency, planned=data.planned, except_line=None)
    line = await crud.create(
        session,
        actor=actor,
        obj=BudgetLine(campaign_id=campaign.id, **data.model_dump()),
        entity_type=BudgetItem.budget_line,
    )
    await check_deviation(session, campaign.id, now=now)
    return line


async def update_line(
    session: AsyncSession, *, actor: Actor, line_id: int, changes: BudgetLineUpdate, now: datetime
) -> BudgetLine:
    """Change a line's category, name or plan; the 5 % rule is checked against the new plan."""
    line = await crud.get_or_404(session, BudgetLine, line_id)
    campaign = await _owned_campaign(session, actor, line.campaign_id, "plan this campaign's budget")
    line = await crud.get_or_404(session, BudgetLine, line_id, for_update=True)
    values: dict[str, Any] = changes.model_dump(exclude_unset=True)
    if "planned" in values:
        await _check_plan(session, campaign, currency=line.currency, planned=values["planned"], except_line=line.id)
    line = await crud.update(session, actor=actor, obj=line, changes=values, entity_type=BudgetItem.budget_line)
    await check_deviation(session, campaign.id, now=now)
    return line


# ---- expenses -----------------------------------------------------------------------------------


def _overrun_pct(planned: Decimal, projected: Decimal) -> Decimal:
    """How far above plan the line would stand, in % (exact; negative when under)."""
    if planned == 0:
        return Decimal("Infinity") if projected > 0 else Decimal(0)
    return (projected - planned) * 100 / planned


async def request_expense(session: AsyncSession, *, actor: Actor, data: ExpenseCreate, now: datetime) -> Expense:
    """Record an expense against a line and ask for its approval. The chain is chosen with the
    line as it would stand — approved, paid and still pending expenses plus this one — so an
    expense that takes it beyond 115 % of plan gets the special chain (seed 004)."""
    await crud.check_references(session, {"line_id": (BudgetLine, data.line_id)})
    line = await crud.get_or_404(session, BudgetLine, data.line_id)
    # The campaign row lock (taken by the approval request too) serialises expenses on a campaign.
    campaign = await crud.get_or_404(session, Campaign, line.campaign_id, for_update=True)
    require_open_campaign(campaign)
    sums = (await sums_by_line(session, [line]))[line.id]
    projected = sums.committed + sums.requested + data.amount
    overrun = _overrun_pct(line.planned, projected)
    expense = await crud.create(
        session,
        actor=actor,
        obj=Expense(
            **data.model_dump(),
            campaign_id=campaign.id,
            currency=line.currency,
            status=ExpenseStatus.requested,
            requester_id=actor.user_id,
        ),
        entity_type=BudgetItem.expense,
    )
    label = line.name or line.category.value
    approval = await approvals.request_approval(
        session,
        actor=actor,
        data=ApprovalCreate(
            kind=ApprovalKind.expense,
            campaign_id=campaign.id,
            title=f"费用审批 Expense: {campaign.name} · {label} {line.currency} {_money(data.amount)}"[:300],
            reason=data.note,
        ),
        now=now,
        subject={
            "expense_id": expense.id,
            "line_id": line.id,
            "amount": str(data.amount),
            "currency": line.currency,
            "line_planned": str(line.planned),
            "line_projected": str(projected),
            "line_overrun_pct": str(overrun.quantize(Decimal("0.01"))) if overrun.is_finite() else None,
        },
        line_overrun_pct=overrun,
    )
    expense.approval_id = approval.id
    await session.flush()
    await session.refresh(expense)
    return expense


@on_approval_decided(ApprovalKind.expense)
async def expense_decided(session: AsyncSession, approval: Approval, now: datetime) -> None:
    """The expense's approval was decided: it is approved (committed) or rejected; the 5 % rule
    is checked at once."""
    expense = (
        await session.scalars(select(Expense).where(Expense.approval_id == approval.id).with_for_update())
    ).one_or_none()
    if expense is None or expense.status != ExpenseStatus.requested:
        return
    before = audit.snapshot(expense)
    approved = approval.status == ApprovalStatus.approved
    expense.status = ExpenseStatus.approved if approved else ExpenseStatus.rejected
    expense.decided_at = now
    await session.flush()
    await audit.record(
        session,
        actor=Actor.system(f"approval:{approval.id}"),
        action="expense.approve" if approved else "expense.reject",
        entity_type=BudgetItem.expense,
        entity_id=expense.id,
        before=before,
        after=audit.snapshot(expense),
    )
    if approved:
        await check_deviation(session, expense.campaign_id, now=now)


def _require_status(expense: Expense, *wanted: ExpenseStatus) -> None:
    if expense.status not in wanted:
        raise Conflict(
            f"expense #{expense.id} is {expense.status.value}",
            errors=[FieldError("status", expense.status.value, "state")],
        )


async def mark_paid(
    session: AsyncSession, *, actor: Actor, expense_id: int, data: ExpensePayment, now: datetime
) -> Expense:
    """Finance (a manager) records an approved expense as paid."""
    expense = await crud.get_or_404(session, Expense, expense_id, for_update=True)
    await require_may_act(session, actor, who="finance (a manager)", what="mark an expense paid")
    _require_status(expense, ExpenseStatus.approved)
    before = audit.snapshot(expense)
    expense.status, expense.paid_at, expense.paid_by = ExpenseStatus.paid, now, actor.user_id
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="expense.pay",
        entity_type=BudgetItem.expense,
        entity_id=expense.id,
        before=before,
        after=audit.snapshot(expense) | ({"note": data.note} if data.note else {}),
    )
    await session.refresh(expense)
    return expense


async def cancel_expense(
    session: AsyncSession, *, actor: Actor, expense_id: int, data: ExpenseCancellation, now: datetime
) -> Expense:
    """The requester (or a manager) withdraws an expense still waiting for approval; its approval
    is cancelled with it."""
    expense = await crud.get_or_404(session, Expense, expense_id, for_update=True)
    await require_may_act(
        session, actor, who="the requester or a manager", what="cancel an expense", parties=[expense.requester_id]
    )
    _require_status(expense, ExpenseStatus.requested)
    await _cancel(session, actor, expense, data.reason, now)
    await session.refresh(expense)
    return expense


async def _cancel(session: AsyncSession, actor: Actor, expense: Expense, reason: str | None, now: datetime) -> None:
    before = audit.snapshot(expense)
    expense.status, expense.decided_at = ExpenseStatus.cancelled, now
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="expense.cancel",
        entity_type=BudgetItem.expense,
        entity_id=expense.id,
        before=before,
        after=audit.snapshot(expense),
    )
    approval = await session.get(Approval, expense.approval_id) if expense.approval_id is not None else None
    if approval is not None and approval.status == ApprovalStatus.pending:
        await approvals.cancel(
            session, actor=actor, approval_id=approval.id, data=ApprovalCancellation(reason=reason), now=now
        )


@on_campaign_cancelled(BudgetItem.expense)
async def cancel_for_campaign(session: AsyncSession, actor: Actor, campaign_id: int, now: datetime, reason: str) -> int:
    """The campaign was cancelled or completed: expenses still waiting for approval are cancelled."""
    waiting = list(
        await session.scalars(
            select(Expense)
            .where(Expense.campaign_id == campaign_id, Expense.status == ExpenseStatus.requested)
            .order_by(Expense.id)
            .with_for_update()
        )
    )
    for expense in waiting:
        await _cancel(session, actor, expense, reason, now)
    return len(waiting)


def expense_filter(
    stmt: Select[Any],
    *,
    campaign_id: int | None = None,
    line_id: int | None = None,
    statuses: Collection[ExpenseStatus] | None = None,
    requester_id: int | None = None,
) -> Select[Any]:
    if campaign_id is not None:
        stmt = stmt.where(Expense.campaign_id == campaign_id)
    if line_id is not None:
        stmt = stmt.where(Expense.line_id == line_id)
    if statuses:
        stmt = stmt.where(any_of(Expense.status, statuses))
    if requester_id is not None:
        stmt = stmt.where(Expense.requester_id == requester_id)
    return stmt
