"""The formulas, pure: inputs in, figures out. Each figure says which inputs were missing (or why it
cannot be computed) instead of inventing a zero.

- cost = committed spend (approved + paid expenses)
- ROI = (revenue − cost) / cost (seed 000: ROI=(收入-成本)/成本)
- cost per lead = cost / leads
- CPA (cost per acquisition) = cost / conversions, conversions = leads × conversion rate (a
  fraction here: 10 % is 0.10; an aggregate sums each campaign's conversions)
- CAC (customer acquisition cost) = cost / new customers
- CLTV = the campaign's own `cltv` input, else average order value × purchase frequency × customer lifespan

Ratios are exact Decimal divisions rounded half-even to 4 decimal places (ROI 0.2500 = 25 %), money
to 2 (fen). Aggregates (a department, a period) add up the inputs first and divide once: the ROI of
two campaigns is not the mean of their ROIs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from shared.roi import rates

RATIO = Decimal("0.0001")
MONEY = Decimal("0.01")
# The inputs, by the KPI catalogue's metric keys (plus cost from the budget).
INPUTS = (
    "cost",
    "revenue",
    "leads",
    "conversion_rate",
    "new_customers",
    "cltv",
    "average_order_value",
    "purchase_frequency",
    "customer_lifespan",
)
# Inputs that add up across campaigns (rates and per-customer values do not).
SUMMABLE = ("cost", "revenue", "leads", "new_customers")


@dataclass(frozen=True)
class Figure:
    value: Decimal | None
    missing: tuple[str, ...] = ()  # inputs that were not there
    reason: str | None = None  # why it could not be computed although the inputs were there

    def as_dict(self) -> dict[str, object]:
        return {"value": self.value, "missing": list(self.missing), "reason": self.reason}


@dataclass(frozen=True)
class MoneyInputs:
    values: dict[str, Decimal | None] = field(default_factory=dict)

    def get(self, key: str) -> Decimal | None:
        return self.values.get(key)


def _missing(inputs: MoneyInputs, *keys: str) -> tuple[str, ...]:
    return tuple(k for k in keys if inputs.get(k) is None)


def _per(numerator: Decimal, denominator: Decimal, quantum: Decimal, what: str) -> Figure:
    if denominator == 0:
        return Figure(None, reason=f"{what} is 0")
    return Figure((numerator / denominator).quantize(quantum, ROUND_HALF_EVEN))


def roi(inputs: MoneyInputs) -> Figure:
    if missing := _missing(inputs, "revenue", "cost"):
        return Figure(None, missing)
    revenue, cost = inputs.get("revenue"), inputs.get("cost")
    if cost == 0:
        return Figure(None, reason="cost is 0")
    return Figure(rates.roi(revenue, cost))  # the one ROI formula (shared.roi.rates)


def cost_per_lead(inputs: MoneyInputs) -> Figure:
    if missing := _missing(inputs, "cost", "leads"):
        return Figure(None, missing)
    cost, leads = inputs.get("cost"), inputs.get("leads")
    assert cost is not None and leads is not None
    return _per(cost, leads, MONEY, "leads")


def conversions(inputs: MoneyInputs) -> Decimal | None:
    """Given (an aggregate's sum), else leads × conversion rate."""
    given = inputs.get("conversions")
    if given is not None:
        return given
    leads, rate = inputs.get("leads"), inputs.get("conversion_rate")
    return leads * rate if leads is not None and rate is not None else None


def cpa(inputs: MoneyInputs) -> Figure:
    converted = conversions(inputs)
    if converted is None:
        return Figure(None, _missing(inputs, "cost") + (_missing(inputs, "leads", "conversion_rate")))
    if missing := _missing(inputs, "cost"):
        return Figure(None, missing)
    cost = inputs.get("cost")
    assert cost is not None
    return _per(cost, converted, MONEY, "conversions (leads × conversion rate)")


def cac(inputs: MoneyInputs) -> Figure:
    if missing := _missing(inputs, "cost", "new_customers"):
        return Figure(None, missing)
    cost, customers = inputs.get("cost"), inputs.get("new_customers")
    assert cost is not None and customers is not None
    return _per(cost, customers, MONEY, "new customers")


def cltv(inputs: MoneyInputs) -> Figure:
    given = inputs.get("cltv")
    if given is not None:
        return Figure(given.quantize(MONEY, ROUND_HALF_EVEN))
    parts = ("average_order_value", "purchase_frequency", "customer_lifespan")
    if missing := _missing(inputs, *parts):
        return Figure(None, ("cltv", *missing))
    aov, frequency, lifespan = (inputs.get(k) for k in parts)
    assert aov is not None and frequency is not None and lifespan is not None
    return Figure((aov * frequency * lifespan).quantize(MONEY, ROUND_HALF_EVEN))


FORMULAS = {"roi": roi, "cpa": cpa, "cost_per_lead": cost_per_lead, "cac": cac, "cltv": cltv}


def money_metrics(inputs: MoneyInputs) -> dict[str, Figure]:
    """Every figure for one set of inputs (a campaign, or an aggregate)."""
    return {name: formula(inputs) for name, formula in FORMULAS.items()}


def aggregate(parts: Iterable[MoneyInputs]) -> MoneyInputs:
    """Campaigns added up: summable inputs (and each campaign's conversions) are summed over the
    campaigns that have them — an input no campaign has stays missing; rates and per-customer
    values do not add up and are left out."""
    items = list(parts)
    totals: dict[str, Decimal | None] = {}
    for key in SUMMABLE:
        present = [v for p in items if (v := p.get(key)) is not None]
        totals[key] = sum(present, Decimal(0)) if present else None
    converted = [v for p in items if (v := conversions(p)) is not None]
    totals["conversions"] = sum(converted, Decimal(0)) if converted else None
    return MoneyInputs(totals)
