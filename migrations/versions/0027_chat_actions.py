"""chat actions: acknowledgements of fired SLA levels, the audit log's source

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("source", sa.String(length=16), nullable=True))
    op.add_column(
        "sla_timers",
        sa.Column("acked_levels", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False),
    )
    op.create_table(
        "sla_acknowledgements",
        sa.Column("timer_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["timer_id"],
            ["sla_timers.id"],
            name=op.f("fk_sla_acknowledgements_timer_id_sla_timers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sla_acknowledgements_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_acknowledgements")),
        sa.UniqueConstraint("timer_id", "level", name=op.f("uq_sla_acknowledgements_timer_id_level")),
    )
    op.create_index(op.f("ix_sla_acknowledgements_user_id"), "sla_acknowledgements", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sla_acknowledgements_user_id"), table_name="sla_acknowledgements")
    op.drop_table("sla_acknowledgements")
    op.drop_column("sla_timers", "acked_levels")
    op.drop_column("audit_log", "source")
