"""What the budget API takes and returns. Money is a `Decimal` with at most two decimals,
written and read as a JSON string ("1200.00"), never a float."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from shared.budget.models import DEFAULT_CURRENCY, BudgetCategory, ExpenseStatus
from shared.schemas import ReadModel, WriteModel

CENT = Decimal("0.01")
Amount = Annotated[
    Decimal,
    Field(gt=0, max_digits=14, decimal_places=2, description="> 0, at most two decimals"),
    AfterValidator(lambda v: v.quantize(CENT)),  # "500" is read back as "500.00"
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Text = Annotated[str, Field(max_length=20_000)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return value


AttachmentUrl = Annotated[str, Field(max_length=2000), AfterValidator(_http_url)]


class BudgetLineCreate(WriteModel):
    category: BudgetCategory
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="e.g. 抖音信息流 (default: the category)"
    )
    planned: Amount = Field(description="the planned amount; the campaign's lines together stay within its budget")
    currency: Currency = Field(default=DEFAULT_CURRENCY, description="every line of a campaign has one currency")


class BudgetLineUpdate(WriteModel):
    category: BudgetCategory | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    planned: Amount | None = None


class BudgetLineRead(ReadModel):
    id: int
    campaign_id: int
    category: BudgetCategory
    name: str | None
    planned: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime


class ExpenseCreate(WriteModel):
    line_id: int = Field(description="the budget line it is charged to (its currency is the expense's)")
    amount: Amount
    vendor: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    note: Text | None = None
    attachment_url: AttachmentUrl | None = Field(default=None, description="invoice or quote, http(s) only")


class ExpensePayment(WriteModel):
    note: Text | None = None


class ExpenseCancellation(WriteModel):
    reason: Text | None = None


class ExpenseRead(ReadModel):
    id: int
    line_id: int
    campaign_id: int
    amount: Decimal
    currency: str
    vendor: str | None
    note: str | None
    attachment_url: str | None
    status: ExpenseStatus
    requester_id: int | None
    approval_id: int | None
    decided_at: datetime | None
    paid_at: datetime | None
    paid_by: int | None
    created_at: datetime
    updated_at: datetime


class Figures(ReadModel):
    planned: Decimal
    requested: Decimal = Field(description="asked for, approval pending (not committed)")
    approved: Decimal = Field(description="approved, not yet paid")
    paid: Decimal
    committed: Decimal = Field(description="approved + paid")
    remaining: Decimal = Field(description="planned − committed (negative when over)")
    deviation: Decimal | None = Field(
        description="(committed − planned) / planned as a rate, 4 decimals (0.0600 = +6 %); null when planned is 0"
    )
    over_threshold: bool = Field(description="committed is more than 5 % above plan (the alert is raised)")


class BudgetLineFigures(Figures):
    line_id: int
    category: BudgetCategory
    name: str | None


class BudgetRead(ReadModel):
    campaign_id: int
    currency: str
    budget: Decimal | None = Field(description="the campaign's approved budget (its lines stay within it)")
    lines: list[BudgetLineFigures]
    totals: Figures = Field(description="the campaign: every line together")
