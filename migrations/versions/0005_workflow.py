"""workflow templates and campaign stages

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workflow_templates",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("stages", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_templates")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_workflow_templates_key_version")),
    )
    op.create_index(
        "uq_workflow_templates_current",
        "workflow_templates",
        ["key"],
        unique=True,
        postgresql_where=sa.text("is_current"),
    )
    op.add_column("campaigns", sa.Column("template_id", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_campaigns_template_id"), "campaigns", ["template_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_campaigns_template_id_workflow_templates"),
        "campaigns",
        "workflow_templates",
        ["template_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_table(
        "campaign_stages",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "done",
                "cancelled",
                name="stage_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("checklist", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_stages_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_campaign_stages_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_stages")),
        sa.UniqueConstraint("campaign_id", "key", name=op.f("uq_campaign_stages_campaign_id_key")),
    )
    op.create_index(op.f("ix_campaign_stages_campaign_id"), "campaign_stages", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_campaign_stages_owner_id"), "campaign_stages", ["owner_id"], unique=False)
    op.create_index(op.f("ix_campaign_stages_status"), "campaign_stages", ["status"], unique=False)
    op.create_table(
        "stage_deliverables",
        sa.Column("stage_id", sa.BigInteger(), nullable=False),
        sa.Column("deliverable_key", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("added_by", sa.BigInteger(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["campaign_stages.id"],
            name=op.f("fk_stage_deliverables_stage_id_campaign_stages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["users.id"], name=op.f("fk_stage_deliverables_added_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_deliverables")),
    )
    op.create_index(op.f("ix_stage_deliverables_stage_id"), "stage_deliverables", ["stage_id"], unique=False)
    op.add_column("tasks", sa.Column("stage_id", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_tasks_stage_id"), "tasks", ["stage_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_tasks_stage_id_campaign_stages"), "tasks", "campaign_stages", ["stage_id"], ["id"], ondelete="SET NULL"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_tasks_stage_id_campaign_stages"), "tasks", type_="foreignkey")
    op.drop_index(op.f("ix_tasks_stage_id"), table_name="tasks")
    op.drop_column("tasks", "stage_id")
    op.drop_table("stage_deliverables")
    op.drop_table("campaign_stages")
    op.drop_constraint(op.f("fk_campaigns_template_id_workflow_templates"), "campaigns", type_="foreignkey")
    op.drop_index(op.f("ix_campaigns_template_id"), table_name="campaigns")
    op.drop_column("campaigns", "template_id")
    op.drop_index(
        "uq_workflow_templates_current", table_name="workflow_templates", postgresql_where=sa.text("is_current")
    )
    op.drop_table("workflow_templates")
