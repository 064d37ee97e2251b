"""board indexes: every board filter's page read from an index (bench/api.py prints the plans)

- `ix_sla_timers_board` (department_id, state, id) replaces `ix_sla_timers_department_id`: the
  timers board by department and state was a primary-key walk filtering ~200 000 rows per page;
- `ix_tasks_assignee` (assignee_id, id) replaces `ix_tasks_assignee_id`: "my tasks" in id order;
- `ix_review_responses_status` (status, review_id): the review board's `overdue` read every
  response to find the pending ones;
- `ix_approval_assignments_status` (status, id): the approval board's `overdue` and `approver_id`
  read every assignment to find the pending ones.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_sla_timers_board", "sla_timers", ["department_id", "state", "id"])
    op.drop_index("ix_sla_timers_department_id", table_name="sla_timers")
    op.create_index("ix_tasks_assignee", "tasks", ["assignee_id", "id"])
    op.drop_index("ix_tasks_assignee_id", table_name="tasks")
    op.create_index("ix_review_responses_status", "review_responses", ["status", "review_id"])
    op.create_index("ix_approval_assignments_status", "approval_assignments", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_approval_assignments_status", table_name="approval_assignments")
    op.drop_index("ix_review_responses_status", table_name="review_responses")
    op.create_index("ix_tasks_assignee_id", "tasks", ["assignee_id"])
    op.drop_index("ix_tasks_assignee", table_name="tasks")
    op.create_index("ix_sla_timers_department_id", "sla_timers", ["department_id"])
    op.drop_index("ix_sla_timers_board", table_name="sla_timers")
