"""The report domain's tables: what is sent when (a schedule) and what was sent (a report, stored
as its JSON snapshot, at most one per schedule and period)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Boolean, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import ArchivedMixin, Base, IdMixin, TimestampMixin, str_enum


class ReportKind(enum.StrEnum):
    daily_standup = "daily_standup"  # 站会: every working day
    weekly = "weekly"  # 周报: the week's last working day
    monthly = "monthly"  # 月报
    quarterly = "quarterly"  # 季报
    annual = "annual"  # 年报


class ReportScope(enum.StrEnum):
    company = "company"
    department = "department"
    campaign = "campaign"


class ReportSchedule(IdMixin, TimestampMixin, ArchivedMixin, Base):
    __tablename__ = "report_schedules"
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ReportKind] = mapped_column(str_enum(ReportKind, "report_kind"))
    scope: Mapped[ReportScope] = mapped_column(str_enum(ReportScope, "report_scope"))
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"))
    channel_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    send_at: Mapped[str] = mapped_column(String(5))  # local "HH:MM" on the calendar's timezone
    calendar_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("calendars.id", ondelete="SET NULL"))
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Periods whose send instant falls before this are never produced: a new schedule does not
    # back-fill last week's report (set from the injected clock on create).
    active_from: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))


class Report(IdMixin, TimestampMixin, Base):
    __tablename__ = "reports"
    # Exactly once per period: the worker and `POST /report-schedules/{id}/run` both insert with
    # ON CONFLICT DO NOTHING on this key.
    __table_args__ = (UniqueConstraint("schedule_id", "period_key"),)
    schedule_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("report_schedules.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[ReportKind] = mapped_column(str_enum(ReportKind, "report_kind"))
    scope: Mapped[ReportScope] = mapped_column(str_enum(ReportScope, "report_scope"))
    department_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    period_key: Mapped[str] = mapped_column(String(16))  # 2026-10-10, 2026-W41, 2026-10, 2026-Q4, 2026
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    produced_at: Mapped[datetime]
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
