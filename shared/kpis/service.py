"""KPIs: the metric catalogue, a campaign's KPIs and their readings, the exact variance against
target, and the crossings of the warning threshold — each a timed item (`kpi_variance`) that asks
the KPI owner for a cause and becomes a rectification item when none comes in time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.kpis.models import CURRENT, Aggregation, Kpi, KpiReading, KpiVariance, Metric, VarianceStatus
from shared.kpis.schemas import KpiCreate, KpiRead, KpiUpdate, MetricCreate, MetricUpdate, ReadingCreate, VarianceRead
from shared.kpis.sla import KpiSubject, percent
from shared.models import Campaign, CampaignStatus, SlaTimer, TimerState, User
from shared.org.permissions import require_may_act
from shared.rectifications import service as rectifications
from shared.rectifications.models import RectificationSource
from shared.rectifications.schemas import RectificationCreate
from shared.sla.registry import on_campaign_cancelled
from shared.sla.sync import sync_timers

VARIANCE = KpiSubject.kpi_variance
KPI_ENTITY = "kpi"
READING_ENTITY = "kpi_reading"
METRIC_ENTITY = "metric"
ZERO_TARGET = "the target is 0: a rate against it is undefined"
NO_READINGS = "no readings yet"


# ---- the arithmetic (pure) -----------------------------------------------------------------------
def aggregate(aggregation: Aggregation, values: Sequence[Decimal]) -> Decimal | None:
    """The actual from readings in as-of order: the latest, their sum or their mean; None without any."""
    if not values:
        return None
    if aggregation == Aggregation.sum:
        return sum(values, Decimal(0))
    if aggregation == Aggregation.avg:
        return sum(values, Decimal(0)) / len(values)
    return values[-1]


def variance(actual: Decimal | None, target: Decimal) -> tuple[Decimal | None, str | None]:
    """`(actual − target) / target`, exact in Decimal; None and the reason when it is undefined."""
    if actual is None:
        return None, NO_READINGS
    if target == 0:
        return None, ZERO_TARGET
    return (actual - target) / target, None


def off_target(rate: Decimal | None, threshold: Decimal, *, higher_is_better: bool) -> bool:
    """Worse than the threshold in the metric's bad direction (strictly: exactly −10 % is not)."""
    if rate is None:
        return False
    return rate < -threshold if higher_is_better else rate > threshold


# ---- the metric catalogue ------------------------------------------------------------------------
async def get_metric(session: AsyncSession, key: str, *, for_update: bool = False) -> Metric:
    stmt = select(Metric).where(Metric.key == key)
    if for_update:
        stmt = stmt.with_for_update()
    metric = (await session.scalars(stmt)).one_or_none()
    if metric is None:
        raise NotFound(f"metric {key!r} does not exist")
    return metric


async def create_metric(session: AsyncSession, *, actor: Actor, data: MetricCreate) -> Metric:
    """Add a metric to the catalogue (its key is unique)."""
    if await session.scalar(select(Metric.id).where(Metric.key == data.key)) is not None:
        raise Conflict.on_input(f"metric {data.key!r} exists", "key", "already in the catalogue", "unique")
    return await crud.create(session, actor=actor, obj=Metric(**data.model_dump()), entity_type=METRIC_ENTITY)


async def update_metric(
    session: AsyncSession, *, actor: Actor, key: str, changes: MetricUpdate, now: datetime
) -> Metric:
    """Change a metric; its KPIs are judged again (the direction or aggregation may have changed)."""
    metric = await get_metric(session, key, for_update=True)
    metric = await crud.update(
        session, actor=actor, obj=metric, changes=changes.model_dump(exclude_unset=True), entity_type=METRIC_ENTITY
    )
    for kpi in await session.scalars(select(Kpi).where(Kpi.metric_key == key).order_by(Kpi.id)):
        await _evaluate(session, actor=actor, kpi=kpi, metric=metric, now=now)
    return metric


# ---- actuals -------------------------------------------------------------------------------------
async def _values(session: AsyncSession, kpi_ids: Sequence[int]) -> dict[int, list[Decimal]]:
    rows = await session.execute(
        select(KpiReading.kpi_id, KpiReading.value)
        .where(KpiReading.kpi_id.in_(list(kpi_ids)))
        .order_by(KpiReading.kpi_id, KpiReading.as_of, KpiReading.id)
    )
    out: dict[int, list[Decimal]] = defaultdict(list)
    for kpi_id, value in rows:
        out[kpi_id].append(value)
    return out


async def actual_of(session: AsyncSession, kpi_id: int) -> Decimal | None:
    """One KPI's actual per its metric's aggregation (None without readings or for no such KPI)."""
    aggregation = await session.scalar(
        select(Metric.aggregation).join(Kpi, Kpi.metric_key == Metric.key).where(Kpi.id == kpi_id)
    )
    if aggregation is None:
        return None
    return aggregate(aggregation, (await _values(session, [kpi_id])).get(kpi_id, []))


async def kpi_actuals(session: AsyncSession, campaign_id: int) -> dict[str, Decimal | None]:
    """A campaign's actuals by metric key (None: the KPI exists but has no readings). Metrics the
    campaign has no KPI for are absent — callers say what is missing, never invent zeros."""
    rows = list(
        await session.execute(
            select(Kpi.id, Kpi.metric_key, Metric.aggregation)
            .join(Metric, Metric.key == Kpi.metric_key)
            .where(Kpi.campaign_id == campaign_id)
        )
    )
    values = await _values(session, [r.id for r in rows])
    return {r.metric_key: aggregate(r.aggregation, values.get(r.id, [])) for r in rows}


# ---- KPIs ----------------------------------------------------------------------------------------
async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    return await crud.get_or_404(session, Campaign, campaign_id)


def _require_not_cancelled(campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.cancelled:
        raise Conflict("the campaign is cancelled", errors=[FieldError("campaign_id", campaign.status.value, "state")])


async def get_kpi(session: AsyncSession, campaign_id: int, kpi_id: int, *, for_update: bool = False) -> Kpi:
    kpi = await crud.get_or_404(session, Kpi, kpi_id, for_update=for_update)
    if kpi.campaign_id != campaign_id:
        raise NotFound(f"kpi {kpi_id} does not exist on campaign {campaign_id}")
    return kpi


async def _require_steward(session: AsyncSession, actor: Actor, campaign: Campaign, kpi: Kpi | None, what: str) -> None:
    await require_may_act(
        session,
        actor,
        who="the campaign owner, the KPI owner or a manager",
        what=what,
        parties=[campaign.owner_id, kpi.owner_id if kpi else None],
    )


async def create_kpi(session: AsyncSession, *, actor: Actor, campaign_id: int, data: KpiCreate, now: datetime) -> Kpi:
    """Give a campaign a KPI (one per metric)."""
    campaign = await _campaign(session, campaign_id)
    await _require_steward(session, actor, campaign, None, "set this campaign's KPIs")
    _require_not_cancelled(campaign)
    await crud.check_references(session, {"owner_id": (User, data.owner_id)})
    if await session.scalar(select(Metric.id).where(Metric.key == data.metric_key)) is None:
        raise InvalidInput.for_field("metric_key", f"metric {data.metric_key!r} is not in the catalogue", "reference")
    taken = select(Kpi.id).where(Kpi.campaign_id == campaign_id, Kpi.metric_key == data.metric_key)
    if await session.scalar(taken) is not None:
        raise Conflict.on_input(
            f"the campaign has a {data.metric_key} KPI already", "metric_key", "one KPI per metric", "unique"
        )
    kpi = Kpi(campaign_id=campaign_id, **data.model_dump())
    return await crud.create(session, actor=actor, obj=kpi, entity_type=KPI_ENTITY)


async def update_kpi(
    session: AsyncSession, *, actor: Actor, campaign_id: int, kpi_id: int, changes: KpiUpdate, now: datetime
) -> Kpi:
    """Change target, threshold, owner, cause or improvement. A cause written while a variance is
    open answers it (its deadline is met); a new target or threshold judges the KPI again."""
    campaign = await _campaign(session, campaign_id)
    kpi = await get_kpi(session, campaign_id, kpi_id, for_update=True)
    await _require_steward(session, actor, campaign, kpi, "change this KPI")
    values: dict[str, Any] = changes.model_dump(exclude_unset=True)
    await crud.check_references(session, {"owner_id": (User, values.get("owner_id"))})
    kpi = await crud.update(session, actor=actor, obj=kpi, changes=values, entity_type=KPI_ENTITY)
    metric = await get_metric(session, kpi.metric_key)
    if values.get("cause"):
        current = await _current(session, kpi.id)
        if current is not None and current.status == VarianceStatus.open:
            await _set_status(session, actor, current, VarianceStatus.explained, now=now, closes=False)
    await _evaluate(session, actor=actor, kpi=kpi, metric=metric, now=now)
    return kpi


async def add_reading(
    session: AsyncSession, *, actor: Actor, campaign_id: int, kpi_id: int, data: ReadingCreate, now: datetime
) -> KpiReading:
    """Record a value (as of a moment, from a source); the KPI is judged against its threshold."""
    campaign = await _campaign(session, campaign_id)
    kpi = await get_kpi(session, campaign_id, kpi_id, for_update=True)
    await require_may_act(
        session,
        actor,
        who="the campaign owner, the KPI owner, the campaign's department or a manager",
        what="report on this KPI",
        parties=[campaign.owner_id, kpi.owner_id],
        departments=[campaign.department_id],
    )
    _require_not_cancelled(campaign)
    reading = KpiReading(
        kpi_id=kpi.id,
        value=data.value,
        as_of=data.as_of or now,
        source=data.source,
        note=data.note,
        created_by=actor.user_id,
    )
    reading = await crud.create(session, actor=actor, obj=reading, entity_type=READING_ENTITY)
    await _evaluate(session, actor=actor, kpi=kpi, metric=await get_metric(session, kpi.metric_key), now=now)
    return reading


# ---- crossings -----------------------------------------------------------------------------------
async def _current(session: AsyncSession, kpi_id: int) -> KpiVariance | None:
    return (
        await session.scalars(
            select(KpiVariance).where(KpiVariance.kpi_id == kpi_id, KpiVariance.status.in_(CURRENT)).with_for_update()
        )
    ).one_or_none()


async def _set_status(
    session: AsyncSession,
    actor: Actor,
    row: KpiVariance,
    status: VarianceStatus,
    *,
    now: datetime,
    closes: bool,
) -> None:
    changes: dict[str, Any] = {"status": status, **({"closed_at": now} if closes else {})}
    await crud.update(session, actor=actor, obj=row, changes=changes, entity_type=VARIANCE)
    await sync_timers(session, VARIANCE, [row.id], now=now)


async def _evaluate(session: AsyncSession, *, actor: Actor, kpi: Kpi, metric: Metric, now: datetime) -> None:
    """Open a crossing when the KPI falls beyond its threshold (once: a current one is kept and
    brought up to date), close it when the KPI is back within it."""
    actual = await actual_of(session, kpi.id)
    rate, _ = variance(actual, kpi.target)
    bad = off_target(rate, kpi.warning_threshold, higher_is_better=metric.higher_is_better)
    current = await _current(session, kpi.id)
    if bad and current is None:
        assert actual is not None and rate is not None
        row = KpiVariance(
            kpi_id=kpi.id,
            campaign_id=kpi.campaign_id,
            status=VarianceStatus.open,
            actual=actual,
            variance_rate=rate,
            opened_at=now,
        )
        row = await crud.create(session, actor=actor, obj=row, entity_type=VARIANCE)
        await sync_timers(session, VARIANCE, [row.id], now=now)
    elif bad and current is not None:
        current.actual, current.variance_rate = actual, rate  # type: ignore[assignment]
        await session.flush()
    elif current is not None:
        await _set_status(session, actor, current, VarianceStatus.recovered, now=now, closes=True)


async def rectify_breached(session: AsyncSession, *, now: datetime, batch_size: int = 100) -> int:
    """Open a rectification item for every crossing whose cause is overdue (its timer breached),
    exactly once: the crossing moves to `rectifying` and keeps the item's id (unique) in the same
    transaction; concurrent workers skip locked rows. Returns how many were opened."""
    breached = select(SlaTimer.subject_id).where(
        SlaTimer.subject_type == VARIANCE.value,
        SlaTimer.state == TimerState.running,
        SlaTimer.breached_at.is_not(None),
    )
    rows = list(
        await session.scalars(
            select(KpiVariance)
            .where(
                KpiVariance.status == VarianceStatus.open,
                KpiVariance.rectification_id.is_(None),
                KpiVariance.id.in_(breached),
            )
            .order_by(KpiVariance.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    actor = Actor.system("kpi-variance")
    for row in rows:
        kpi = await session.get_one(Kpi, row.kpi_id)
        campaign = await session.get_one(Campaign, row.campaign_id)
        metric = await get_metric(session, kpi.metric_key)
        owner = kpi.owner_id if kpi.owner_id is not None else campaign.owner_id
        data = RectificationCreate.model_construct(
            title=f"{campaign.name} · {metric.name_zh} 偏差 {percent(row.variance_rate)}: 查明原因并整改"[:300],
            description=(
                f"KPI #{kpi.id} ({metric.key}) of campaign #{campaign.id}: target {kpi.target}, actual "
                f"{row.actual}, variance {percent(row.variance_rate)}; no cause was written within the "
                f"deadline. Source: /api/v1/campaigns/{campaign.id}/kpis/{kpi.id}"
            ),
            owner_id=owner,  # type: ignore[arg-type]  # no KPI or campaign owner left: an ownerless item
            campaign_id=campaign.id,
            source=RectificationSource.kpi_variance,
            source_id=row.id,
            problem=f"{metric.name_zh}: target {kpi.target}, actual {row.actual} ({percent(row.variance_rate)})",
            due_at=None,
            deadline=None,
        )
        item = await rectifications.create(session, actor=actor, data=data, now=now)
        row.rectification_id = item.id
        await _set_status(session, actor, row, VarianceStatus.rectifying, now=now, closes=False)
    return len(rows)


@on_campaign_cancelled(VARIANCE)
async def cancel_campaign_variances(
    session: AsyncSession, actor: Actor, campaign_id: int, now: datetime, reason: str
) -> int:
    """A cancelled campaign's crossings stop asking for causes. A completed one's stay: its results
    still need explaining (复盘)."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != CampaignStatus.cancelled:
        return 0
    rows = list(
        await session.scalars(
            select(KpiVariance)
            .where(KpiVariance.campaign_id == campaign_id, KpiVariance.status.in_(CURRENT))
            .with_for_update()
        )
    )
    for row in rows:
        await _set_status(session, actor, row, VarianceStatus.cancelled, now=now, closes=True)
    return len(rows)


# ---- reading back --------------------------------------------------------------------------------
async def describe(session: AsyncSession, kpis: Sequence[Kpi]) -> list[KpiRead]:
    """KPIs as the API shows them: actual, exact variance (or why there is none), the current crossing."""
    if not kpis:
        return []
    ids = [k.id for k in kpis]
    metrics = {
        m.key: m for m in await session.scalars(select(Metric).where(Metric.key.in_({k.metric_key for k in kpis})))
    }
    values = await _values(session, ids)
    currents = {
        v.kpi_id: v
        for v in await session.scalars(
            select(KpiVariance).where(KpiVariance.kpi_id.in_(ids), KpiVariance.status.in_(CURRENT))
        )
    }
    out = []
    for kpi in kpis:
        metric = metrics[kpi.metric_key]
        series = values.get(kpi.id, [])
        actual = aggregate(metric.aggregation, series)
        rate, note = variance(actual, kpi.target)
        current = currents.get(kpi.id)
        out.append(
            KpiRead(
                id=kpi.id,
                campaign_id=kpi.campaign_id,
                metric_key=kpi.metric_key,
                unit=metric.unit,
                higher_is_better=metric.higher_is_better,
                aggregation=metric.aggregation,
                target=kpi.target,
                warning_threshold=kpi.warning_threshold,
                owner_id=kpi.owner_id,
                cause=kpi.cause,
                improvement=kpi.improvement,
                readings=len(series),
                actual=actual,
                variance_rate=rate,
                variance_note=note,
                off_target=off_target(rate, kpi.warning_threshold, higher_is_better=metric.higher_is_better),
                variance=VarianceRead.model_validate(current) if current is not None else None,
                created_at=kpi.created_at,
                updated_at=kpi.updated_at,
            )
        )
    return out
