"""Comments on any trail item (audited like every write). The items are the ones the domains
registered (`shared.sla.registry.register_item`); an unknown one is a 404, never a guess."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.audit import service as audit
from shared.errors import NotFound
from shared.models import Comment
from shared.sla import registry

MAX_BODY = 20_000


def item_names() -> tuple[str, ...]:
    """What a trail can be asked for: every registered trail item, by its name or its route-style alias."""
    return registry.trail_item_names()


def item_name(name: str) -> str:
    """The registered name of the trail item called `name` (`review` → `review_request`)."""
    return str(registry.trail_item(name).name)


def item_aliases() -> str:
    """The route-style aliases, in words, for the API's description of the path parameter."""
    pairs = [f"`{alias}` = `{item.name}`" for item in registry.trail_items() for alias in item.aliases]
    return ", ".join(pairs)


async def require_subject(session: AsyncSession, subject_type: str, subject_id: int) -> str:
    """The item's registered name (`review` → `review_request`), once it is known to exist."""
    try:
        item = registry.trail_item(subject_type)
    except registry.UnknownSubjectType:
        raise NotFound(f"there is no trail for {subject_type!r}") from None
    column = item.id_column
    if await session.scalar(select(column).where(column == subject_id)) is None:
        raise NotFound(f"{subject_type} {subject_id} does not exist")
    return str(item.name)


async def add_comment(
    session: AsyncSession, *, actor: Actor, subject_type: str, subject_id: int, body: str, now: datetime
) -> Comment:
    """Comment on an item (audited like every write); it is stored under the item's registered name."""
    subject_type = await require_subject(session, subject_type, subject_id)
    comment = Comment(
        subject_type=subject_type, subject_id=subject_id, author_id=actor.user_id, body=body, created_at=now
    )
    session.add(comment)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="comment",
        entity_type=subject_type,
        entity_id=subject_id,
        after={"comment_id": comment.id},
    )
    return comment
