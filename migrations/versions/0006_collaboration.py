"""reviews, approvals, collaboration requests, customer feedback, comments

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 01:42:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "approval_rules",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "campaign",
                "budget_change",
                "stage",
                name="approval_kind",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("conditions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_approval_rules_name")),
    )
    op.create_index(op.f("ix_approval_rules_kind"), "approval_rules", ["kind"], unique=False)
    op.create_table(
        "comments",
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_comments_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index("ix_comments_subject", "comments", ["subject_type", "subject_id", "id"], unique=False)
    op.create_table(
        "collaboration_requests",
        sa.Column("matter", sa.String(length=300), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("initiating_department_id", sa.BigInteger(), nullable=True),
        sa.Column("collaborating_department_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("calendar_id", sa.BigInteger(), nullable=True),
        sa.Column("deadline_kind", sa.String(length=16), nullable=False),
        sa.Column("deadline_value", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                "cancelled",
                name="collaboration_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("next_occurrence_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_collaboration_requests_calendar_id_calendars"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_collaboration_requests_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["initiating_department_id"],
            ["departments.id"],
            name=op.f("fk_collaboration_requests_initiating_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_collaboration_requests_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_collaboration_requests_requester_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collaboration_requests")),
    )
    op.create_index(
        op.f("ix_collaboration_requests_campaign_id"), "collaboration_requests", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_collaboration_requests_initiating_department_id"),
        "collaboration_requests",
        ["initiating_department_id"],
        unique=False,
    )
    op.create_index(
        "ix_collaboration_requests_next_occurrence",
        "collaboration_requests",
        ["next_occurrence_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open' AND next_occurrence_at IS NOT NULL"),
    )
    op.create_index(op.f("ix_collaboration_requests_owner_id"), "collaboration_requests", ["owner_id"], unique=False)
    op.create_index(op.f("ix_collaboration_requests_status"), "collaboration_requests", ["status"], unique=False)
    op.create_table(
        "feedback",
        sa.Column(
            "kind",
            sa.Enum(
                "feedback", "complaint", name="feedback_kind", native_enum=False, create_constraint=True, length=17
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Enum(
                "low",
                "normal",
                "high",
                "urgent",
                name="feedback_severity",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "responded",
                "resolved",
                "closed",
                name="feedback_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=True),
        sa.Column("customer_contact", sa.String(length=200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_by", sa.BigInteger(), nullable=True),
        sa.Column("first_response", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_feedback_campaign_id_campaigns"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_feedback_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["first_response_by"], ["users.id"], name=op.f("fk_feedback_first_response_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_feedback_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("external_id", name=op.f("uq_feedback_external_id")),
    )
    op.create_index(op.f("ix_feedback_campaign_id"), "feedback", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_feedback_department_id"), "feedback", ["department_id"], unique=False)
    op.create_index(op.f("ix_feedback_kind"), "feedback", ["kind"], unique=False)
    op.create_index(op.f("ix_feedback_owner_id"), "feedback", ["owner_id"], unique=False)
    op.create_index(op.f("ix_feedback_status"), "feedback", ["status"], unique=False)
    op.create_table(
        "approvals",
        sa.Column(
            "kind",
            sa.Enum(
                "campaign",
                "budget_change",
                "stage",
                name="approval_kind",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("stage_id", sa.BigInteger(), nullable=True),
        sa.Column("rule_id", sa.BigInteger(), nullable=True),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "cancelled",
                name="approval_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_approvals_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_approvals_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["users.id"], name=op.f("fk_approvals_requester_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["approval_rules.id"], name=op.f("fk_approvals_rule_id_approval_rules"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"], ["campaign_stages.id"], name=op.f("fk_approvals_stage_id_campaign_stages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index(op.f("ix_approvals_campaign_id"), "approvals", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_approvals_department_id"), "approvals", ["department_id"], unique=False)
    op.create_index(op.f("ix_approvals_kind"), "approvals", ["kind"], unique=False)
    op.create_index(op.f("ix_approvals_requester_id"), "approvals", ["requester_id"], unique=False)
    op.create_index(op.f("ix_approvals_stage_id"), "approvals", ["stage_id"], unique=False)
    op.create_index(op.f("ix_approvals_status"), "approvals", ["status"], unique=False)
    op.create_table(
        "collaboration_occurrences",
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("occurrence_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "done",
                "cancelled",
                name="collaboration_occurrence_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["done_by"], ["users.id"], name=op.f("fk_collaboration_occurrences_done_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["collaboration_requests.id"],
            name=op.f("fk_collaboration_occurrences_request_id_collaboration_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collaboration_occurrences")),
        sa.UniqueConstraint(
            "request_id", "occurrence_date", name=op.f("uq_collaboration_occurrences_request_id_occurrence_date")
        ),
    )
    op.create_index(
        op.f("ix_collaboration_occurrences_request_id"), "collaboration_occurrences", ["request_id"], unique=False
    )
    op.create_index(op.f("ix_collaboration_occurrences_status"), "collaboration_occurrences", ["status"], unique=False)
    op.create_table(
        "approval_steps",
        sa.Column("approval_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "mode",
            sa.Enum(
                "one", "all", "any", name="approval_step_mode", native_enum=False, create_constraint=True, length=11
            ),
            nullable=False,
        ),
        sa.Column("approver_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("time_limit", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "active",
                "approved",
                "rejected",
                "cancelled",
                name="approval_step_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_approval_steps_approval_id_approvals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_steps")),
        sa.UniqueConstraint("approval_id", "position", name=op.f("uq_approval_steps_approval_id_position")),
    )
    op.create_table(
        "review_requests",
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("stage_id", sa.BigInteger(), nullable=True),
        sa.Column("deliverable_id", sa.BigInteger(), nullable=True),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "in_review",
                "changes_requested",
                "approved",
                "rejected",
                "cancelled",
                name="review_status",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=False,
        ),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reviewers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("response_target", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_review_requests_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["stage_deliverables.id"],
            name=op.f("fk_review_requests_deliverable_id_stage_deliverables"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_review_requests_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["users.id"], name=op.f("fk_review_requests_requester_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["campaign_stages.id"],
            name=op.f("fk_review_requests_stage_id_campaign_stages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_requests")),
    )
    op.create_index(op.f("ix_review_requests_campaign_id"), "review_requests", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_review_requests_department_id"), "review_requests", ["department_id"], unique=False)
    op.create_index(op.f("ix_review_requests_requester_id"), "review_requests", ["requester_id"], unique=False)
    op.create_index("ix_review_requests_stage", "review_requests", ["stage_id", "id"], unique=False)
    op.create_index(op.f("ix_review_requests_status"), "review_requests", ["status"], unique=False)
    op.create_table(
        "approval_assignments",
        sa.Column("step_id", sa.BigInteger(), nullable=False),
        sa.Column("approval_id", sa.BigInteger(), nullable=False),
        sa.Column("approver_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "withdrawn",
                name="approval_assignment_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["approvals.id"],
            name=op.f("fk_approval_assignments_approval_id_approvals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["users.id"], name=op.f("fk_approval_assignments_approver_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["approval_steps.id"],
            name=op.f("fk_approval_assignments_step_id_approval_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_assignments")),
        sa.UniqueConstraint("step_id", "approver_id", name=op.f("uq_approval_assignments_step_id_approver_id")),
    )
    op.create_index(op.f("ix_approval_assignments_approval_id"), "approval_assignments", ["approval_id"], unique=False)
    op.create_index(op.f("ix_approval_assignments_approver_id"), "approval_assignments", ["approver_id"], unique=False)
    op.create_table(
        "review_responses",
        sa.Column("review_id", sa.BigInteger(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "answered",
                "cancelled",
                name="review_response_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column(
            "decision",
            sa.Enum(
                "approve",
                "request_changes",
                "reject",
                name="review_decision",
                native_enum=False,
                create_constraint=True,
                length=23,
            ),
            nullable=True,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_by", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["users.id"], name=op.f("fk_review_responses_answered_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_review_responses_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review_requests.id"],
            name=op.f("fk_review_responses_review_id_review_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_review_responses_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_responses")),
    )
    op.create_index(op.f("ix_review_responses_department_id"), "review_responses", ["department_id"], unique=False)
    op.create_index("ix_review_responses_review_round", "review_responses", ["review_id", "round"], unique=False)
    op.create_index(op.f("ix_review_responses_user_id"), "review_responses", ["user_id"], unique=False)
    op.add_column("campaigns", sa.Column("is_major", sa.Boolean(), server_default="false", nullable=False))


def downgrade() -> None:
    op.drop_column("campaigns", "is_major")
    op.drop_index(op.f("ix_review_responses_user_id"), table_name="review_responses")
    op.drop_index("ix_review_responses_review_round", table_name="review_responses")
    op.drop_index(op.f("ix_review_responses_department_id"), table_name="review_responses")
    op.drop_table("review_responses")
    op.drop_index(op.f("ix_approval_assignments_approver_id"), table_name="approval_assignments")
    op.drop_index(op.f("ix_approval_assignments_approval_id"), table_name="approval_assignments")
    op.drop_table("approval_assignments")
    op.drop_index(op.f("ix_review_requests_status"), table_name="review_requests")
    op.drop_index("ix_review_requests_stage", table_name="review_requests")
    op.drop_index(op.f("ix_review_requests_requester_id"), table_name="review_requests")
    op.drop_index(op.f("ix_review_requests_department_id"), table_name="review_requests")
    op.drop_index(op.f("ix_review_requests_campaign_id"), table_name="review_requests")
    op.drop_table("review_requests")
    op.drop_table("approval_steps")
    op.drop_index(op.f("ix_collaboration_occurrences_status"), table_name="collaboration_occurrences")
    op.drop_index(op.f("ix_collaboration_occurrences_request_id"), table_name="collaboration_occurrences")
    op.drop_table("collaboration_occurrences")
    op.drop_index(op.f("ix_approvals_status"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_stage_id"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_requester_id"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_kind"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_department_id"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_campaign_id"), table_name="approvals")
    op.drop_table("approvals")
    op.drop_index(op.f("ix_feedback_status"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_owner_id"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_kind"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_department_id"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_campaign_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_collaboration_requests_status"), table_name="collaboration_requests")
    op.drop_index(op.f("ix_collaboration_requests_owner_id"), table_name="collaboration_requests")
    op.drop_index(
        "ix_collaboration_requests_next_occurrence",
        table_name="collaboration_requests",
        postgresql_where=sa.text("status = 'open' AND next_occurrence_at IS NOT NULL"),
    )
    op.drop_index(op.f("ix_collaboration_requests_initiating_department_id"), table_name="collaboration_requests")
    op.drop_index(op.f("ix_collaboration_requests_campaign_id"), table_name="collaboration_requests")
    op.drop_table("collaboration_requests")
    op.drop_index("ix_comments_subject", table_name="comments")
    op.drop_table("comments")
    op.drop_index(op.f("ix_approval_rules_kind"), table_name="approval_rules")
    op.drop_table("approval_rules")
