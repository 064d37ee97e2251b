"""metrics: a partial index on dead letters per channel, so `/metrics` counts them without
scanning every delivered notification

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_dead", "notifications", ["channel_id"], postgresql_where=sa.text("status = 'dead'")
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_dead", table_name="notifications")
