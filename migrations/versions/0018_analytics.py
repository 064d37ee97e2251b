"""process analytics: stored working-day cycle times and the indexes the analytics queries read

`campaign_stages.cycle_wd` / `limit_wd` and `campaigns.completed_at` / `cycle_wd` are written by
the workflow when a stage is entered or left (`shared.workflow.cycle`). Backfill: `completed_at` of
completed campaigns is their last stage's exit (plain SQL); the working-day columns need the
calendars' holiday arithmetic and stay NULL for history before this migration (the analytics
count only rows that have them).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaign_stages", sa.Column("cycle_wd", sa.Numeric(10, 3), nullable=True))
    op.add_column("campaign_stages", sa.Column("limit_wd", sa.Numeric(10, 3), nullable=True))
    op.add_column("campaigns", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("campaigns", sa.Column("cycle_wd", sa.Numeric(10, 3), nullable=True))
    op.execute(
        "UPDATE campaigns SET completed_at = s.last_exit FROM ("
        " SELECT campaign_id, max(exited_at) AS last_exit FROM campaign_stages GROUP BY campaign_id"
        ") AS s WHERE s.campaign_id = campaigns.id AND campaigns.status = 'completed'"
    )
    op.create_index(
        "ix_campaign_stages_exited_at",
        "campaign_stages",
        ["exited_at"],
        postgresql_include=["campaign_id", "key", "cycle_wd", "limit_wd"],
        postgresql_where=sa.text("exited_at IS NOT NULL"),
    )
    op.create_index(
        "ix_campaigns_completed_at",
        "campaigns",
        ["completed_at"],
        postgresql_where=sa.text("completed_at IS NOT NULL"),
    )
    op.create_index(
        "ix_tasks_due_at",
        "tasks",
        ["due_at"],
        postgresql_include=["status", "completed_at", "assignee_id", "campaign_id"],
        postgresql_where=sa.text("due_at IS NOT NULL"),
    )
    op.create_index(
        "ix_sla_timers_due_at",
        "sla_timers",
        ["due_at"],
        postgresql_include=["subject_type", "policy_id", "state", "met_at", "department_id"],
    )
    op.create_index("ix_review_responses_requested_at", "review_responses", ["requested_at"])
    op.create_index("ix_collaboration_requests_created_at", "collaboration_requests", ["created_at"])
    op.create_index("ix_collaboration_occurrences_opened_at", "collaboration_occurrences", ["opened_at"])
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_received_at", table_name="feedback")
    op.drop_index("ix_collaboration_occurrences_opened_at", table_name="collaboration_occurrences")
    op.drop_index("ix_collaboration_requests_created_at", table_name="collaboration_requests")
    op.drop_index("ix_review_responses_requested_at", table_name="review_responses")
    op.drop_index("ix_sla_timers_due_at", table_name="sla_timers")
    op.drop_index("ix_tasks_due_at", table_name="tasks")
    op.drop_index("ix_campaigns_completed_at", table_name="campaigns")
    op.drop_index("ix_campaign_stages_exited_at", table_name="campaign_stages")
    op.drop_column("campaigns", "cycle_wd")
    op.drop_column("campaigns", "completed_at")
    op.drop_column("campaign_stages", "limit_wd")
    op.drop_column("campaign_stages", "cycle_wd")
