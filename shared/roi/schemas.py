"""What the ROI estimate API takes and returns. Money is `Decimal`, serialised as a string."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from shared.roi.models import RoiEstimateStatus
from shared.roi.rates import roi
from shared.schemas import ReadModel, WriteModel
from shared.sla.schemas import TimerSummary

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
DUE_AT_ONCE = "the start date was less than 15 days away when it became due: due at once"
UNDATED_NOTE = "the campaign has no start date yet: nothing is due until it has one"
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]


class RoiEstimateSubmit(WriteModel):
    """The ROI report (ROI 测算报告): where the document is and the figures it arrives at."""

    document_url: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="the report document (http or https)"
    )
    expected_revenue: Money = Field(ge=0, description='expected revenue, e.g. "1200000.00"')
    expected_cost: Money = Field(gt=0, description="expected cost (more than 0: ROI divides by it)")
    currency: Currency = "CNY"
    note: Annotated[str, Field(max_length=20_000)] | None = None


class RoiEstimateRead(ReadModel):
    id: int
    campaign_id: int
    status: RoiEstimateStatus
    start_date: date | None = Field(description="the campaign start date the deadline counts back from")
    due_at: datetime | None = Field(description="15 calendar days before the start date (00:00, org time)")
    due_at_once: bool = Field(description="the start date was less than 15 days away when this became due")
    due_note: str | None = Field(default=None, description="why the deadline is what it is, when not the rule")
    document_url: str | None
    expected_revenue: Decimal | None
    expected_cost: Decimal | None
    expected_roi: Decimal | None = Field(
        default=None, description="(revenue − cost) / cost, exact to 4 decimal places (half-even)"
    )
    currency: str
    note: str | None
    submitted_at: datetime | None
    submitted_by: int | None
    created_at: datetime
    updated_at: datetime
    sla: list[TimerSummary] = Field(default=[], description="the estimate's deadline timer (running, met …)")

    @model_validator(mode="after")
    def _derived(self) -> Self:
        self.expected_roi = roi(self.expected_revenue, self.expected_cost)
        if self.due_at_once and self.status == RoiEstimateStatus.pending:
            self.due_note = DUE_AT_ONCE
        elif self.status == RoiEstimateStatus.pending and self.due_at is None:
            self.due_note = UNDATED_NOTE
        return self
