"""deadline extensions: approval kind extension (申请延期)

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-03 16:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = ("campaign", "budget_change", "stage", "goal", "goal_adjustment", "expense")  # after 0013
KINDS_AFTER = (*KINDS_BEFORE, "extension")


def _approval_kinds(kinds: tuple[str, ...]) -> None:
    # The column's length (the longest kind + 8) already fits "extension".
    allowed = ", ".join(f"'{k}'" for k in kinds)
    for table in ("approval_rules", "approvals"):
        name = op.f(f"ck_{table}_approval_kind")
        op.drop_constraint(name, table, type_="check")
        op.create_check_constraint(name, table, f"kind IN ({allowed})")


def upgrade() -> None:
    _approval_kinds(KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM approvals WHERE kind = 'extension'")
    op.execute("DELETE FROM approval_rules WHERE kind = 'extension'")
    _approval_kinds(KINDS_BEFORE)
