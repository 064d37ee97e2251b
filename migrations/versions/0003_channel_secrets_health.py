"""channel secrets encrypted at rest; per-channel rate limits, health and ops alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:00:00.000000

Existing plaintext secrets are encrypted with the configured CLOSELOOP_SECRET_KEY (shared.crypto);
downgrade decrypts them back, so it needs a key that opens them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.crypto import decrypt_secret, encrypt_secret

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

channels = sa.table(
    "channels",
    sa.column("id", sa.BigInteger()),
    sa.column("secret", sa.String()),
    sa.column("secret_encrypted", sa.Text()),
)


def _require_online() -> None:
    if op.get_context().as_sql:
        raise RuntimeError("0003 re-encrypts channel secrets row by row and cannot run in offline (--sql) mode")


def upgrade() -> None:
    _require_online()
    op.add_column("channels", sa.Column("secret_encrypted", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(channels.c.id, channels.c.secret).where(channels.c.secret.is_not(None), channels.c.secret != "")
    ).all()
    for channel_id, secret in rows:
        conn.execute(
            channels.update().where(channels.c.id == channel_id).values(secret_encrypted=encrypt_secret(secret))
        )
    op.drop_column("channels", "secret")

    op.add_column("channels", sa.Column("rate_limits", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("channels", sa.Column("healthy", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("channels", sa.Column("unhealthy_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("channels", sa.Column("unhealthy_reason", sa.Text(), nullable=True))
    op.add_column("channels", sa.Column("ops_alerts", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    _require_online()
    op.drop_column("channels", "ops_alerts")
    op.drop_column("channels", "unhealthy_reason")
    op.drop_column("channels", "unhealthy_since")
    op.drop_column("channels", "healthy")
    op.drop_column("channels", "rate_limits")

    op.add_column("channels", sa.Column("secret", sa.String(length=512), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(channels.c.id, channels.c.secret_encrypted).where(channels.c.secret_encrypted.is_not(None))
    ).all()
    for channel_id, token in rows:
        conn.execute(channels.update().where(channels.c.id == channel_id).values(secret=decrypt_secret(token)))
    op.drop_column("channels", "secret_encrypted")
