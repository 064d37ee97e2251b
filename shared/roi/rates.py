"""ROI = (revenue − cost) / cost, exactly, in Decimal — never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

PLACES = Decimal("0.0001")


def roi(revenue: Decimal | None, cost: Decimal | None) -> Decimal | None:
    """(revenue − cost) / cost to 4 decimal places (half-even); None when an input is missing or
    the cost is 0 (no ratio to speak of)."""
    if revenue is None or cost is None or cost == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 50  # far beyond NUMERIC(14, 2) inputs: only the final quantize rounds
        return ((revenue - cost) / cost).quantize(PLACES, rounding=ROUND_HALF_EVEN)
