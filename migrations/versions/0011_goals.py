"""goals that cascade: goals, their reported actuals and adjustments, campaigns.goal_id, approval
kinds goal and goal_adjustment

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = ("campaign", "budget_change", "stage")
KINDS_AFTER = (*KINDS_BEFORE, "goal", "goal_adjustment")
APPROVAL_KIND_TABLES = ("approval_rules", "approvals")


def _kinds(kinds: tuple[str, ...]) -> None:
    """The approval_kind VARCHAR + CHECK enum on both tables, set to `kinds`."""
    length = max(len(k) for k in kinds) + 8
    check = "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"
    for table in APPROVAL_KIND_TABLES:
        op.drop_constraint(op.f(f"ck_{table}_approval_kind"), table, type_="check")
        op.alter_column(table, "kind", type_=sa.String(length=length), existing_nullable=False)
        op.create_check_constraint(op.f(f"ck_{table}_approval_kind"), table, check)


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("target", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "period_kind",
            sa.Enum(
                "year",
                "quarter",
                "month",
                name="goal_period_kind",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft", "pending", "approved", name="goal_status", native_enum=False, create_constraint=True, length=16
            ),
            nullable=False,
        ),
        sa.Column("approval_id", sa.BigInteger(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_goals_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_goals_department_id_departments"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_goals_owner_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["parent_id"], ["goals.id"], name=op.f("fk_goals_parent_id_goals"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    op.create_index(op.f("ix_goals_department_id"), "goals", ["department_id"], unique=False)
    op.create_index(op.f("ix_goals_owner_id"), "goals", ["owner_id"], unique=False)
    op.create_index(op.f("ix_goals_parent_id"), "goals", ["parent_id"], unique=False)
    op.create_index(op.f("ix_goals_period"), "goals", ["period"], unique=False)
    op.create_table(
        "goal_actuals",
        sa.Column("goal_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reported_by", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_goal_actuals_goal_id_goals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"], ["users.id"], name=op.f("fk_goal_actuals_reported_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_actuals")),
    )
    op.create_index(op.f("ix_goal_actuals_goal_id"), "goal_actuals", ["goal_id"], unique=False)
    op.create_table(
        "goal_adjustments",
        sa.Column("goal_id", sa.BigInteger(), nullable=False),
        sa.Column("approval_id", sa.BigInteger(), nullable=True),
        sa.Column("target_from", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("target_to", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "cancelled",
                name="goal_adjustment_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["approvals.id"],
            name=op.f("fk_goal_adjustments_approval_id_approvals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_goal_adjustments_goal_id_goals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_goal_adjustments_requested_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_adjustments")),
    )
    op.create_index(op.f("ix_goal_adjustments_goal_id"), "goal_adjustments", ["goal_id"], unique=False)
    op.add_column("campaigns", sa.Column("goal_id", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_campaigns_goal_id"), "campaigns", ["goal_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_campaigns_goal_id_goals"), "campaigns", "goals", ["goal_id"], ["id"], ondelete="SET NULL"
    )
    _kinds(KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM approvals WHERE kind IN ('goal', 'goal_adjustment')")
    op.execute("DELETE FROM approval_rules WHERE kind IN ('goal', 'goal_adjustment')")
    _kinds(KINDS_BEFORE)
    op.drop_constraint(op.f("fk_campaigns_goal_id_goals"), "campaigns", type_="foreignkey")
    op.drop_index(op.f("ix_campaigns_goal_id"), table_name="campaigns")
    op.drop_column("campaigns", "goal_id")
    op.drop_index(op.f("ix_goal_adjustments_goal_id"), table_name="goal_adjustments")
    op.drop_table("goal_adjustments")
    op.drop_index(op.f("ix_goal_actuals_goal_id"), table_name="goal_actuals")
    op.drop_table("goal_actuals")
    op.drop_index(op.f("ix_goals_period"), table_name="goals")
    op.drop_index(op.f("ix_goals_parent_id"), table_name="goals")
    op.drop_index(op.f("ix_goals_owner_id"), table_name="goals")
    op.drop_index(op.f("ix_goals_department_id"), table_name="goals")
    op.drop_table("goals")
