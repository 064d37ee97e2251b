"""the timers board below director: a page in id order by state or by subject type from an index

Below director, `/sla/timers` checks each row it reads against the visibility of the row's item
(one primary-key probe per row, `shared.access.subjects.readable`), so a page costs the rows walked
to fill it. With a department the board walks `ix_sla_timers_board`; with only a state or only a
subject type it walked the primary key past every timer of the other states or types (at
1 000 000 tasks, ~190 000 finished timers before the first running one). These two indexes give
those filters their own walk in id order.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 19:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_sla_timers_state", "sla_timers", ["state", "id"])
    op.create_index("ix_sla_timers_type", "sla_timers", ["subject_type", "id"])


def downgrade() -> None:
    op.drop_index("ix_sla_timers_type", table_name="sla_timers")
    op.drop_index("ix_sla_timers_state", table_name="sla_timers")
