"""Which metrics add up: a parent's target is the sum of its children's only for summable metrics
(counts and money). Rates, ratios, scores and unit costs do not add up — a year's conversion rate
is not the sum of its quarters' — so their children are exempt from the consistency check and
their actual does not roll up from the children."""

from __future__ import annotations

# Keys of the KPI catalogue that are averages, ratios or scores (the catalogue itself lives in
# the KPI domain; goals keep the key as text).
NON_SUMMABLE = frozenset(
    {
        "conversion_rate",
        "churn_rate",
        "retention_rate",
        "click_through_rate",
        "csat",
        "nps",
        "roi",
        "cost_per_lead",
        "cpa",
        "cac",
        "cltv",
        "average_order_value",
    }
)
NON_SUMMABLE_SUFFIXES = ("_rate", "_ratio", "_pct", "_score", "_avg", "_per_lead", "_per_customer")


def is_summable(metric: str) -> bool:
    """Counts and amounts (leads, revenue, new_customers …) add up; rates and scores do not."""
    return metric not in NON_SUMMABLE and not metric.endswith(NON_SUMMABLE_SUFFIXES)
