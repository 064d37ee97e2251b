"""What the metrics and KPI APIs take and return. Numbers are `Decimal`, serialised as strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from shared.kpis.models import Aggregation, VarianceStatus
from shared.schemas import Instant, ReadModel, WriteModel

MetricKeyStr = Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")]
Name = Annotated[str, Field(min_length=1, max_length=120)]
Unit = Annotated[str, Field(min_length=1, max_length=16)]
# Exact decimals only (a JSON string such as "4200" or "8.5", or a number): no floats stored.
Value = Annotated[Decimal, Field(max_digits=20, decimal_places=6, allow_inf_nan=False)]
Threshold = Annotated[Decimal, Field(ge=0, le=10, max_digits=8, decimal_places=6, description="a rate: 0.10 is ±10 %")]
Text = Annotated[str, Field(max_length=20_000)]


class MetricCreate(WriteModel):
    key: MetricKeyStr
    name_zh: Name
    name_en: Name
    unit: Unit
    higher_is_better: bool = Field(description="the good direction: false for churn rate, cost per lead …")
    aggregation: Aggregation = Field(description="how readings make the actual: latest, sum or avg")


class MetricUpdate(WriteModel):
    name_zh: Name | None = None
    name_en: Name | None = None
    unit: Unit | None = None
    higher_is_better: bool | None = None
    aggregation: Aggregation | None = None


class MetricRead(ReadModel):
    id: int
    key: str
    name_zh: str
    name_en: str
    unit: str
    higher_is_better: bool
    aggregation: Aggregation
    created_at: datetime
    updated_at: datetime


class KpiCreate(WriteModel):
    metric_key: MetricKeyStr
    target: Value
    warning_threshold: Threshold = Decimal("0.10")
    owner_id: int = Field(description="who answers for it: alerted on a variance, owes the cause")
    cause: Text | None = None
    improvement: Text | None = None


class KpiUpdate(WriteModel):
    target: Value | None = None
    warning_threshold: Threshold | None = None
    owner_id: int | None = None
    cause: Text | None = Field(default=None, description="why it is off target: answers an open variance")
    improvement: Text | None = None


class ReadingCreate(WriteModel):
    value: Value
    as_of: Instant | None = Field(default=None, description="when the value was true (default: now)")
    source: Annotated[str, Field(max_length=120)] | None = Field(default=None, description="e.g. CRM, GA, 财务")
    note: Text | None = None


class ReadingRead(ReadModel):
    id: int
    kpi_id: int
    value: Decimal
    as_of: datetime
    source: str | None
    note: str | None
    created_by: int | None
    created_at: datetime


class VarianceRead(ReadModel):
    id: int
    status: VarianceStatus
    actual: Decimal
    variance_rate: Decimal
    opened_at: datetime
    closed_at: datetime | None
    rectification_id: int | None


class KpiRead(ReadModel):
    id: int
    campaign_id: int
    metric_key: str
    unit: str
    higher_is_better: bool
    aggregation: Aggregation
    target: Decimal
    warning_threshold: Decimal
    owner_id: int | None
    cause: str | None
    improvement: str | None
    readings: int = Field(description="how many readings it has")
    actual: Decimal | None = Field(description="per the metric's aggregation; null without readings")
    variance_rate: Decimal | None = Field(description="(actual − target) / target, exact; null with a reason")
    variance_note: str | None = Field(description="why variance_rate is null, if it is")
    off_target: bool = Field(description="worse than the warning threshold in the metric's bad direction")
    variance: VarianceRead | None = Field(description="the current crossing of the threshold, if any")
    created_at: datetime
    updated_at: datetime
