"""Who may act on an item: its parties (requester, owner …), members of the departments it names,
or anyone holding at least a role (a manager by default). The one check every domain uses, so
"the requester or a manager may cancel" reads — and answers — the same everywhere."""

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
) -> bool:
    """True for anyone holding `role` or above, one of the `parties`, or a member of one
    of the `departments` (the department is looked up only when it could matter)."""
    if actor.at_least(role):
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


async def require_may_act(
    session: AsyncSession,
    actor: Actor,
    *,
    who: str,
    what: str,
    parties: Iterable[int | None] = (),
    departments: Iterable[int | None] = (),
    role: Role = Role.manager,
) -> None:
    """403 `only {who} may {what}` unless `may_act`."""
    if not await may_act(session, actor, parties=parties, departments=departments, role=role):
        raise Forbidden(f"only {who} may {what}")
