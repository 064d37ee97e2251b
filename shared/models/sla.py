"""Working calendars, SLA and escalation policies, timers and the escalations they fired."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class TimerState(enum.StrEnum):
    running = "running"
    paused = "paused"
    met = "met"
    cancelled = "cancelled"


class EscalationKind(enum.StrEnum):
    warning = "warning"  # offset < 0
    breach = "breach"  # offset == 0
    escalation = "escalation"  # offset > 0
    resolved = "resolved"  # the timer was met after a level had fired


class Calendar(IdMixin, TimestampMixin, Base):
    __tablename__ = "calendars"
    __table_args__ = (
        Index("uq_calendars_one_default", "is_default", unique=True, postgresql_where=text("is_default")),
    )

    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(JSONB)
    workday_hours: Mapped[list[Any]] = mapped_column(JSONB)
    overrides: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The official statutory schedule of the years a team loaded: YYYY-MM-DD → {working, name}.
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def loaded_years(self) -> list[int]:
        """The years whose announced statutory schedule was loaded (their data is official)."""
        return sorted({int(day[:4]) for day in self.schedule or {}})


class EscalationPolicy(IdMixin, TimestampMixin, Base):
    __tablename__ = "escalation_policies"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(String(2000))
    # Ordered levels: {offset, calendar?, recipients, channels, repeat_every?, max_repeats?}
    levels: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


class SlaPolicy(IdMixin, TimestampMixin, Base):
    __tablename__ = "sla_policies"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(String(2000))
    subject_type: Mapped[str] = mapped_column(String(32), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # {priorities: [...], department_ids: [...], campaign_ids: [...], tags: [...]}; empty matches all
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_value: Mapped[str] = mapped_column(String(32))
    calendar_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("calendars.id", ondelete="RESTRICT"))
    start_statuses: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    pause_statuses: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    stop_statuses: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    cancel_statuses: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    escalation_policy_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("escalation_policies.id", ondelete="RESTRICT")
    )


class SlaTimer(IdMixin, TimestampMixin, Base):
    """One policy's clock on one subject. Levels are snapshotted at start: editing a policy
    never rewrites a running or finished timer."""

    __tablename__ = "sla_timers"
    __table_args__ = (
        # The sweep's only access path: due, running timers in fire order.
        Index("ix_sla_timers_next_fire", "next_fire_at", postgresql_where=text("state = 'running'")),
        Index("ix_sla_timers_subject", "subject_type", "subject_id"),
        # The timers board (`/sla/timers?department_id=…&state=…`), a page in id order straight from
        # the index; with only a department it is a prefix scan.
        Index("ix_sla_timers_board", "department_id", "state", "id"),
        # The same board by state or by subject type alone: below director each row read is checked
        # against its item's visibility, so the page must not walk the other states' or types' rows.
        Index("ix_sla_timers_state", "state", "id"),
        Index("ix_sla_timers_type", "subject_type", "id"),
        # Process analytics (SLA compliance): timers due in a period, answered from the index alone.
        Index(
            "ix_sla_timers_due_at",
            "due_at",
            postgresql_include=["subject_type", "policy_id", "state", "met_at", "department_id"],
        ),
        Index(
            "uq_sla_timers_active",
            "subject_type",
            "subject_id",
            "policy_id",
            unique=True,
            postgresql_where=text("state IN ('running', 'paused')"),
        ),
    )

    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    policy_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("sla_policies.id", ondelete="SET NULL"))
    calendar_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("calendars.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(BigInteger)  # for boards (ix_sla_timers_board)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_value: Mapped[str] = mapped_column(String(32))
    # The subject's own due date this timer was built from (None: the policy's target decides).
    subject_due_at: Mapped[datetime | None]
    target_s: Mapped[float] = mapped_column(Float)  # target length in its own kind (working s for working kinds)
    levels: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    state: Mapped[TimerState] = mapped_column(str_enum(TimerState, "timer_state"), default=TimerState.running)
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    paused_total_s: Mapped[float] = mapped_column(Float, default=0.0)
    remaining_days: Mapped[int | None] = mapped_column(Integer)  # set while paused
    remaining_s: Mapped[float | None] = mapped_column(Float)  # set while paused
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    next_fire_at: Mapped[datetime | None]
    fired: Mapped[list[str]] = mapped_column(JSONB, default=list)  # "level:repeat"
    # Levels someone acknowledged (认领, `SlaAcknowledgement`): their further repeats are not sent.
    # On the row the sweep claims anyway, so skipping them costs the sweep no extra query.
    acked_levels: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list, server_default="{}")


class Escalation(IdMixin, Base):
    """A level that fired. The unique (timer, level, repeat) key makes firing idempotent."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("timer_id", "level", "repeat"),)

    timer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sla_timers.id", ondelete="CASCADE"), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[int] = mapped_column(Integer)  # -1: the resolved notice
    repeat: Mapped[int] = mapped_column(Integer)
    kind: Mapped[EscalationKind] = mapped_column(str_enum(EscalationKind, "escalation_kind"))
    scheduled_at: Mapped[datetime]
    fired_at: Mapped[datetime]
    late_by_s: Mapped[float] = mapped_column(Float, default=0.0)
    # Resolved at fire time: [{kind, user_id, name, via}], plus fallbacks taken and why.
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    notes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)  # superseded while the worker was down
    notification_count: Mapped[int] = mapped_column(Integer, default=0)


class SlaAcknowledgement(IdMixin, Base):
    """Someone took a fired level of a timer (认领 on a chat card or command): who, when, from where.
    One per (timer, level); the timer's `acked_levels` is what the sweep reads."""

    __tablename__ = "sla_acknowledgements"
    __table_args__ = (UniqueConstraint("timer_id", "level"),)

    timer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sla_timers.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # feishu | dingtalk | wecom | api
    at: Mapped[datetime]
