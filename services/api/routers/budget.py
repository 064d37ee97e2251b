"""Budget lines, expenses and a campaign's budget figures (money as strings, never floats)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut, page_out, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared import crud
from shared.access import policy as access
from shared.budget import figures
from shared.budget import service as budget
from shared.budget.models import BudgetItem, BudgetLine, Expense, ExpenseStatus
from shared.budget.schemas import (
    BudgetLineCreate,
    BudgetLineRead,
    BudgetLineUpdate,
    BudgetRead,
    ExpenseCancellation,
    ExpenseCreate,
    ExpensePayment,
    ExpenseRead,
)
from shared.campaigns.sla import CampaignItem
from shared.pagination import paginate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["budget"])

_LINE = versions.row(BudgetLine, id="line_id")  # where its version (ETag) is


@router.post(
    "/campaigns/{campaign_id}/budget-lines",
    status_code=status.HTTP_201_CREATED,
    response_model=BudgetLineRead,
    operation_id="createBudgetLine",
    responses={**NOT_FOUND, **CONFLICT},
)
async def create_budget_line(
    campaign_id: int, body: BudgetLineCreate, session: SessionDep, actor: WriterDep, now: NowDep
) -> BudgetLine:
    """Add a line to the campaign's budget plan (its owner or a manager); the lines together stay
    within the campaign's approved budget."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    return await budget.create_line(session, actor=actor, campaign_id=campaign_id, data=body, now=now)


@router.get(
    "/campaigns/{campaign_id}/budget-lines",
    response_model=PageOut[BudgetLineRead],
    operation_id="listBudgetLines",
    responses=NOT_FOUND,
)
async def list_budget_lines(
    campaign_id: int, session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None
) -> dict:
    """The campaign's budget lines, by id."""
    await access.require_read(session, actor, CampaignItem.campaign, campaign_id)
    stmt = select(BudgetLine).where(BudgetLine.campaign_id == campaign_id)
    return page_out(await paginate(session, stmt, BudgetLine.id, limit=limit, cursor=cursor), BudgetLineRead)


@router.patch(
    "/budget-lines/{line_id}",
    dependencies=[versions.writes(_LINE)],
    response_model=BudgetLineRead,
    operation_id="updateBudgetLine",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_budget_line(
    line_id: int, body: BudgetLineUpdate, session: SessionDep, actor: WriterDep, now: NowDep
) -> BudgetLine:
    """Change a line's category, name or plan; the 5 % rule is checked against the new plan."""
    await access.require_write(session, actor, BudgetItem.budget_line, line_id)
    reject_nulls(body.model_dump(exclude_unset=True), ("category", "planned"))
    return await budget.update_line(session, actor=actor, line_id=line_id, changes=body, now=now)


@router.get(
    "/campaigns/{campaign_id}/budget",
    response_model=BudgetRead,
    operation_id="getCampaignBudget",
    responses=NOT_FOUND,
)
async def get_campaign_budget(campaign_id: int, session: SessionDep, actor: ActorDep) -> BudgetRead:
    """Per line and in total: planned, requested, approved, paid, committed (approved + paid),
    remaining and the deviation from plan."""
    await access.require_read(session, actor, CampaignItem.campaign, campaign_id)
    return await figures.budget(session, campaign_id)


@router.post(
    "/expenses",
    status_code=status.HTTP_201_CREATED,
    response_model=ExpenseRead,
    operation_id="createExpense",
    responses=CONFLICT,
)
async def create_expense(body: ExpenseCreate, session: SessionDep, actor: WriterDep, now: NowDep) -> Expense:
    """Request an expense against a budget line: it asks for an approval of kind `expense`
    (beyond 115 % of the line's plan, the special chain: marketing + finance directors)."""
    await access.require_reference(session, actor, BudgetItem.budget_line, body.line_id, field="line_id")
    return await budget.request_expense(session, actor=actor, data=body, now=now)


@router.get("/expenses", response_model=PageOut[ExpenseRead], operation_id="listExpenses")
async def list_expenses(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    campaign_id: int | None = None,
    line_id: int | None = None,
    requester_id: int | None = None,
    status: Annotated[list[ExpenseStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
) -> dict:
    """Expenses, by id."""
    stmt = budget.expense_filter(
        access.visible(select(Expense), actor),
        campaign_id=campaign_id,
        line_id=line_id,
        statuses=status,
        requester_id=requester_id,
    )
    return page_out(await paginate(session, stmt, Expense.id, limit=limit, cursor=cursor), ExpenseRead)


@router.get("/expenses/{expense_id}", response_model=ExpenseRead, operation_id="getExpense", responses=NOT_FOUND)
async def get_expense(expense_id: int, session: SessionDep, actor: ActorDep) -> Expense:
    """One expense."""
    await access.require_read(session, actor, BudgetItem.expense, expense_id)
    return await crud.get_or_404(session, Expense, expense_id)


@router.post(
    "/expenses/{expense_id}/paid",
    response_model=ExpenseRead,
    operation_id="payExpense",
    responses={**NOT_FOUND, **CONFLICT},
)
async def pay_expense(
    expense_id: int, session: SessionDep, actor: WriterDep, now: NowDep, body: ExpensePayment | None = None
) -> Expense:
    """Finance (a manager) records an approved expense as paid."""
    await access.require_write(session, actor, BudgetItem.expense, expense_id)
    data = body or ExpensePayment()
    return await budget.mark_paid(session, actor=actor, expense_id=expense_id, data=data, now=now)


@router.post(
    "/expenses/{expense_id}/cancel",
    response_model=ExpenseRead,
    operation_id="cancelExpense",
    responses={**NOT_FOUND, **CONFLICT},
)
async def cancel_expense(
    expense_id: int, session: SessionDep, actor: WriterDep, now: NowDep, body: ExpenseCancellation | None = None
) -> Expense:
    """The requester (or a manager) withdraws an expense still waiting for approval."""
    await access.require_write(session, actor, BudgetItem.expense, expense_id)
    data = body or ExpenseCancellation()
    return await budget.cancel_expense(session, actor=actor, expense_id=expense_id, data=data, now=now)
