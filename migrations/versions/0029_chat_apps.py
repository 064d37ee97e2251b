"""chat apps (Feishu app / DingTalk robot credentials), inbound chat events (replay dedupe), and the
feishu_app channel kind

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-03 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029"
down_revision: str | None = "0028"  # re-chained after merging s20-core (0027 also follows 0026)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = ("feishu", "dingtalk", "wecom", "webhook")
KINDS_AFTER = (*KINDS_BEFORE, "feishu_app")


def _channel_kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_channels_channel_kind"), "channels", type_="check")
    op.alter_column("channels", "kind", type_=sa.String(length=max(len(k) for k in kinds) + 8), existing_nullable=False)
    op.create_check_constraint(
        op.f("ck_channels_channel_kind"), "channels", "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"
    )


def upgrade() -> None:
    op.create_table(
        "chat_apps",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "vendor",
            sa.Enum("feishu", "dingtalk", name="chat_vendor", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("app_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("verification_token_encrypted", sa.Text(), nullable=True),
        sa.Column("encrypt_key_encrypted", sa.Text(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["archived_by"], ["users.id"], name=op.f("fk_chat_apps_archived_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_chat_apps_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_apps")),
        sa.UniqueConstraint("name", name=op.f("uq_chat_apps_name")),
    )
    op.create_index(op.f("ix_chat_apps_department_id"), "chat_apps", ["department_id"], unique=False)
    op.create_table(
        "chat_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "vendor",
            sa.Enum(
                "feishu", "dingtalk", name="chat_event_vendor", native_enum=False, create_constraint=True, length=16
            ),
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("chat_app_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_app_id"], ["chat_apps.id"], name=op.f("fk_chat_events_chat_app_id_chat_apps"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_events")),
        sa.UniqueConstraint("vendor", "event_id", name=op.f("uq_chat_events_vendor_event_id")),
    )
    op.create_index("ix_chat_events_received_at", "chat_events", ["received_at"], unique=False)
    _channel_kinds(KINDS_AFTER)
    op.add_column("channels", sa.Column("chat_app_id", sa.BigInteger(), nullable=True))
    op.add_column("channels", sa.Column("chat_id", sa.String(length=128), nullable=True))
    op.create_index(op.f("ix_channels_chat_app_id"), "channels", ["chat_app_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_channels_chat_app_id_chat_apps"), "channels", "chat_apps", ["chat_app_id"], ["id"], ondelete="RESTRICT"
    )


def downgrade() -> None:
    op.execute("DELETE FROM channels WHERE kind = 'feishu_app'")
    op.drop_constraint(op.f("fk_channels_chat_app_id_chat_apps"), "channels", type_="foreignkey")
    op.drop_index(op.f("ix_channels_chat_app_id"), table_name="channels")
    op.drop_column("channels", "chat_id")
    op.drop_column("channels", "chat_app_id")
    _channel_kinds(KINDS_BEFORE)
    op.drop_index("ix_chat_events_received_at", table_name="chat_events")
    op.drop_table("chat_events")
    op.drop_index(op.f("ix_chat_apps_department_id"), table_name="chat_apps")
    op.drop_table("chat_apps")
