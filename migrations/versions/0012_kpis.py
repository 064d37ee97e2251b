"""campaign KPIs: the metric catalogue, KPIs, their readings and variance crossings (issue 11)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "metrics",
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("higher_is_better", sa.Boolean(), nullable=False),
        sa.Column(
            "aggregation",
            sa.Enum(
                "latest", "sum", "avg", name="metric_aggregation", native_enum=False, create_constraint=True, length=14
            ),
            nullable=False,
        ),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
        sa.UniqueConstraint("key", name=op.f("uq_metrics_key")),
    )
    op.create_table(
        "kpis",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("metric_key", sa.String(length=48), nullable=False),
        sa.Column("target", sa.Numeric(), nullable=False),
        sa.Column("warning_threshold", sa.Numeric(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("improvement", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_kpis_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["metric_key"],
            ["metrics.key"],
            name=op.f("fk_kpis_metric_key_metrics"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_kpis_owner_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpis")),
        sa.UniqueConstraint("campaign_id", "metric_key", name=op.f("uq_kpis_campaign_id_metric_key")),
    )
    op.create_index(op.f("ix_kpis_campaign_id"), "kpis", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_kpis_metric_key"), "kpis", ["metric_key"], unique=False)
    op.create_index(op.f("ix_kpis_owner_id"), "kpis", ["owner_id"], unique=False)
    op.create_table(
        "kpi_readings",
        sa.Column("kpi_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_readings_kpi_id_kpis"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_kpi_readings_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_readings")),
    )
    op.create_index(op.f("ix_kpi_readings_kpi_id"), "kpi_readings", ["kpi_id"], unique=False)
    op.create_table(
        "kpi_variances",
        sa.Column("kpi_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "explained",
                "rectifying",
                "recovered",
                "cancelled",
                name="kpi_variance_status",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("actual", sa.Numeric(), nullable=False),
        sa.Column("variance_rate", sa.Numeric(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rectification_id", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_variances_kpi_id_kpis"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_kpi_variances_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rectification_id"],
            ["rectifications.id"],
            name=op.f("fk_kpi_variances_rectification_id_rectifications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_variances")),
        sa.UniqueConstraint("rectification_id", name=op.f("uq_kpi_variances_rectification_id")),
    )
    op.create_index(op.f("ix_kpi_variances_kpi_id"), "kpi_variances", ["kpi_id"], unique=False)
    op.create_index(op.f("ix_kpi_variances_campaign_id"), "kpi_variances", ["campaign_id"], unique=False)
    op.create_index(
        "uq_kpi_variances_one_current",
        "kpi_variances",
        ["kpi_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('open', 'explained', 'rectifying')"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_kpi_variances_one_current",
        table_name="kpi_variances",
        postgresql_where=sa.text("status IN ('open', 'explained', 'rectifying')"),
    )
    op.drop_index(op.f("ix_kpi_variances_campaign_id"), table_name="kpi_variances")
    op.drop_index(op.f("ix_kpi_variances_kpi_id"), table_name="kpi_variances")
    op.drop_table("kpi_variances")
    op.drop_index(op.f("ix_kpi_readings_kpi_id"), table_name="kpi_readings")
    op.drop_table("kpi_readings")
    op.drop_index(op.f("ix_kpis_owner_id"), table_name="kpis")
    op.drop_index(op.f("ix_kpis_metric_key"), table_name="kpis")
    op.drop_index(op.f("ix_kpis_campaign_id"), table_name="kpis")
    op.drop_table("kpis")
    op.drop_table("metrics")
