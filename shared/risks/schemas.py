"""What the risk register's API takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from shared.risks.models import Grade, ResponseStrategy, RiskCategory, RiskStatus
from shared.schemas import ReadModel, WriteModel
from shared.sla.schemas import TimerSummary

Title = Annotated[str, Field(min_length=1, max_length=300)]
Text = Annotated[str, Field(max_length=20_000)]
Cadence = Annotated[
    int,
    Field(ge=1, le=66, description="review cadence in working days: 1 daily, 5 weekly, 22 monthly (default 5)"),
]
LEVEL_DOC = (
    "derived from the 3 × 3 matrix (score high=3, medium=2, low=1; likelihood × impact ≥ 6 → high, "
    "3–4 → medium, ≤ 2 → low): high×high, high×medium, medium×high → high; high×low, medium×medium, "
    "low×high → medium; the rest → low"
)


class RiskCreate(WriteModel):
    title: Title
    description: Text | None = None
    category: RiskCategory
    likelihood: Grade
    impact: Grade
    owner_id: int = Field(description="who watches the risk and reviews it")
    strategy: ResponseStrategy = Field(description="the response: avoid, mitigate, transfer or accept")
    response_plan: Text | None = Field(default=None, description="the response plan in words")
    review_every_days: Cadence = 5
    campaign_id: int | None = None
    goal_id: int | None = None


class RiskUpdate(WriteModel):
    title: Title | None = None
    description: Text | None = None
    category: RiskCategory | None = None
    likelihood: Grade | None = None
    impact: Grade | None = None
    owner_id: int | None = None
    strategy: ResponseStrategy | None = None
    response_plan: Text | None = None
    review_every_days: Cadence | None = None
    status: RiskStatus | None = Field(default=None, description="closed: no more reviews")


class RiskReviewCreate(WriteModel):
    note: Annotated[str, Field(min_length=1, max_length=20_000)] = Field(description="what the review found")
    likelihood: Grade | None = Field(default=None, description="re-assessed likelihood, if it changed")
    impact: Grade | None = Field(default=None, description="re-assessed impact, if it changed")


class RiskLevelChangeRead(ReadModel):
    from_level: Grade | None
    to_level: Grade
    at: datetime
    by: int | None


class RiskReviewRead(ReadModel):
    id: int
    risk_id: int
    status: str
    note: str | None
    reviewed_at: datetime | None
    reviewed_by: int | None
    created_at: datetime
    sla: list[TimerSummary] = Field(default=[], description="the review's timer (running, or met when recorded)")


class RiskRead(ReadModel):
    id: int
    title: str
    description: str | None
    category: RiskCategory
    likelihood: Grade
    impact: Grade
    level: Grade = Field(description=LEVEL_DOC)
    owner_id: int | None
    strategy: ResponseStrategy
    response_plan: str | None
    review_every_days: int
    status: RiskStatus
    campaign_id: int | None
    goal_id: int | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class MatrixCell(ReadModel):
    likelihood: Grade
    impact: Grade
    level: Grade
    count: int
    risk_ids: list[int]


class RiskMatrix(ReadModel):
    cells: list[MatrixCell] = Field(description="9 cells, likelihood high → low, then impact high → low")
    total: int
