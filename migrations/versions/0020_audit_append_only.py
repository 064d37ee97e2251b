"""audit log: append-only in the database, and bot credentials masked in its channel URLs

A trigger refuses UPDATE and DELETE on audit_log — except the one update PostgreSQL itself makes
when a user row is deleted (`actor_user_id` set to NULL by the foreign key; the `actor` label keeps
who it was). Rows written before this migration get their channel URLs' credentials masked first.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.redact import redact_url

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.actor_user_id IS NOT NULL AND NEW.actor_user_id IS NULL
       AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.entity_type, NEW.entity_id, NEW.before, NEW.after)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.entity_type, OLD.entity_id, OLD.before, OLD.after) THEN
        RETURN NEW;  -- the actor's user row was deleted: the label still says who it was
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _mask_existing_urls() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, before, after FROM audit_log WHERE before ? 'url' OR after ? 'url'")
    ).mappings()
    for row in list(rows):
        values = {}
        for side in ("before", "after"):
            data = row[side]
            if isinstance(data, dict) and isinstance(data.get("url"), str):
                data = {**data, "url": redact_url(data["url"])}
            values[side] = data
        conn.execute(
            sa.text("UPDATE audit_log SET before = CAST(:b AS jsonb), after = CAST(:a AS jsonb) WHERE id = :id"),
            {"id": row["id"], "b": _json(values["before"]), "a": _json(values["after"])},
        )


def _json(value: object) -> str | None:
    import json

    return None if value is None else json.dumps(value, ensure_ascii=False)


def upgrade() -> None:
    _mask_existing_urls()
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
