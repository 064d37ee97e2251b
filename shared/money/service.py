"""Money metrics from what the domains record: cost from the budget (approved + paid expenses),
revenue, leads, conversion, customers and customer value from the campaign's KPIs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.budget.figures import campaign_cost
from shared.errors import InvalidInput
from shared.kpis.models import Metric
from shared.kpis.service import kpi_actuals
from shared.models import Campaign
from shared.money.metrics import INPUTS, MoneyInputs, aggregate, money_metrics

PERCENT = Decimal(100)


async def campaign_inputs(session: AsyncSession, campaign_id: int) -> MoneyInputs:
    """One campaign's inputs; a metric kept in % (the catalogue's unit) becomes a fraction."""
    actuals = {k: v for k, v in (await kpi_actuals(session, campaign_id)).items() if k in INPUTS}
    rows = await session.execute(select(Metric.key, Metric.unit).where(Metric.key.in_(list(actuals))))
    units = {key: unit for key, unit in rows}
    values: dict[str, Decimal | None] = {
        k: (v / PERCENT if v is not None and units.get(k) == "%" else v) for k, v in actuals.items()
    }
    values["cost"] = await campaign_cost(session, campaign_id)
    return MoneyInputs(values)


def _read(inputs: MoneyInputs, **scope: Any) -> dict[str, Any]:
    figures = money_metrics(inputs)
    return {
        **scope,
        "inputs": dict(sorted(inputs.values.items())),
        "figures": {name: f.as_dict() for name, f in figures.items()},
    }


async def for_campaign(session: AsyncSession, campaign_id: int) -> dict[str, Any]:
    """A campaign's money figures (404 for a campaign that does not exist)."""
    await crud.get_or_404(session, Campaign, campaign_id)
    return _read(await campaign_inputs(session, campaign_id), campaign_id=campaign_id)


async def for_department(
    session: AsyncSession, *, department_id: int | None, period_from: date | None, period_to: date | None
) -> dict[str, Any]:
    """The campaigns of a department (or all) that ran in the period — started by its end and not
    ended before its start — added up: inputs summed, each figure computed once from the sums."""
    if period_from is not None and period_to is not None and period_to < period_from:
        raise InvalidInput.for_field("query.to", "must not be before from", "range")
    stmt = select(Campaign.id).order_by(Campaign.id)
    if department_id is not None:
        stmt = stmt.where(Campaign.department_id == department_id)
    if period_to is not None:
        stmt = stmt.where(or_(Campaign.start_date.is_(None), Campaign.start_date <= period_to))
    if period_from is not None:
        stmt = stmt.where(or_(Campaign.end_date.is_(None), Campaign.end_date >= period_from))
    ids = list(await session.scalars(stmt))
    parts = [await campaign_inputs(session, cid) for cid in ids]
    return _read(
        aggregate(parts),
        department_id=department_id,
        period_from=period_from,
        period_to=period_to,
        campaign_ids=ids,
    )
