"""notifier delivery: digests, replays, per-channel queue index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("digest_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column("notifications", sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("budget_from", sa.Integer(), server_default="0", nullable=False))
    op.create_index(op.f("ix_notifications_digest_id"), "notifications", ["digest_id"], unique=False)
    op.create_index(
        "ix_notifications_channel_pending",
        "notifications",
        ["channel_id", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.add_column("delivery_attempts", sa.Column("digest_id", postgresql.UUID(as_uuid=True), nullable=True))


def downgrade() -> None:
    op.drop_column("delivery_attempts", "digest_id")
    op.drop_index(
        "ix_notifications_channel_pending", table_name="notifications", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_index(op.f("ix_notifications_digest_id"), table_name="notifications")
    op.drop_column("notifications", "budget_from")
    op.drop_column("notifications", "replayed_at")
    op.drop_column("notifications", "digest_id")
