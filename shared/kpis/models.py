"""The KPI domain's tables: the metric catalogue, a campaign's KPIs, their readings and the
variance crossings that are timed (this domain owns its models, like its schemas and SLA type)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, PlainNumeric, TimestampMixin, str_enum


class Aggregation(enum.StrEnum):
    """How a KPI's readings make its actual."""

    latest = "latest"  # the reading with the latest as-of time (a level: conversion rate, CSAT)
    sum = "sum"  # every reading added up (a flow reported in batches: leads, revenue)
    avg = "avg"  # the mean of the readings


class VarianceStatus(enum.StrEnum):
    open = "open"  # worse than the threshold, no cause written yet: its deadline runs
    explained = "explained"  # a cause was written for this crossing (still worse than the threshold)
    rectifying = "rectifying"  # no cause in time: a rectification item was opened for the KPI owner
    recovered = "recovered"  # back within the threshold: the crossing is over
    cancelled = "cancelled"  # the campaign was cancelled


# A crossing is "current" while the variance stays beyond the threshold.
CURRENT = (VarianceStatus.open, VarianceStatus.explained, VarianceStatus.rectifying)


class Metric(IdMixin, TimestampMixin, Base):
    __tablename__ = "metrics"
    key: Mapped[str] = mapped_column(String(48), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(16))
    higher_is_better: Mapped[bool] = mapped_column(Boolean)
    aggregation: Mapped[Aggregation] = mapped_column(str_enum(Aggregation, "metric_aggregation"))


class Kpi(IdMixin, TimestampMixin, Base):
    __tablename__ = "kpis"
    __table_args__ = (UniqueConstraint("campaign_id", "metric_key"),)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    metric_key: Mapped[str] = mapped_column(
        String(48), ForeignKey("metrics.key", ondelete="RESTRICT", onupdate="CASCADE"), index=True
    )
    target: Mapped[Decimal] = mapped_column(PlainNumeric)
    warning_threshold: Mapped[Decimal] = mapped_column(PlainNumeric, default=Decimal("0.10"))
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    cause: Mapped[str | None] = mapped_column(Text)
    improvement: Mapped[str | None] = mapped_column(Text)


class KpiReading(IdMixin, TimestampMixin, Base):
    __tablename__ = "kpi_readings"
    kpi_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("kpis.id", ondelete="CASCADE"), index=True)
    value: Mapped[Decimal] = mapped_column(PlainNumeric)
    as_of: Mapped[datetime]
    source: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))


class KpiVariance(IdMixin, TimestampMixin, Base):
    """One crossing of a KPI's threshold in its bad direction: open until a cause is written or the
    variance recovers; the timed subject `kpi_variance`."""

    __tablename__ = "kpi_variances"
    __table_args__ = (
        # At most one current crossing per KPI: a second reading beyond the threshold is the same one.
        Index(
            "uq_kpi_variances_one_current",
            "kpi_id",
            unique=True,
            postgresql_where=text("status IN ('open', 'explained', 'rectifying')"),
        ),
    )
    kpi_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("kpis.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    status: Mapped[VarianceStatus] = mapped_column(
        str_enum(VarianceStatus, "kpi_variance_status"), default=VarianceStatus.open
    )
    actual: Mapped[Decimal] = mapped_column(PlainNumeric)
    variance_rate: Mapped[Decimal] = mapped_column(PlainNumeric)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # The rectification item opened when no cause came in time: at most one per crossing.
    rectification_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("rectifications.id", ondelete="SET NULL"), unique=True
    )
