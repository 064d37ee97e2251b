"""What an item page shows: any registered subject type, read through its domain's loader (title,
owner, department, campaign), its SLA timers and the trail of the item it belongs to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import subjects  # noqa: F401 — every subject type is registered: each gets a page
from shared.access import policy as access
from shared.actor import Actor
from shared.errors import NotFound
from shared.models import Campaign, Department, User
from shared.sla import registry
from shared.sla.read import subject_summaries
from shared.sla.registry import SubjectContext, SubjectSpec
from shared.trail.service import TrailEntry, trail

TRAIL_ENTRIES = 50  # the most recent; a phone screen, not an archive


@dataclass
class ItemView:
    spec: SubjectSpec
    subject: SubjectContext
    owner: str | None
    department: str | None
    campaign: str | None
    timers: list[dict[str, Any]] = field(default_factory=list)
    trail: list[TrailEntry] = field(default_factory=list)


async def trail_item_of(session: AsyncSession, spec: SubjectSpec, subject_id: int) -> tuple[str, int] | None:
    """The item the subject belongs to, whose trail it shares (a reviewer's answer → its review)."""
    if not spec.trail:
        return None
    link = spec.trail[0]
    own_id = link.column.class_.id
    item_id = (
        subject_id if link.column is own_id else await session.scalar(select(link.column).where(own_id == subject_id))
    )
    return None if item_id is None else (str(link.item), int(item_id))


async def _trail_of(session: AsyncSession, spec: SubjectSpec, subject_id: int) -> list[TrailEntry]:
    item = await trail_item_of(session, spec, subject_id)
    return [] if item is None else await trail(session, item[0], item[1], limit=TRAIL_ENTRIES)


async def _name(session: AsyncSession, model: Any, row_id: int | None) -> str | None:
    if row_id is None:
        return None
    return await session.scalar(select(model.name).where(model.id == row_id))


async def require_page_reader(session: AsyncSession, actor: Actor, subject_type: str, subject_id: int) -> None:
    """A page opened with a token follows the permission model: the item it belongs to must be
    readable by the caller (404 otherwise, as through the API); an item without one (no trail) is
    readable by its assignee and its department."""
    if actor.sees_everything:
        return
    spec = registry.find(subject_type)
    if spec is None:
        raise NotFound(f"no item type {subject_type!r}")
    item = await trail_item_of(session, spec, subject_id)
    if item is not None and item[0] in access.RULES:
        await access.require_read(session, actor, item[0], item[1])
        return
    subject = (await spec.load(session, [subject_id])).get(subject_id)
    if subject is None or not (
        subject.assignee_id == actor.user_id or subject.department_id in (None, actor.department_id)
    ):
        raise NotFound(f"{subject_type} {subject_id} does not exist")


async def item_view(session: AsyncSession, subject_type: str, subject_id: int, *, now: datetime) -> ItemView:
    """One item as its page shows it (404 for an unknown type or a missing item)."""
    spec = registry.find(subject_type)
    if spec is None:
        raise NotFound(f"no item type {subject_type!r}")
    subject = (await spec.load(session, [subject_id])).get(subject_id)
    if subject is None:
        raise NotFound(f"{subject_type} {subject_id} does not exist")
    return ItemView(
        spec=spec,
        subject=subject,
        owner=await _name(session, User, subject.assignee_id),
        department=await _name(session, Department, subject.department_id),
        campaign=await _name(session, Campaign, subject.campaign_id),
        timers=(await subject_summaries(session, subject_type, [subject_id], now)).get(subject_id, []),
        trail=await _trail_of(session, spec, subject_id),
    )
