"""What the money-metrics API returns."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from shared.schemas import ReadModel


class FigureRead(ReadModel):
    value: Decimal | None = Field(description="exact; ratios to 4 places (ROI 0.2500 = 25 %), money to 2")
    missing: list[str] = Field(description="inputs that were not there (KPI metric keys, or `cost`)")
    reason: str | None = Field(description="why it could not be computed although the inputs were there")


class MoneyRead(ReadModel):
    campaign_id: int | None = None
    department_id: int | None = None
    period_from: date | None = None
    period_to: date | None = None
    campaign_ids: list[int] = Field(default=[], description="the campaigns an aggregate adds up")
    inputs: dict[str, Decimal | None] = Field(
        description="cost (approved + paid expenses) and the KPI actuals the formulas read; rates as fractions"
    )
    figures: dict[str, FigureRead] = Field(
        description="roi = (revenue − cost) / cost; cost_per_lead = cost / leads; cpa = cost / (leads × "
        "conversion rate); cac = cost / new customers; cltv = the campaign's cltv, else average order value × "
        "purchase frequency × customer lifespan"
    )
