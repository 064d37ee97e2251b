"""rectification lifecycle: source (+ id), problem, measure, acceptance criteria, an own deadline
of any SLA target kind, status `in_progress`

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES_BEFORE = ("open", "done", "verified")
STATUSES_AFTER = ("open", "in_progress", "done", "verified")
SOURCES = ("retrospective", "report", "kpi_variance", "feedback", "risk", "free")


def _statuses(statuses: tuple[str, ...], length: int) -> None:
    name = op.f("ck_rectifications_rectification_status")
    op.drop_constraint(name, "rectifications", type_="check")
    op.alter_column("rectifications", "status", type_=sa.String(length), existing_nullable=False)
    allowed = ", ".join(f"'{s}'" for s in statuses)
    op.create_check_constraint(name, "rectifications", f"status IN ({allowed})")


def upgrade() -> None:
    _statuses(STATUSES_AFTER, 19)
    op.add_column(
        "rectifications",
        sa.Column(
            "source",
            sa.Enum(*SOURCES, name="rectification_source", native_enum=False, create_constraint=True, length=21),
            nullable=False,
            server_default="free",
        ),
    )
    op.alter_column("rectifications", "source", server_default=None)
    op.add_column("rectifications", sa.Column("source_id", sa.BigInteger(), nullable=True))
    op.add_column("rectifications", sa.Column("problem", sa.Text(), nullable=True))
    op.add_column("rectifications", sa.Column("measure", sa.Text(), nullable=True))
    op.add_column("rectifications", sa.Column("acceptance_criteria", sa.Text(), nullable=True))
    op.add_column("rectifications", sa.Column("deadline_kind", sa.String(length=16), nullable=True))
    op.add_column("rectifications", sa.Column("deadline_value", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_rectifications_source"), "rectifications", ["source"], unique=False)
    # KPI variances that already opened an item: mark those items' source.
    op.execute(
        "UPDATE rectifications r SET source = 'kpi_variance', source_id = v.id "
        "FROM kpi_variances v WHERE v.rectification_id = r.id"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rectifications_source"), table_name="rectifications")
    for column in ("deadline_value", "deadline_kind", "acceptance_criteria", "measure", "problem", "source_id"):
        op.drop_column("rectifications", column)
    op.drop_column("rectifications", "source")
    op.execute("UPDATE rectifications SET status = 'open' WHERE status = 'in_progress'")
    _statuses(STATUSES_BEFORE, 16)
