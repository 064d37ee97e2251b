"""Campaign KPIs through the API: the editable metric catalogue, targets, readings as a time series,
the actual per the metric's aggregation and the exact variance against target — the seeds'
examples (leads 5000 → 4200 is −16 %, conversion 8 % → 10 % is +25 %) to the digit."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.kpis import service as kpis
from shared.kpis.models import KpiReading
from shared.models import Campaign, CampaignStatus

from .conftest import add_kpi, read

DEFAULT_KEYS = {
    "leads",
    "conversion_rate",
    "revenue",
    "new_customers",
    "csat",
    "nps",
    "churn_rate",
    "cost_per_lead",
    "average_order_value",
    "purchase_frequency",
    "customer_lifespan",
}


async def test_the_catalogue_is_seeded_and_only_managers_edit_it(client, org):
    r = await client.get("/api/v1/metrics", headers=org.tokens["planner"], params={"limit": 100})
    metrics = {m["key"]: m for m in r.json()["items"]}
    assert set(metrics) == DEFAULT_KEYS
    leads = metrics["leads"]
    assert (leads["name_zh"], leads["unit"], leads["higher_is_better"], leads["aggregation"]) == (
        "线索量",
        "count",
        True,
        "sum",
    )
    assert metrics["churn_rate"]["higher_is_better"] is False  # lower is better
    assert metrics["cost_per_lead"]["higher_is_better"] is False

    body = {
        "key": "roi_estimate",
        "name_zh": "预估ROI",
        "name_en": "Estimated ROI",
        "unit": "%",
        "higher_is_better": True,
        "aggregation": "latest",
    }
    assert (await client.post("/api/v1/metrics", headers=org.tokens["planner"], json=body)).status_code == 403
    created = await client.post("/api/v1/metrics", headers=org.tokens["manager"], json=body)
    assert created.status_code == 201, created.text
    again = await client.post("/api/v1/metrics", headers=org.tokens["manager"], json=body)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "body.key"
    bad = await client.post("/api/v1/metrics", headers=org.tokens["manager"], json={**body, "aggregation": "max"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.aggregation"
    changed = await client.patch(
        "/api/v1/metrics/roi_estimate", headers=org.tokens["manager"], json={"name_en": "ROI estimate"}
    )
    assert changed.status_code == 200 and changed.json()["name_en"] == "ROI estimate"
    assert (await client.get("/api/v1/metrics/nope", headers=org.tokens["planner"])).status_code == 404


async def test_leads_5000_to_4200_is_minus_16_percent_and_off_target(client, org):
    kpi = await add_kpi(client, org, metric_key="leads", target="5000")
    assert kpi["warning_threshold"] == "0.10"  # ±10 % unless set
    assert kpi["actual"] is None and kpi["variance_note"] == "no readings yet"
    got = await read(client, org, kpi, "4200", source="CRM", note="月中盘点")
    assert got["actual"] == "4200"
    assert got["variance_rate"] == "-0.16"  # exactly: a string, never a float
    assert Decimal(got["variance_rate"]) == Decimal("-0.16")
    assert got["off_target"] is True
    assert got["variance"]["status"] == "open" and got["variance"]["variance_rate"] == "-0.16"


async def test_conversion_8_to_10_percent_is_plus_25_percent_and_on_target(client, org):
    kpi = await add_kpi(client, org, metric_key="conversion_rate", target="8")
    got = await read(client, org, kpi, "10")
    assert got["variance_rate"] == "0.25"
    assert got["off_target"] is False and got["variance"] is None  # above target is good for conversion


async def test_lower_is_better_metrics_go_bad_upwards(client, org):
    kpi = await add_kpi(client, org, metric_key="churn_rate", target="5")
    got = await read(client, org, kpi, "5.4")
    assert got["variance_rate"] == "0.08" and got["off_target"] is False
    got = await read(client, org, kpi, "6")
    assert got["variance_rate"] == "0.2" and got["off_target"] is True
    assert got["variance"]["status"] == "open"


async def test_actual_follows_the_metrics_aggregation(client, org, sessions):
    leads = await add_kpi(client, org, metric_key="leads", target="5000")  # sum
    await read(client, org, leads, "2000", as_of="2025-03-01T00:00:00+08:00")
    got = await read(client, org, leads, "2200", as_of="2025-03-02T00:00:00+08:00")
    assert got["actual"] == "4200" and got["variance_rate"] == "-0.16" and got["readings"] == 2

    csat = await add_kpi(client, org, metric_key="csat", target="90")  # latest, by as-of time
    await read(client, org, csat, "92", as_of="2025-03-03T00:00:00+08:00")
    got = await read(client, org, csat, "80", as_of="2025-03-01T00:00:00+08:00")  # a late report of an old value
    assert got["actual"] == "92"

    avg = {
        "key": "response_hours",
        "name_zh": "平均响应时长",
        "name_en": "Response hours",
        "unit": "h",
        "higher_is_better": False,
        "aggregation": "avg",
    }
    assert (await client.post("/api/v1/metrics", headers=org.tokens["manager"], json=avg)).status_code == 201
    hours = await add_kpi(client, org, metric_key="response_hours", target="4")
    await read(client, org, hours, "4")
    got = await read(client, org, hours, "5")
    assert got["actual"] == "4.5" and got["variance_rate"] == "0.125" and got["off_target"] is True

    async with unit_of_work(sessions) as s:  # the service other parts (money metrics, goals) call
        actuals = await kpis.kpi_actuals(s, org.campaign.id)
        assert actuals == {"leads": Decimal("4200"), "csat": Decimal("92"), "response_hours": Decimal("4.5")}
        assert await kpis.actual_of(s, leads["id"]) == Decimal("4200")

    listed = await client.get(org.kpis_url, headers=org.tokens["outsider"])
    assert listed.status_code == 404  # another department's campaign: its KPIs are not seen either
    series = await client.get(f"{org.kpis_url}/{leads['id']}/readings", headers=org.tokens["outsider"])
    assert series.status_code == 404
    series = await client.get(f"{org.kpis_url}/{leads['id']}/readings", headers=org.tokens["planner"])
    assert [r["value"] for r in series.json()["items"]] == ["2000", "2200"]


async def test_a_zero_target_has_no_rate_and_says_why(client, org):
    kpi = await add_kpi(client, org, metric_key="new_customers", target="0")
    got = await read(client, org, kpi, "12")
    assert got["actual"] == "12" and got["variance_rate"] is None
    assert got["variance_note"] == "the target is 0: a rate against it is undefined"
    assert got["off_target"] is False and got["variance"] is None


async def test_money_targets_stay_exact_strings(client, org):
    kpi = await add_kpi(client, org, metric_key="revenue", target="2000000.50")
    assert kpi["target"] == "2000000.50"
    got = await read(client, org, kpi, "1850000.25")
    assert got["actual"] == "1850000.25"
    assert Decimal(got["variance_rate"]) == (Decimal("1850000.25") - Decimal("2000000.50")) / Decimal("2000000.50")
    # Round millions come back as written, not as the driver's "2.00E+6".
    round_kpi = await add_kpi(client, org, metric_key="leads", target="2000000")
    assert round_kpi["target"] == "2000000"
    again = await read(client, org, round_kpi, "3000000")
    assert (again["target"], again["actual"]) == ("2000000", "3000000")


async def _count_readings(sessions) -> int:
    async with unit_of_work(sessions) as s:
        return await s.scalar(select(func.count()).select_from(KpiReading)) or 0


async def test_bad_input_names_the_field_and_writes_nothing(client, org, sessions):
    h = org.tokens["manager"]
    cases = [
        ({"metric_key": "leads", "target": "abc", "owner_id": org.planner.id}, "body.target"),
        ({"metric_key": "leads", "target": 1.5e300, "owner_id": org.planner.id}, "body.target"),
        (
            {"metric_key": "leads", "target": "5000", "warning_threshold": "-0.1", "owner_id": org.planner.id},
            "body.warning_threshold",
        ),
        ({"metric_key": "leads", "target": "5000", "owner_id": 999_999}, "body.owner_id"),
        ({"metric_key": "gmv", "target": "5000", "owner_id": org.planner.id}, "body.metric_key"),
        ({"metric_key": "leads", "target": "5000"}, "body.owner_id"),
    ]
    for body, field in cases:
        r = await client.post(org.kpis_url, headers=h, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
    assert (await client.get(org.kpis_url, headers=h)).json()["items"] == []

    kpi = await add_kpi(client, org, metric_key="leads", target="5000")
    dup = await client.post(
        org.kpis_url, headers=h, json={"metric_key": "leads", "target": "1", "owner_id": org.planner.id}
    )
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "body.metric_key"
    url = f"{org.kpis_url}/{kpi['id']}/readings"
    for body, field in (
        ({"value": "many"}, "body.value"),
        ({"value": "1", "as_of": "2025-03-01T00:00:00"}, "body.as_of"),  # no offset: ambiguous
        ({"value": "1", "colour": "red"}, "body.colour"),
    ):
        r = await client.post(url, headers=h, json=body)
        assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]], (body, r.text)
    assert await _count_readings(sessions) == 0
    assert (await client.post(url, headers=org.tokens["outsider"], json={"value": "1"})).status_code == 404
    assert (
        await client.post(f"/api/v1/campaigns/{org.campaign.id}/kpis/999/readings", headers=h, json={"value": "1"})
    ).status_code == 404


async def test_no_readings_on_a_cancelled_campaign(client, org, sessions):
    kpi = await add_kpi(client, org, metric_key="leads", target="5000")
    async with unit_of_work(sessions) as s:
        (await s.get_one(Campaign, org.campaign.id)).status = CampaignStatus.cancelled
    r = await client.post(f"{org.kpis_url}/{kpi['id']}/readings", headers=org.tokens["planner"], json={"value": "4200"})
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "campaign_id"
    assert await _count_readings(sessions) == 0
    new = await client.post(
        org.kpis_url,
        headers=org.tokens["manager"],
        json={"metric_key": "csat", "target": "90", "owner_id": org.planner.id},
    )
    assert new.status_code == 409 and new.json()["errors"][0]["field"] == "campaign_id"


async def test_changing_a_metrics_aggregation_judges_its_kpis_again(client, org):
    kpi = await add_kpi(client, org, metric_key="leads", target="5000")
    await read(client, org, kpi, "2500", as_of="2025-03-01T00:00:00+08:00")
    got = await read(client, org, kpi, "2500", as_of="2025-03-02T00:00:00+08:00")
    assert got["actual"] == "5000" and got["variance"] is None  # summed: on target
    r = await client.patch("/api/v1/metrics/leads", headers=org.tokens["manager"], json={"aggregation": "latest"})
    assert r.status_code == 200, r.text
    got = (await client.get(f"{org.kpis_url}/{kpi['id']}", headers=org.tokens["planner"])).json()
    assert got["actual"] == "2500" and got["variance_rate"] == "-0.5"
    assert got["variance"]["status"] == "open"  # the new reading of the numbers is a crossing
    nulled = await client.patch("/api/v1/metrics/leads", headers=org.tokens["manager"], json={"unit": None})
    assert nulled.status_code == 422 and nulled.json()["errors"][0]["field"] == "body.unit"
