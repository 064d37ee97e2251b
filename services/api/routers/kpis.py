"""The metric catalogue and campaign KPIs: targets, readings, exact variance against target."""

from __future__ import annotations

from fastapi import status
from sqlalchemy import select

from services.api import versions
from services.api.common import CursorQ, LimitQ, PageOut, page_out, reject_nulls
from services.api.deps import ActorDep, ManagerDep, NowDep, SessionDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared.access import policy as access
from shared.campaigns.sla import CampaignItem
from shared.kpis import service as kpis
from shared.kpis.models import Kpi, KpiReading, Metric
from shared.kpis.schemas import (
    KpiCreate,
    KpiRead,
    KpiUpdate,
    MetricCreate,
    MetricRead,
    MetricUpdate,
    ReadingCreate,
    ReadingRead,
)
from shared.pagination import paginate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["kpis"])

_METRIC = versions.row(Metric, key="key")  # where its version (ETag) is
_KPI = versions.row(Kpi, id="kpi_id", campaign_id="campaign_id")  # where its version (ETag) is


# ---- the metric catalogue ------------------------------------------------------------------------
@router.get("/metrics", response_model=PageOut[MetricRead], operation_id="listMetrics")
async def list_metrics(session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None) -> dict:
    """The metric catalogue: key, names, unit, good direction and aggregation."""
    page = await paginate(session, select(Metric), Metric.id, limit=limit, cursor=cursor)
    return page_out(page, MetricRead)


@router.post(
    "/metrics",
    status_code=status.HTTP_201_CREATED,
    response_model=MetricRead,
    operation_id="createMetric",
    responses=CONFLICT,
)
async def create_metric(body: MetricCreate, session: SessionDep, actor: ManagerDep) -> Metric:
    """Add a metric to the catalogue (managers)."""
    return await kpis.create_metric(session, actor=actor, data=body)


@router.get(
    "/metrics/{key}",
    dependencies=[versions.reads(_METRIC)],
    response_model=MetricRead,
    operation_id="getMetric",
    responses=NOT_FOUND,
)
async def get_metric(key: str, session: SessionDep, actor: ActorDep) -> Metric:
    """One metric of the catalogue."""
    return await kpis.get_metric(session, key)


@router.patch(
    "/metrics/{key}",
    dependencies=[versions.writes(_METRIC)],
    response_model=MetricRead,
    operation_id="updateMetric",
    responses=NOT_FOUND,
)
async def update_metric(key: str, body: MetricUpdate, session: SessionDep, actor: ManagerDep, now: NowDep) -> Metric:
    """Change a metric (managers); the KPIs on it are judged again."""
    reject_nulls(body.model_dump(exclude_unset=True), tuple(MetricUpdate.model_fields))
    return await kpis.update_metric(session, actor=actor, key=key, changes=body, now=now)


# ---- a campaign's KPIs ---------------------------------------------------------------------------
@router.get(
    "/campaigns/{campaign_id}/kpis",
    response_model=PageOut[KpiRead],
    operation_id="listCampaignKpis",
    responses=NOT_FOUND,
)
async def list_kpis(
    campaign_id: int, session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None
) -> dict:
    """A campaign's KPIs, each with its actual, its exact variance against target and any open crossing."""
    await access.require_read(session, actor, CampaignItem.campaign, campaign_id)
    stmt = select(Kpi).where(Kpi.campaign_id == campaign_id)
    page = await paginate(session, stmt, Kpi.id, limit=limit, cursor=cursor)
    return {"items": await kpis.describe(session, list(page.items)), "next_cursor": page.next_cursor}


@router.post(
    "/campaigns/{campaign_id}/kpis",
    status_code=status.HTTP_201_CREATED,
    response_model=KpiRead,
    operation_id="createCampaignKpi",
    responses={**NOT_FOUND, **CONFLICT},
)
async def create_kpi(campaign_id: int, body: KpiCreate, session: SessionDep, actor: WriterDep, now: NowDep) -> KpiRead:
    """Give the campaign a KPI: a metric of the catalogue, its target, warning threshold and owner."""
    await access.require_write(session, actor, CampaignItem.campaign, campaign_id)
    kpi = await kpis.create_kpi(session, actor=actor, campaign_id=campaign_id, data=body, now=now)
    return (await kpis.describe(session, [kpi]))[0]


@router.get(
    "/campaigns/{campaign_id}/kpis/{kpi_id}",
    dependencies=[versions.reads(_KPI)],
    response_model=KpiRead,
    operation_id="getCampaignKpi",
    responses=NOT_FOUND,
)
async def get_kpi(campaign_id: int, kpi_id: int, session: SessionDep, actor: ActorDep) -> KpiRead:
    """One KPI with its actual and variance."""
    await access.require_read(session, actor, access.Kind.kpi, kpi_id)
    return (await kpis.describe(session, [await kpis.get_kpi(session, campaign_id, kpi_id)]))[0]


@router.patch(
    "/campaigns/{campaign_id}/kpis/{kpi_id}",
    dependencies=[versions.writes(_KPI)],
    response_model=KpiRead,
    operation_id="updateCampaignKpi",
    responses=NOT_FOUND,
)
async def update_kpi(
    campaign_id: int, kpi_id: int, body: KpiUpdate, session: SessionDep, actor: WriterDep, now: NowDep
) -> KpiRead:
    """Change target, threshold, owner, cause or improvement; a cause answers an open variance."""
    await access.require_write(session, actor, access.Kind.kpi, kpi_id)
    reject_nulls(body.model_dump(exclude_unset=True), ("target", "warning_threshold", "owner_id"))
    kpi = await kpis.update_kpi(session, actor=actor, campaign_id=campaign_id, kpi_id=kpi_id, changes=body, now=now)
    return (await kpis.describe(session, [kpi]))[0]


@router.post(
    "/campaigns/{campaign_id}/kpis/{kpi_id}/readings",
    status_code=status.HTTP_201_CREATED,
    response_model=ReadingRead,
    operation_id="addKpiReading",
    responses={**NOT_FOUND, **CONFLICT},
)
async def add_reading(
    campaign_id: int, kpi_id: int, body: ReadingCreate, session: SessionDep, actor: WriterDep, now: NowDep
) -> KpiReading:
    """Record a reading; beyond the warning threshold it alerts the KPI owner and the campaign owner."""
    await access.require_write(session, actor, access.Kind.kpi, kpi_id)
    return await kpis.add_reading(session, actor=actor, campaign_id=campaign_id, kpi_id=kpi_id, data=body, now=now)


@router.get(
    "/campaigns/{campaign_id}/kpis/{kpi_id}/readings",
    response_model=PageOut[ReadingRead],
    operation_id="listKpiReadings",
    responses=NOT_FOUND,
)
async def list_readings(
    campaign_id: int, kpi_id: int, session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None
) -> dict:
    """The KPI's readings, oldest recorded first."""
    await access.require_read(session, actor, access.Kind.kpi, kpi_id)
    await kpis.get_kpi(session, campaign_id, kpi_id)
    stmt = select(KpiReading).where(KpiReading.kpi_id == kpi_id)
    return page_out(await paginate(session, stmt, KpiReading.id, limit=limit, cursor=cursor), ReadingRead)
