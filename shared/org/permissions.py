"""Who may act on an item: its parties (requester, owner …), members of the departments it names,
or anyone holding at least a role (a manager by default) — in the item's own department (`home`)
when it is given, since a role is a ceiling within one's department (`shared.access.policy`);
directors and admins anywhere. The one check every domain uses, so "the requester or a manager may
cancel" reads — and answers — the same everywhere. It runs after the object-level check: the caller
already sees the item."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.errors import Forbidden
from shared.models import Role, User


async def may_act(
    session: AsyncSession,
    actor: Actor,
    *,
    parties: Iterable[int | None] = (),
    departments: Iterable[int | None] = (),
    role: Role = Role.manager,
    home: Iterable[int | None] | None = None,
) -> bool:
    """True for anyone holding `role` or above (with `home`: in one of those departments, or a
    director), one of the `parties`, or a member of one of the `departments` (the department is
    looked up only when it could matter)."""
    if actor.at_least(role) and (home is None or actor.sees_everything or _at_home(actor, home)):
        return True
    if actor.user_id is None:
        return False
    if actor.user_id in set(parties):
        return True
    wanted = {d for d in departments if d is not None}
    if not wanted:
        return False
    department = await session.scalar(select(User.department_id).where(User.id == actor.user_id))
    return department in wanted


def _at_home(actor: Actor, home: Iterable[int | None]) -> bool:
    departments = set(home)
    return None in departments or actor.department_id in departments


async def require_may_act(
    session: AsyncSession,
    actor: Actor,
    *,
    who: str,
    what: str,
    parties: Iterable[int | None] = (),
    departments: Iterable[int | None] = (),
    role: Role = Role.manager,
    home: Iterable[int | None] | None = None,
) -> None:
    """403 `only {who} may {what}` unless `may_act`."""
    if not await may_act(session, actor, parties=parties, departments=departments, role=role, home=home):
        raise Forbidden(f"only {who} may {what}")
