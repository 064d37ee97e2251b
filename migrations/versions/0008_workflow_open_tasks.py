"""workflow templates choose what their last gate does with open tasks (wait or cancel)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "workflow_templates",
        sa.Column(
            "open_tasks_at_completion",
            sa.Enum(
                "wait", "cancel", name="open_tasks_at_completion", native_enum=False, create_constraint=True, length=14
            ),
            server_default="wait",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("workflow_templates", "open_tasks_at_completion")
