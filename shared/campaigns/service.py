"""Campaigns: owner, department, budget and dates."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.errors import InvalidInput
from shared.models import Campaign, CampaignStatus, Department, User


def _check_dates(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise InvalidInput.for_field("body.end_date", "must not be before start_date", "range")


async def create_campaign(session: AsyncSession, *, actor: Actor, data: dict[str, Any]) -> Campaign:
    """Create a campaign; the owner defaults to the caller."""
    if data.get("owner_id") is None and actor.user_id is not None:
        data = {**data, "owner_id": actor.user_id}
    _check_dates(data.get("start_date"), data.get("end_date"))
    await crud.check_references(
        session, {"owner_id": (User, data.get("owner_id")), "department_id": (Department, data.get("department_id"))}
    )
    return await crud.create(session, actor=actor, obj=Campaign(**data), entity_type="campaign")


async def update_campaign(
    session: AsyncSession, *, actor: Actor, campaign_id: int, changes: dict[str, Any]
) -> Campaign:
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    _check_dates(changes.get("start_date", campaign.start_date), changes.get("end_date", campaign.end_date))
    await crud.check_references(
        session,
        {"owner_id": (User, changes.get("owner_id")), "department_id": (Department, changes.get("department_id"))},
    )
    return await crud.update(session, actor=actor, obj=campaign, changes=changes, entity_type="campaign")


def campaign_filter(
    stmt: Select[Any], *, status: CampaignStatus | None, owner_id: int | None, department_id: int | None, q: str | None
) -> Select[Any]:
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    if owner_id is not None:
        stmt = stmt.where(Campaign.owner_id == owner_id)
    if department_id is not None:
        stmt = stmt.where(Campaign.department_id == department_id)
    if q:
        stmt = stmt.where(Campaign.name.ilike(f"%{q}%"))
    return stmt
