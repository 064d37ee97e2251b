"""the risk register: risks, their reviews (the `risk_review` subject) and level history

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRADES = ("high", "medium", "low")


def _enum(name: str, values: Sequence[str]) -> sa.Enum:
    return sa.Enum(
        *values, name=name, native_enum=False, create_constraint=True, length=max(len(v) for v in values) + 8
    )


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "risks",
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "category",
            _enum("risk_category", ("market", "competition", "execution", "compliance", "budget", "other")),
            nullable=False,
        ),
        sa.Column("likelihood", _enum("risk_likelihood", GRADES), nullable=False),
        sa.Column("impact", _enum("risk_impact", GRADES), nullable=False),
        sa.Column("level", _enum("risk_level", GRADES), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("strategy", _enum("risk_strategy", ("avoid", "mitigate", "transfer", "accept")), nullable=False),
        sa.Column("response_plan", sa.Text(), nullable=True),
        sa.Column("review_every_days", sa.Integer(), nullable=False),
        sa.Column("status", _enum("risk_status", ("open", "mitigating", "closed")), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("goal_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_risks_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_risks_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_risks_owner_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risks")),
    )
    op.create_index(op.f("ix_risks_campaign_id"), "risks", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_risks_level"), "risks", ["level"], unique=False)
    op.create_index(op.f("ix_risks_owner_id"), "risks", ["owner_id"], unique=False)

    op.create_table(
        "risk_reviews",
        sa.Column("risk_id", sa.BigInteger(), nullable=False),
        sa.Column("status", _enum("risk_review_status", ("due", "done", "cancelled")), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _ts("reviewed_at"),
        sa.Column("reviewed_by", sa.BigInteger(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["risk_id"], ["risks.id"], name=op.f("fk_risk_reviews_risk_id_risks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_risk_reviews_reviewed_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_reviews")),
    )
    op.create_index(op.f("ix_risk_reviews_risk_id"), "risk_reviews", ["risk_id"], unique=False)

    op.create_table(
        "risk_level_changes",
        sa.Column("risk_id", sa.BigInteger(), nullable=False),
        sa.Column("from_level", _enum("risk_level_from", GRADES), nullable=True),
        sa.Column("to_level", _enum("risk_level_to", GRADES), nullable=False),
        _ts("at", nullable=False),
        sa.Column("by", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["risk_id"], ["risks.id"], name=op.f("fk_risk_level_changes_risk_id_risks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["by"], ["users.id"], name=op.f("fk_risk_level_changes_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_level_changes")),
    )
    op.create_index(op.f("ix_risk_level_changes_risk_id"), "risk_level_changes", ["risk_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_level_changes_risk_id"), table_name="risk_level_changes")
    op.drop_table("risk_level_changes")
    op.drop_index(op.f("ix_risk_reviews_risk_id"), table_name="risk_reviews")
    op.drop_table("risk_reviews")
    op.drop_index(op.f("ix_risks_owner_id"), table_name="risks")
    op.drop_index(op.f("ix_risks_level"), table_name="risks")
    op.drop_index(op.f("ix_risks_campaign_id"), table_name="risks")
    op.drop_table("risks")
