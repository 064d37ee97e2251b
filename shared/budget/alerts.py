"""The 5 % rule (seed 004: "实际支出偏离预算5%以上时自动触发预警"): when a line's or the campaign's
committed spend (approved + paid) goes more than 5 % above plan, its owner and the department's
channel hear it once per crossing, and once more when it is back within — written to the outbox
in the same transaction as the change that crossed.

Spending *below* plan is shown (`deviation`) but raises nothing: while a campaign runs, most of
its money is not spent yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.budget.figures import ALERT_OVER, Sums, lines_of, sums_by_line, total
from shared.budget.models import BudgetAlertState, BudgetItem, BudgetLine
from shared.campaigns.sla import CampaignItem
from shared.models import Campaign
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.sla.directory import Directory, Person
from shared.sla.recipients import Resolution, route

DEVIATION = "budget.deviation"
RESOLVED = "budget.deviation_resolved"


@dataclass(frozen=True)
class Crossing:
    scope: str
    event: str
    number: int
    line: BudgetLine | None
    sums: Sums


async def _state(session: AsyncSession, scope: str, campaign_id: int, line_id: int | None) -> BudgetAlertState:
    """The scope's state row, created on first use and locked: two changes at once cross once."""
    await session.execute(
        insert(BudgetAlertState)
        .values(scope=scope, campaign_id=campaign_id, line_id=line_id, deviating=False, crossings=0)
        .on_conflict_do_nothing(index_elements=["scope"])
    )
    return (
        await session.scalars(
            select(BudgetAlertState)
            .where(BudgetAlertState.scope == scope)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()


async def _cross(
    session: AsyncSession, scope: str, campaign_id: int, line: BudgetLine | None, sums: Sums
) -> Crossing | None:
    state = await _state(session, scope, campaign_id, line.id if line is not None else None)
    over = sums.over_threshold
    if over == state.deviating:
        return None
    state.deviating = over
    if over:
        state.crossings += 1
    return Crossing(scope, DEVIATION if over else RESOLVED, state.crossings, line, sums)


async def check_deviation(session: AsyncSession, campaign_id: int, *, now: datetime) -> list[int]:
    """Compare every line of the campaign, and the campaign as a whole, with the 5 % rule; alert
    what crossed since the last check (either way). Returns the outbox rows written."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        return []
    lines = await lines_of(session, campaign_id)
    sums = await sums_by_line(session, lines)
    crossings = [
        c
        for c in [
            *[await _cross(session, f"line:{line.id}", campaign_id, line, sums[line.id]) for line in lines],
            await _cross(session, f"campaign:{campaign_id}", campaign_id, None, total(sums)),
        ]
        if c is not None
    ]
    await session.flush()
    if not crossings:
        return []
    d = Directory(session)
    await d.load_static()
    await d.prefetch_chain([campaign.owner_id], [campaign.id])
    owner = d.person(campaign.owner_id)
    res = Resolution()
    if owner is not None:
        res.add("campaign_owner", owner)
    channels = route(res, d, campaign.department_id)
    currency = lines[0].currency if lines else ""
    items = [
        OutboxItem(
            dedupe_key=f"budget:{c.scope}:{c.number}:{'over' if c.event == DEVIATION else 'back'}:ch{channel_id}",
            event_type=c.event,
            subject_type=BudgetItem.budget_line if c.line is not None else CampaignItem.campaign,
            subject_id=c.line.id if c.line is not None else campaign.id,
            channel_id=channel_id,
            payload=_payload(c, campaign, currency, people, now),
        )
        for c in crossings
        for channel_id, people in channels.items()
    ]
    return await add_to_outbox(session, items, now=now)


def _payload(c: Crossing, campaign: Campaign, currency: str, people: list[Person], now: datetime) -> dict[str, Any]:
    deviation = c.sums.deviation()
    return {
        "kind": "over" if c.event == DEVIATION else "back_within",
        "crossing": c.number,
        "campaign": {"id": campaign.id, "name": campaign.name},
        "line": (
            {"id": c.line.id, "category": c.line.category.value, "name": c.line.name} if c.line is not None else None
        ),
        "currency": currency,
        "planned": str(c.sums.planned),
        "committed": str(c.sums.committed),
        "deviation": str(deviation) if deviation is not None else None,
        "threshold": str(ALERT_OVER),
        "mentions": [p.mention() for p in people],
        "locale": people[0].locale if people else None,
        "fired_at": now.isoformat(),
    }
