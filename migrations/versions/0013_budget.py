"""budget lines, expenses, the 5 % rule's alert state; approval kind `expense`

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = ("campaign", "budget_change", "stage", "goal", "goal_adjustment")  # after 0011 (goals)
KINDS_AFTER = (*KINDS_BEFORE, "expense")


def _approval_kinds(kinds: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{k}'" for k in kinds)
    for table in ("approval_rules", "approvals"):
        name = op.f(f"ck_{table}_approval_kind")
        op.drop_constraint(name, table, type_="check")
        op.create_check_constraint(name, table, f"kind IN ({allowed})")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    _approval_kinds(KINDS_AFTER)
    op.create_table(
        "budget_lines",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "media",
                "design",
                "events",
                "gifts",
                "content",
                "tools",
                "staff",
                "other",
                name="budget_category",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("planned", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_budget_lines_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_lines")),
    )
    op.create_index(op.f("ix_budget_lines_campaign_id"), "budget_lines", ["campaign_id"], unique=False)
    op.create_table(
        "expenses",
        sa.Column("line_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("attachment_url", sa.String(length=2000), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "approved",
                "rejected",
                "paid",
                "cancelled",
                name="expense_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("approval_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_expenses_approval_id_approvals"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_expenses_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["budget_lines.id"], name=op.f("fk_expenses_line_id_budget_lines"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["paid_by"], ["users.id"], name=op.f("fk_expenses_paid_by_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["users.id"], name=op.f("fk_expenses_requester_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expenses")),
    )
    for column in ("approval_id", "campaign_id", "line_id", "requester_id", "status"):
        op.create_index(op.f(f"ix_expenses_{column}"), "expenses", [column], unique=False)
    op.create_table(
        "budget_alert_states",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("line_id", sa.BigInteger(), nullable=True),
        sa.Column("deviating", sa.Boolean(), nullable=False),
        sa.Column("crossings", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_budget_alert_states_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["budget_lines.id"],
            name=op.f("fk_budget_alert_states_line_id_budget_lines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alert_states")),
        sa.UniqueConstraint("scope", name=op.f("uq_budget_alert_states_scope")),
    )
    op.create_index(op.f("ix_budget_alert_states_campaign_id"), "budget_alert_states", ["campaign_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_budget_alert_states_campaign_id"), table_name="budget_alert_states")
    op.drop_table("budget_alert_states")
    for column in ("approval_id", "campaign_id", "line_id", "requester_id", "status"):
        op.drop_index(op.f(f"ix_expenses_{column}"), table_name="expenses")
    op.drop_table("expenses")
    op.drop_index(op.f("ix_budget_lines_campaign_id"), table_name="budget_lines")
    op.drop_table("budget_lines")
    op.execute("DELETE FROM approvals WHERE kind = 'expense'")
    op.execute("DELETE FROM approval_rules WHERE kind = 'expense'")
    _approval_kinds(KINDS_BEFORE)
