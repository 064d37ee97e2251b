"""The risk register's tables: a risk, its reviews (each one a timed `risk_review` subject) and
the history of its level."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum


class RiskCategory(enum.StrEnum):
    market = "market"
    competition = "competition"
    execution = "execution"
    compliance = "compliance"
    budget = "budget"
    other = "other"


class Grade(enum.StrEnum):
    """Likelihood, impact and the derived level share one scale."""

    high = "high"
    medium = "medium"
    low = "low"


class ResponseStrategy(enum.StrEnum):
    avoid = "avoid"
    mitigate = "mitigate"
    transfer = "transfer"
    accept = "accept"


class RiskStatus(enum.StrEnum):
    open = "open"  # identified, reviewed by its cadence
    mitigating = "mitigating"  # the response plan is being carried out; still reviewed
    closed = "closed"  # no longer a risk: no more reviews


class ReviewStatus(enum.StrEnum):
    due = "due"  # the next review; its timer runs
    done = "done"  # recorded
    cancelled = "cancelled"  # the risk was closed before it fell due


class Risk(IdMixin, TimestampMixin, Base):
    __tablename__ = "risks"
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[RiskCategory] = mapped_column(str_enum(RiskCategory, "risk_category"))
    likelihood: Mapped[Grade] = mapped_column(str_enum(Grade, "risk_likelihood"))
    impact: Mapped[Grade] = mapped_column(str_enum(Grade, "risk_impact"))
    level: Mapped[Grade] = mapped_column(str_enum(Grade, "risk_level"), index=True)
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    strategy: Mapped[ResponseStrategy] = mapped_column(str_enum(ResponseStrategy, "risk_strategy"))
    response_plan: Mapped[str | None] = mapped_column(Text)
    review_every_days: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[RiskStatus] = mapped_column(str_enum(RiskStatus, "risk_status"), default=RiskStatus.open)
    campaign_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    goal_id: Mapped[int | None] = mapped_column(BigInteger)  # no FK: goals are optional coupling
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))


class RiskReview(IdMixin, TimestampMixin, Base):
    __tablename__ = "risk_reviews"
    risk_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus, "risk_review_status"), default=ReviewStatus.due)
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))


class RiskLevelChange(IdMixin, Base):
    __tablename__ = "risk_level_changes"
    risk_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    from_level: Mapped[Grade | None] = mapped_column(str_enum(Grade, "risk_level_from"))
    to_level: Mapped[Grade] = mapped_column(str_enum(Grade, "risk_level_to"))
    at: Mapped[datetime]
    by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
