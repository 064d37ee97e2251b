"""People and departments, and the API tokens they call with."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, IdMixin, TimestampMixin, str_enum

PREFIX_CHARS = 8  # a token's stored, shown prefix reveals at most this many characters of it


class Role(enum.StrEnum):
    """Global ceilings: what someone may do at most. Where they may do it is their department
    (and the items they are a party to), see `shared.access`; directors and admins see everything."""

    admin = "admin"
    director = "director"
    manager = "manager"
    member = "member"
    viewer = "viewer"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.viewer: 0, Role.member: 1, Role.manager: 2, Role.director: 3, Role.admin: 4}


class Locale(enum.StrEnum):
    zh_cn = "zh-CN"
    en_us = "en-US"


class Department(IdMixin, TimestampMixin, Base):
    __tablename__ = "departments"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    head_user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL", use_alter=True), index=True
    )


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    manager_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"), default=Role.member)
    mobile: Mapped[str | None] = mapped_column(String(32))
    feishu_open_id: Mapped[str | None] = mapped_column(String(64))
    dingtalk_user_id: Mapped[str | None] = mapped_column(String(64))
    wecom_user_id: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[Locale] = mapped_column(str_enum(Locale, "user_locale"), default=Locale.zh_cn)
    is_active: Mapped[bool] = mapped_column(default=True)


# Emails are unique whatever their case.
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class ApiToken(IdMixin, TimestampMixin, Base):
    """A bearer token; only its SHA-256 is stored, the secret is shown once."""

    __tablename__ = "api_tokens"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The secret's first characters, to recognise it in a list: never more than PREFIX_CHARS.
    prefix: Mapped[str] = mapped_column(String(PREFIX_CHARS))
    # A token may be scoped below its user's role (e.g. a read-only token of an admin).
    role: Mapped[Role | None] = mapped_column(str_enum(Role, "token_role"))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]  # recorded at most once a minute (shared.org.tokens)
    # Who issued it: the holder themselves, an admin for someone else, NULL for the CLI and bootstrap.
    minted_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    # Minted by someone other than its holder: whoever uses it acts as another person. Stored, so
    # the mark stays if the minter's row goes.
    on_behalf: Mapped[bool] = mapped_column(default=False, server_default="false")
