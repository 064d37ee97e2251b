"""The money formulas: exact Decimal figures, and missing inputs named instead of zeros."""

from __future__ import annotations

from decimal import Decimal as D

from shared.money.metrics import MoneyInputs, aggregate, money_metrics


def test_roi_cost_per_lead_cpa_cac_and_cltv_come_out_exactly():
    inputs = MoneyInputs(
        {
            "cost": D("400000"),
            "revenue": D("500000"),
            "leads": D("4200"),
            "conversion_rate": D("0.10"),
            "new_customers": D("350"),
            "average_order_value": D("680"),
            "purchase_frequency": D("3.5"),
            "customer_lifespan": D("2"),
        }
    )
    m = money_metrics(inputs)
    assert m["roi"].value == D("0.2500")  # (500 000 − 400 000) / 400 000 = 25 %
    assert m["cost_per_lead"].value == D("95.24")  # 400 000 / 4 200 = 95.238…
    assert m["cpa"].value == D("952.38")  # 400 000 / (4 200 × 10 %)
    assert m["cac"].value == D("1142.86")  # 400 000 / 350
    assert m["cltv"].value == D("4760.00")  # 680 × 3.5 × 2
    assert all(f.missing == () and f.reason is None for f in m.values())


def test_missing_inputs_are_named_not_zeroed():
    m = money_metrics(MoneyInputs({"cost": D("1000")}))
    assert m["roi"].value is None and m["roi"].missing == ("revenue",)
    assert m["cac"].missing == ("new_customers",)
    assert m["cpa"].missing == ("leads", "conversion_rate")
    assert m["cltv"].missing == ("cltv", "average_order_value", "purchase_frequency", "customer_lifespan")


def test_a_zero_denominator_says_why():
    m = money_metrics(MoneyInputs({"cost": D("0"), "revenue": D("10"), "leads": D("0")}))
    assert m["roi"].value is None and m["roi"].reason == "cost is 0"
    assert m["cost_per_lead"].reason == "leads is 0"


def test_a_campaigns_own_cltv_wins_over_the_formula():
    inputs = MoneyInputs({"cltv": D("5000"), "average_order_value": D("1"), "purchase_frequency": D("1")})
    assert money_metrics(inputs)["cltv"].value == D("5000.00")


def test_aggregates_add_inputs_up_and_divide_once():
    a = MoneyInputs({"cost": D("100"), "revenue": D("300"), "leads": D("10"), "conversion_rate": D("0.5")})
    b = MoneyInputs({"cost": D("300"), "revenue": D("300"), "leads": D("30")})  # no conversion rate
    total = aggregate([a, b])
    m = money_metrics(total)
    # ROI of the sum: (600 − 400) / 400 = 50 %, not the mean of 200 % and 0 %
    assert m["roi"].value == D("0.5000")
    assert m["cost_per_lead"].value == D("10.00")
    assert m["cpa"].value == D("80.00")  # 400 / (10 × 0.5): only a's conversions are known
    assert total.get("new_customers") is None and m["cac"].missing == ("new_customers",)
