"""A campaign's budget in numbers: per line planned, requested, approved, paid, remaining and the
deviation from plan — exact `Decimal` arithmetic, never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.budget.models import DEFAULT_CURRENCY, BudgetLine, Expense, ExpenseStatus
from shared.budget.schemas import BudgetLineFigures, BudgetRead, Figures
from shared.models import Campaign

ZERO = Decimal("0.00")
RATE = Decimal("0.0001")
# Seed 004: "实际支出偏离预算5%以上时自动触发预警" — committed spend more than 5 % above plan.
ALERT_OVER = Decimal("0.05")


@dataclass
class Sums:
    planned: Decimal = ZERO
    requested: Decimal = ZERO
    approved: Decimal = ZERO
    paid: Decimal = ZERO

    @property
    def committed(self) -> Decimal:
        return self.approved + self.paid

    @property
    def over_threshold(self) -> bool:
        """Committed more than 5 % above plan, compared exactly (no rounding at the edge)."""
        return self.committed > self.planned * (1 + ALERT_OVER) if self.planned > 0 else self.committed > 0

    def deviation(self) -> Decimal | None:
        if self.planned == 0:
            return None
        return ((self.committed - self.planned) / self.planned).quantize(RATE)

    def add(self, other: Sums) -> None:
        self.planned += other.planned
        self.requested += other.requested
        self.approved += other.approved
        self.paid += other.paid

    def figures(self) -> dict[str, object]:
        return {
            "planned": self.planned,
            "requested": self.requested,
            "approved": self.approved,
            "paid": self.paid,
            "committed": self.committed,
            "remaining": self.planned - self.committed,
            "deviation": self.deviation(),
            "over_threshold": self.over_threshold,
        }


async def lines_of(session: AsyncSession, campaign_id: int) -> list[BudgetLine]:
    return list(
        await session.scalars(select(BudgetLine).where(BudgetLine.campaign_id == campaign_id).order_by(BudgetLine.id))
    )


async def sums_by_line(session: AsyncSession, lines: list[BudgetLine]) -> dict[int, Sums]:
    """Each line's plan and its expenses summed by status, in one query."""
    out = {line.id: Sums(planned=line.planned) for line in lines}
    if not lines:
        return out
    rows = await session.execute(
        select(Expense.line_id, Expense.status, func.sum(Expense.amount))
        .where(Expense.line_id.in_(list(out)))
        .group_by(Expense.line_id, Expense.status)
    )
    for line_id, status, total in rows:
        sums = out[line_id]
        if status == ExpenseStatus.requested:
            sums.requested += total
        elif status == ExpenseStatus.approved:
            sums.approved += total
        elif status == ExpenseStatus.paid:
            sums.paid += total
    return out


def total(sums: dict[int, Sums]) -> Sums:
    out = Sums()
    for s in sums.values():
        out.add(s)
    return out


async def budget(session: AsyncSession, campaign_id: int) -> BudgetRead:
    """The campaign's budget: every line's figures and the totals."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id)
    lines = await lines_of(session, campaign_id)
    sums = await sums_by_line(session, lines)
    return BudgetRead(
        campaign_id=campaign.id,
        currency=lines[0].currency if lines else DEFAULT_CURRENCY,
        budget=campaign.budget,
        lines=[
            BudgetLineFigures(line_id=line.id, category=line.category, name=line.name, **sums[line.id].figures())
            for line in lines
        ],
        totals=Figures(**total(sums).figures()),
    )


async def campaign_cost(session: AsyncSession, campaign_id: int) -> Decimal:
    """What the campaign has cost: its expenses approved or paid (committed), in its currency."""
    spent = await session.scalar(
        select(func.sum(Expense.amount)).where(
            Expense.campaign_id == campaign_id, Expense.status.in_([ExpenseStatus.approved, ExpenseStatus.paid])
        )
    )
    return Decimal(spent) if spent is not None else ZERO
