"""archive instead of delete, and customer data kept out of the audit log

- `archived_at` / `archived_by` on campaigns, tasks, channels, approval rules and report schedules:
  DELETE archives an item with history instead of erasing it (`shared.archive`);
- `feedback.anonymised_at`: set by the retention purge (`closeloop privacy purge`);
- feedback snapshots already in the audit log get the customer's name and contact masked and the
  phone numbers and emails in their texts scrubbed, as new ones are at write time (the append-only
  trigger is set aside for this one rewrite, inside this migration's transaction).

Revision ID: 0023
Revises: 0020
Create Date: 2026-12-03 14:00:00
"""

import json
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from shared.redact import mask_contact, mask_name, scrub_contacts

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARCHIVABLE = ("campaigns", "tasks", "channels", "approval_rules", "report_schedules")
PERSONAL: dict[str, Callable[[str], str]] = {
    "customer_name": mask_name,
    "customer_contact": mask_contact,
    "content": scrub_contacts,
    "first_response": scrub_contacts,
}


def _masked(data: object) -> object:
    if not isinstance(data, dict):
        return data
    return {k: PERSONAL[k](v) if k in PERSONAL and isinstance(v, str) else v for k, v in data.items()}


def _mask_feedback_snapshots() -> None:
    conn = op.get_bind()
    rows = list(
        conn.execute(sa.text("SELECT id, before, after FROM audit_log WHERE entity_type = 'feedback'")).mappings()
    )
    changed = [(r, _masked(r["before"]), _masked(r["after"])) for r in rows]
    changed = [(r, b, a) for r, b, a in changed if (b, a) != (r["before"], r["after"])]
    if not changed:
        return
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    for row, before, after in changed:
        conn.execute(
            sa.text("UPDATE audit_log SET before = CAST(:b AS jsonb), after = CAST(:a AS jsonb) WHERE id = :id"),
            {
                "id": row["id"],
                "b": None if before is None else json.dumps(before, ensure_ascii=False),
                "a": None if after is None else json.dumps(after, ensure_ascii=False),
            },
        )
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def upgrade() -> None:
    for table in ARCHIVABLE:
        op.add_column(table, sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("archived_by", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            f"fk_{table}_archived_by_users", table, "users", ["archived_by"], ["id"], ondelete="SET NULL"
        )
    op.add_column("feedback", sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    _mask_feedback_snapshots()


def downgrade() -> None:
    op.drop_column("feedback", "anonymised_at")
    for table in ARCHIVABLE:
        op.drop_constraint(f"fk_{table}_archived_by_users", table, type_="foreignkey")
        op.drop_column(table, "archived_by")
        op.drop_column(table, "archived_at")
