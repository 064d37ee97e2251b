"""an index on tasks.reporter_id: a person changing department no longer rescans every task

Migration 0031's trigger on `users` copies a person's new department onto the standalone tasks
they reported (`UPDATE tasks … WHERE reporter_id = NEW.id AND campaign_id IS NULL …`), and
deleting a person sets `reporter_id` to NULL through the foreign key (`WHERE reporter_id = $1`,
every task). Without an index both walked the whole table. The index is on every row, not only
`WHERE campaign_id IS NULL`: the foreign key's action and a member's "tasks I reported"
(visibility) read campaign tasks too, and the trigger's extra condition is a cheap filter.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_reporter", "tasks", ["reporter_id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_reporter", table_name="tasks")
