"""reports and digests pushed to chat: report schedules and the stored reports

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("daily_standup", "weekly", "monthly", "quarterly", "annual")
SCOPES = ("company", "department", "campaign")


def _enum(name: str, values: Sequence[str]) -> sa.Enum:
    return sa.Enum(
        *values, name=name, native_enum=False, create_constraint=True, length=max(len(v) for v in values) + 8
    )


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", _enum("report_kind", KINDS), nullable=False),
        sa.Column("scope", _enum("report_scope", SCOPES), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("send_at", sa.String(length=5), nullable=False),
        sa.Column("calendar_id", sa.BigInteger(), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("active_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_report_schedules_calendar_id_calendars"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_report_schedules_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_report_schedules_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_report_schedules_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_schedules")),
    )
    op.create_index(op.f("ix_report_schedules_department_id"), "report_schedules", ["department_id"], unique=False)
    op.create_table(
        "reports",
        sa.Column("schedule_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", _enum("report_kind", KINDS), nullable=False),
        sa.Column("scope", _enum("report_scope", SCOPES), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("produced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["report_schedules.id"],
            name=op.f("fk_reports_schedule_id_report_schedules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("schedule_id", "period_key", name=op.f("uq_reports_schedule_id_period_key")),
    )
    op.create_index(op.f("ix_reports_schedule_id"), "reports", ["schedule_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_schedule_id"), table_name="reports")
    op.drop_table("reports")
    op.drop_index(op.f("ix_report_schedules_department_id"), table_name="report_schedules")
    op.drop_table("report_schedules")
