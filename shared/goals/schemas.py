"""What the goals API takes and returns. Targets and actuals are `Decimal`, serialised as strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from shared.goals.models import AdjustmentStatus, GoalPeriodKind, GoalStatus
from shared.schemas import Instant, ReadModel, WriteModel

Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=20_000)]
Metric = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="a KPI catalogue key: leads, revenue, new_customers, conversion_rate …",
    ),
]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]
PeriodText = Annotated[str, Field(description='a year ("2026"), a quarter ("2026-Q3") or a month ("2026-08")')]
Reason = Annotated[str, Field(min_length=1, max_length=20_000)]
SUMMABLE_DOC = (
    "counts and amounts add up (a parent's target is its children's sum); rates, ratios, scores and "
    "unit costs (conversion_rate, churn_rate, csat, nps, roi, cpa, cac, cltv, cost_per_lead, any "
    "*_rate …) do not, and are exempt"
)


class GoalCreate(WriteModel):
    title: Title
    description: Description | None = None
    department_id: int | None = Field(
        default=None, description="null: a company-wide goal; a child defaults to its parent's department"
    )
    parent_id: int | None = Field(default=None, description="the goal one level up (annual → quarterly → monthly)")
    metric: Metric
    target: Amount
    period: PeriodText
    owner_id: int | None = Field(default=None, description="defaults to the caller")


class GoalUpdate(WriteModel):
    """Only a draft goal changes this way; an approved one through an adjustment request."""

    title: Title | None = None
    description: Description | None = None
    target: Amount | None = None
    period: PeriodText | None = None
    owner_id: int | None = None


class GoalApprovalRequest(WriteModel):
    reason: Annotated[str, Field(max_length=20_000)] | None = None


class GoalRead(ReadModel):
    id: int
    title: str
    description: str | None
    department_id: int | None
    parent_id: int | None
    metric: str
    summable: bool = Field(description=SUMMABLE_DOC)
    target: Decimal
    period_kind: GoalPeriodKind
    period: str
    owner_id: int | None
    created_by: int | None
    status: GoalStatus
    approval_id: int | None
    approved_at: datetime | None
    children_count: int = 0
    children_target_sum: Decimal | None = Field(
        default=None, description="the sum of the children's targets (summable metrics with children)"
    )
    children_difference: Decimal | None = Field(
        default=None, description="children_target_sum − target: 0 when consistent, negative when short"
    )
    created_at: datetime
    updated_at: datetime


class GoalActualCreate(WriteModel):
    value: Amount = Field(description="the goal's own achieved figure to date (the latest report counts)")
    as_of: Instant | None = Field(default=None, description="default now")
    source: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    note: Description | None = None


class GoalActualRead(ReadModel):
    id: int
    goal_id: int
    value: Decimal
    as_of: datetime
    source: str | None
    note: str | None
    reported_by: int | None
    created_at: datetime


class GoalAdjustmentCreate(WriteModel):
    target: Amount = Field(description="the new target, applied once the adjustment is approved")
    reason: Reason = Field(description="why the goal must change (seed 002: 调整需经充分分析和论证)")


class GoalAdjustmentRead(ReadModel):
    id: int
    goal_id: int
    approval_id: int | None
    target_from: Decimal
    target_to: Decimal
    reason: str
    status: AdjustmentStatus
    requested_by: int | None
    decided_at: datetime | None
    created_at: datetime


class GoalProgress(ReadModel):
    goal_id: int
    title: str
    metric: str
    period: str
    status: GoalStatus
    target: Decimal
    actual: Decimal | None = Field(
        description="summable: its own latest report + its children's actuals (+ linked KPIs); "
        "otherwise its own latest report; null when nothing was reported"
    )
    attainment_pct: Decimal | None = Field(description="actual / target × 100, exact to 0.01; null without both")
    note: str | None = Field(default=None, description="why attainment_pct is null")
    children: list[GoalProgress] = []
