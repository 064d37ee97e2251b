"""big promotions owe an ROI estimate 15 days before they start (大促 ROI 测算报告)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("is_big_promotion", sa.Boolean(), server_default="false", nullable=False))
    op.create_table(
        "roi_estimates",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "submitted",
                "cancelled",
                name="roi_estimate_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at_once", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("document_url", sa.String(length=2000), nullable=True),
        sa.Column("expected_revenue", sa.Numeric(14, 2), nullable=True),
        sa.Column("expected_cost", sa.Numeric(14, 2), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_roi_estimates_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_roi_estimates_submitted_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roi_estimates")),
    )
    op.create_index(op.f("ix_roi_estimates_campaign_id"), "roi_estimates", ["campaign_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_roi_estimates_campaign_id"), table_name="roi_estimates")
    op.drop_table("roi_estimates")
    op.drop_column("campaigns", "is_big_promotion")
