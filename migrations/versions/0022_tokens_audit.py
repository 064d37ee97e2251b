"""tokens and audit: who minted a token, on whose behalf, and which token every audited change came with

- `api_tokens.minted_by_id` (NULL for the CLI and the bootstrap admin) and `api_tokens.on_behalf`
  (minted by someone other than its holder); existing tokens were all issued by an admin or the
  CLI, whose minter was never recorded: they stay unmarked (NULL, false).
- `api_tokens.prefix` keeps at most 8 characters of the secret: existing prefixes (10) are cut.
- `audit_log.token_id` (no foreign key: history outlives the token). The append-only trigger's
  one allowed update (the actor's user row deleted) now also keeps `token_id` unchanged.

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.actor_user_id IS NOT NULL AND NEW.actor_user_id IS NULL
       AND (NEW.id, NEW.at, NEW.actor, NEW.token_id, NEW.action, NEW.entity_type, NEW.entity_id, NEW.before,
            NEW.after)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor, OLD.token_id, OLD.action, OLD.entity_type, OLD.entity_id, OLD.before,
            OLD.after) THEN
        RETURN NEW;  -- the actor's user row was deleted: the label still says who it was
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""

PREVIOUS_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.actor_user_id IS NOT NULL AND NEW.actor_user_id IS NULL
       AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.entity_type, NEW.entity_id, NEW.before, NEW.after)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.entity_type, OLD.entity_id, OLD.before, OLD.after) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "api_tokens",
        sa.Column(
            "minted_by_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_api_tokens_minted_by_id_users"),
            nullable=True,
        ),
    )
    op.add_column("api_tokens", sa.Column("on_behalf", sa.Boolean(), server_default="false", nullable=False))
    op.execute("UPDATE api_tokens SET prefix = left(prefix, 8) WHERE length(prefix) > 8")
    op.alter_column("api_tokens", "prefix", type_=sa.String(8), existing_type=sa.String(16), existing_nullable=False)
    op.add_column("audit_log", sa.Column("token_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_audit_log_token_id", "audit_log", ["token_id"])
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute(PREVIOUS_FUNCTION)
    op.drop_index("ix_audit_log_token_id", table_name="audit_log")
    op.drop_column("audit_log", "token_id")
    op.alter_column("api_tokens", "prefix", type_=sa.String(16), existing_type=sa.String(8), existing_nullable=False)
    op.drop_column("api_tokens", "on_behalf")
    op.drop_column("api_tokens", "minted_by_id")
