"""A KPI's variance beyond its threshold as an SLA subject (`kpi_variance`): owed by the KPI owner,
who must write a cause within 2 working days. The escalation's first level (at the crossing) is the
alert to the KPI owner and the campaign owner; meeting the timer (a cause, or recovery) sends them
the resolved notice; a breach makes the worker open a rectification item (`service.rectify_breached`)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.campaigns.sla import CampaignItem
from shared.kpis.models import Kpi, KpiVariance, Metric, VarianceStatus
from shared.models import Campaign, User
from shared.sla.registry import SubjectContext, SubjectSpec, TrailLink, register


class KpiSubject(StrEnum):
    kpi_variance = "kpi_variance"


def percent(rate: Decimal) -> str:
    """-0.16 → "-16%", -0.21666… → "-21.67%": for people (the API keeps the exact rate)."""
    value = (rate * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    text = f"{value:f}"
    return f"+{text}%" if value > 0 else f"{text}%"


async def load_variances(session: AsyncSession, ids: Iterable[int]) -> dict[int, SubjectContext]:
    rows = await session.execute(
        select(
            KpiVariance.id,
            KpiVariance.status,
            KpiVariance.variance_rate,
            Kpi.id.label("kpi_id"),
            Kpi.owner_id,
            Kpi.campaign_id,
            Metric.name_zh,
            Campaign.name.label("campaign_name"),
            Campaign.department_id.label("campaign_department_id"),
            User.department_id,
        )
        .join(Kpi, Kpi.id == KpiVariance.kpi_id)
        .join(Metric, Metric.key == Kpi.metric_key)
        .join(Campaign, Campaign.id == Kpi.campaign_id)
        .outerjoin(User, User.id == Kpi.owner_id)
        .where(KpiVariance.id.in_(list(ids)))
    )
    return {
        r.id: SubjectContext(
            type=KpiSubject.kpi_variance,
            id=r.id,
            title=f"{r.campaign_name} · {r.name_zh} {percent(r.variance_rate)}",
            status=str(r.status),
            path=f"/api/v1/campaigns/{r.campaign_id}/kpis/{r.kpi_id}",
            assignee_id=r.owner_id,
            department_id=r.department_id or r.campaign_department_id,
            campaign_id=r.campaign_id,
        )
        for r in rows
    }


KPI_VARIANCE_ESCALATION: dict[str, Any] = {
    "name": "指标偏差预警 KPI variance alert",
    "description": "at the crossing: alert the KPI owner and the campaign owner; no cause in time → both again",
    "levels": [
        # -100 % of the span: the crossing itself (or the next working moment after it).
        {"offset": "-100%", "recipients": ["assignee", "campaign_owner"]},
        {"offset": "0", "recipients": ["assignee", "campaign_owner"]},
    ],
}

KPI_VARIANCE = register(
    SubjectSpec(
        type=KpiSubject.kpi_variance,
        load=load_variances,
        statuses=tuple(VarianceStatus),
        labels={"zh-CN": "指标偏差", "en-US": "KPI variance"},
        trail=(TrailLink(CampaignItem.campaign, KpiVariance.campaign_id),),
        default_start=(VarianceStatus.open,),
        default_stop=(VarianceStatus.explained, VarianceStatus.recovered),
        default_cancel=(VarianceStatus.rectifying, VarianceStatus.cancelled),
        default_policies=(
            (
                KPI_VARIANCE_ESCALATION,
                {
                    "name": "指标偏差原因 KPI variance cause",
                    "description": "a cause for a KPI variance beyond its threshold within 2 working days",
                    "target_kind": "working_days",
                    "target_value": "2",
                    "start_statuses": [VarianceStatus.open],
                    "stop_statuses": [VarianceStatus.explained, VarianceStatus.recovered],
                    "cancel_statuses": [VarianceStatus.rectifying, VarianceStatus.cancelled],
                },
            ),
        ),
    )
)
