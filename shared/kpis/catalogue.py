"""The metrics every install starts with (seeded once by key; managers edit the catalogue)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.kpis.models import Aggregation, Metric
from shared.kpis.schemas import MetricCreate


class MetricKey:
    """Keys other domains read (money metrics: ROI, CAC, CLTV) — one spelling."""

    leads = "leads"
    conversion_rate = "conversion_rate"
    revenue = "revenue"
    new_customers = "new_customers"
    csat = "csat"
    nps = "nps"
    churn_rate = "churn_rate"
    cost_per_lead = "cost_per_lead"
    average_order_value = "average_order_value"
    purchase_frequency = "purchase_frequency"
    customer_lifespan = "customer_lifespan"


def _m(key: str, zh: str, en: str, unit: str, higher: bool, aggregation: Aggregation) -> dict[str, Any]:
    return {
        "key": key,
        "name_zh": zh,
        "name_en": en,
        "unit": unit,
        "higher_is_better": higher,
        "aggregation": aggregation,
    }


DEFAULT_METRICS: tuple[dict[str, Any], ...] = (
    _m(MetricKey.leads, "线索量", "Leads", "count", True, Aggregation.sum),
    _m(MetricKey.conversion_rate, "转化率", "Conversion rate", "%", True, Aggregation.latest),
    _m(MetricKey.revenue, "销售额", "Revenue", "CNY", True, Aggregation.sum),
    _m(MetricKey.new_customers, "新客户数", "New customers", "count", True, Aggregation.sum),
    _m(MetricKey.csat, "客户满意度", "CSAT", "%", True, Aggregation.latest),
    _m(MetricKey.nps, "净推荐值", "NPS", "score", True, Aggregation.latest),
    _m(MetricKey.churn_rate, "客户流失率", "Churn rate", "%", False, Aggregation.latest),
    _m(MetricKey.cost_per_lead, "单条线索成本", "Cost per lead", "CNY", False, Aggregation.latest),
    _m(MetricKey.average_order_value, "客单价", "Average order value", "CNY", True, Aggregation.latest),
    _m(MetricKey.purchase_frequency, "购买频次", "Purchase frequency", "per year", True, Aggregation.latest),
    _m(MetricKey.customer_lifespan, "客户生命周期", "Customer lifespan", "years", True, Aggregation.latest),
)


async def ensure_default_metrics(session: AsyncSession) -> None:
    """Seed the default catalogue once, by key (edited or added metrics are left alone)."""
    have = set(await session.scalars(select(Metric.key)))
    for raw in DEFAULT_METRICS:
        if raw["key"] not in have:
            session.add(Metric(**MetricCreate.model_validate(raw).model_dump()))
    await session.flush()
