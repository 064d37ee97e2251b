"""the director role: between manager and admin, on users and tokens

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = ("admin", "manager", "member", "viewer")
ROLES_AFTER = ("admin", "director", "manager", "member", "viewer")
# (table, column, VARCHAR + CHECK enum name) for every column that lists roles
ROLE_COLUMNS = (("users", "role", "user_role", False), ("api_tokens", "role", "token_role", True))


def _roles(roles: tuple[str, ...]) -> None:
    length = max(len(r) for r in roles) + 8
    for table, column, name, nullable in ROLE_COLUMNS:
        op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
        op.alter_column(table, column, type_=sa.String(length=length), existing_nullable=nullable)
        check = f"{column} IN (" + ", ".join(f"'{r}'" for r in roles) + ")"
        op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, check)


def upgrade() -> None:
    _roles(ROLES_AFTER)


def downgrade() -> None:
    op.execute("UPDATE users SET role = 'manager' WHERE role = 'director'")
    op.execute("UPDATE api_tokens SET role = 'manager' WHERE role = 'director'")
    _roles(ROLES_BEFORE)
