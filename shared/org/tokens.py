"""API tokens: random secrets, stored as SHA-256, shown once."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, event, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit, crud
from shared.actor import Actor
from shared.errors import Forbidden, InvalidInput, Unauthorized
from shared.models import ApiToken, Role, User
from shared.models.org import PREFIX_CHARS
from shared.org.schemas import TokenCreate

TOKEN_PREFIX = "cl_"
MIN_SECRET_CHARS = 32  # a given secret (bootstrap, scripts) is at least this long; ours are 46
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used_at` is written at most this often per token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def shown_prefix(plaintext: str) -> str:
    """What is stored and listed to recognise a token: never more than PREFIX_CHARS of it."""
    return plaintext[:PREFIX_CHARS]


def effective_role(user: User, token: ApiToken) -> Role:
    """A token may narrow its user's role, never widen it."""
    return _narrowed(user.role, token.role)


def _narrowed(user_role: Role, token_role: Role | None) -> Role:
    if token_role is not None and token_role.rank < user_role.rank:
        return token_role
    return user_role


async def create_token(
    session: AsyncSession,
    *,
    actor: Actor,
    user_id: int,
    name: str,
    role: Role | None = None,
    expires_at: datetime | None = None,
    secret: str | None = None,
    minted_by_id: int | None = None,
    on_behalf: bool = False,
) -> tuple[ApiToken, str]:
    """Issue a token for a user; returns the row and the plaintext (never stored). The API's
    `issue_token`, the CLI and the bootstrap admin (`secret`: a given plaintext) all come here.
    `minted_by_id` is the issuing user (None: the CLI or bootstrap); a token minted for someone
    else (or through such a token: `on_behalf`) is marked `on_behalf`."""
    if secret is not None and len(secret) < MIN_SECRET_CHARS:
        raise InvalidInput.for_field("secret", f"must be at least {MIN_SECRET_CHARS} characters", "too_short")
    await crud.check_references(session, {"user_id": (User, user_id)})
    plaintext = secret or new_token_secret()
    token = ApiToken(
        user_id=user_id,
        name=name,
        token_hash=hash_token(plaintext),
        prefix=shown_prefix(plaintext),
        role=role,
        expires_at=expires_at,
        minted_by_id=minted_by_id,
        on_behalf=on_behalf or (minted_by_id is not None and minted_by_id != user_id),
    )
    await crud.create(session, actor=actor, obj=token, entity_type="api_token")
    return token, plaintext


async def issue_token(
    session: AsyncSession, *, actor: Actor, data: TokenCreate, now: datetime, default_ttl: timedelta | None = None
) -> tuple[ApiToken, str]:
    """An admin issues a token for a user (for someone else: marked `on_behalf`); it must not be
    born expired, and without `expires_at` it lives `default_ttl` (None: until revoked)."""
    if data.expires_at is not None and data.expires_at <= now:
        raise InvalidInput.for_field("expires_at", "must be in the future")
    expires_at = data.expires_at or (now + default_ttl if default_ttl is not None else None)
    minted_by_id = actor.user_id
    if actor.on_behalf and actor.token_id is not None:
        # Acting as someone else cannot mint a clean token for them: the minter behind the
        # caller's token is the minter, and the new token stays marked.
        minted_by_id = await session.scalar(select(ApiToken.minted_by_id).where(ApiToken.id == actor.token_id))
    return await create_token(
        session,
        actor=actor,
        user_id=data.user_id,
        name=data.name,
        role=data.role,
        expires_at=expires_at,
        minted_by_id=minted_by_id,
        on_behalf=actor.on_behalf and minted_by_id != data.user_id,
    )


def token_filter(stmt: Select[Any], *, user_id: int | None) -> Select[Any]:
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return stmt


async def revoke_token(session: AsyncSession, *, actor: Actor, token_id: int, now: datetime) -> ApiToken:
    token = await crud.get_or_404(session, ApiToken, token_id, for_update=True)
    if token.revoked_at is None:
        await crud.update(session, actor=actor, obj=token, changes={"revoked_at": now}, entity_type="api_token")
        forget_resolved_tokens(session)
    return token


async def _token_and_user(session: AsyncSession, plaintext: str) -> tuple[ApiToken, User] | None:
    stmt = select(ApiToken, User).join(User, User.id == ApiToken.user_id)
    row = (await session.execute(stmt.where(ApiToken.token_hash == hash_token(plaintext)))).one_or_none()
    return None if row is None else (row[0], row[1])


# Every request runs this: the columns it decides on, not two whole entities through the ORM.
_AUTHENTICATE = (
    select(
        ApiToken.id.label("token_id"),
        ApiToken.on_behalf,
        ApiToken.last_used_at,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.role.label("token_role"),
        User.id.label("user_id"),
        User.role.label("user_role"),
        User.department_id,
        User.is_active,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


# At most one write per token per minute, and never a wait: a request whose token row another
# request is marking (its transaction still open) skips the mark instead of queueing behind it.
_TOKENS = ApiToken.__table__
_MARK_USED = (
    update(ApiToken)
    .where(
        _TOKENS.c.id.in_(
            select(_TOKENS.c.id)
            .where(
                _TOKENS.c.id == bindparam("token_id"),
                or_(_TOKENS.c.last_used_at.is_(None), _TOKENS.c.last_used_at < bindparam("cutoff")),
            )
            .with_for_update(skip_locked=True)
        )
    )
    .values(last_used_at=bindparam("now"), updated_at=_TOKENS.c.updated_at)  # a use is not an edit
)


@dataclasses.dataclass
class _Resolved:
    """What `authenticate` decides on, as read from the token's and its user's rows."""

    token_id: int
    on_behalf: bool
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    token_role: Role | None
    user_id: int
    user_role: Role
    department_id: int | None
    is_active: bool


_CACHES: weakref.WeakSet[TokenCache] = weakref.WeakSet()


class TokenCache:
    """Tokens resolved in the last `ttl_s` seconds, in this process, by the SHA-256 of the token:
    a request with a token seen within the TTL runs no statement to authenticate (the API's
    `CLOSELOOP_API_TOKEN_CACHE_S`, 5 s by default). Expiry is still checked against the request's
    time on every use. A revocation or a change of a user (role, department, deactivation) clears
    every cache of the process that makes it, at once and again after its commit; other processes
    see it within the TTL. Unknown tokens are never kept (guessing cannot fill it)."""

    def __init__(
        self, ttl_s: float, *, max_entries: int = 10_000, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._monotonic = monotonic  # seconds: how old an entry is (tests pass their own)
        self._entries: dict[str, tuple[float, _Resolved]] = {}
        _CACHES.add(self)

    def get(self, token_hash: str) -> _Resolved | None:
        found = self._entries.get(token_hash)
        if found is None:
            return None
        if self._monotonic() - found[0] >= self.ttl_s:
            del self._entries[token_hash]
            return None
        return found[1]

    def put(self, token_hash: str, resolved: _Resolved) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # a few thousand live tokens at most: starting over is cheap
        self._entries[token_hash] = (self._monotonic(), resolved)

    def clear(self) -> None:
        self._entries.clear()


def forget_resolved_tokens(session: AsyncSession) -> None:
    """This process's token caches start over now and again once `session` commits (a request
    between the two could have read the rows as they were before the change)."""

    def clear(*_: Any) -> None:
        for cache in list(_CACHES):
            cache.clear()

    clear()
    event.listen(session.sync_session, "after_commit", clear, once=True)


async def _resolve(session: AsyncSession, token_hash: str, cache: TokenCache | None) -> _Resolved | None:
    if cache is not None and (found := cache.get(token_hash)) is not None:
        return found
    row = (await session.execute(_AUTHENTICATE, {"token_hash": token_hash})).one_or_none()
    if row is None:
        return None
    resolved = _Resolved(**row._asdict())
    if cache is not None:
        cache.put(token_hash, resolved)
    return resolved


async def authenticate(session: AsyncSession, *, bearer: str, now: datetime, cache: TokenCache | None = None) -> Actor:
    """Resolve a bearer token to an actor, or raise Unauthorized. Records `last_used_at` (in the
    request's transaction) when the recorded one is over a minute old: most requests write nothing.
    With `cache`, a token resolved within its TTL is not read again."""
    row = await _resolve(session, hash_token(bearer), cache)
    if row is None:
        raise Unauthorized("unknown token")
    if row.revoked_at is not None:
        raise Unauthorized("token revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("token expired")
    if not row.is_active:
        raise Unauthorized("user is deactivated")
    cutoff = now - LAST_USED_EVERY
    if row.last_used_at is None or row.last_used_at < cutoff:
        await session.execute(_MARK_USED, {"token_id": row.token_id, "cutoff": cutoff, "now": now})
        row.last_used_at = now  # the cached copy too: the next mark is a minute away
    return Actor.user(
        row.user_id,
        _narrowed(row.user_role, row.token_role),
        row.department_id,
        token_id=row.token_id,
        on_behalf=row.on_behalf,
    )


def require_own_token(actor: Actor, *, what: str) -> None:
    """Nobody decides "as" someone else: a token minted for its holder by another person (an admin
    acting as them) may not `what` (decide an approval, answer a review)."""
    if actor.on_behalf:
        raise Forbidden(
            f"this token was issued to user {actor.user_id} by someone else; it cannot {what} — "
            "the holder must use their own token (`closeloop token create --user <email>`)"
        )


async def ensure_bootstrap_admin(session: AsyncSession, *, token: str, email: str) -> User:
    """Make sure an admin holding exactly `token` exists (ops scripts, CI). Idempotent."""
    # Every API worker runs this at start, at the same moment: one creates the admin, the others
    # wait and then find it (two inserts of the same email would stop a worker from starting).
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('closeloop:bootstrap-admin'))"))
    existing = await _token_and_user(session, token)
    actor = Actor.system("bootstrap")
    if existing is not None:
        token_row, user = existing
        if token_row.revoked_at is not None or user.role != Role.admin or not user.is_active:
            raise InvalidInput.for_field(
                "CLOSELOOP_BOOTSTRAP_TOKEN", "belongs to a revoked token or a non-admin user; choose another"
            )
        return user
    found = (await session.scalars(select(User).where(User.email == email))).one_or_none()
    if found is None:
        user = await crud.create(
            session, actor=actor, obj=User(name="Ops bootstrap", email=email, role=Role.admin), entity_type="user"
        )
    else:
        user = found
    if user.role != Role.admin:
        before = audit.snapshot(user)
        user.role = Role.admin
        await audit.record(
            session,
            actor=actor,
            action="update",
            entity_type="user",
            entity_id=user.id,
            before=before,
            after=audit.snapshot(user),
        )
    await create_token(session, actor=actor, user_id=user.id, name="bootstrap", secret=token)
    return user
