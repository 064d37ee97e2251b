"""Money metrics over the API: cost from committed expenses, the rest from the campaign's KPIs;
per campaign, and per department and period as one computation over the sums."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.budget.models import BudgetCategory, BudgetLine, Expense, ExpenseStatus
from shared.db import unit_of_work
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import auth, make_department, make_user


@pytest.fixture
async def world(sessions, client):
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)  # the metric catalogue
    marketing = await make_department(sessions, name="市场部")
    sales = await make_department(sessions, name="销售部")
    owner = await make_user(sessions, name="张策划", department_id=marketing.id)
    return {"headers": await auth(sessions), "marketing": marketing, "sales": sales, "owner": owner}


async def campaign(client, world, name, department, start, end, kpis) -> int:
    headers = world["headers"]
    body = {"name": name, "department_id": department.id, "start_date": start, "end_date": end, "budget": "1000000"}
    r = await client.post("/api/v1/campaigns", headers=headers, json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    for key, value in kpis.items():
        kpi = await client.post(
            f"/api/v1/campaigns/{cid}/kpis",
            headers=headers,
            json={"metric_key": key, "target": value, "owner_id": world["owner"].id},
        )
        assert kpi.status_code == 201, kpi.text
        reading = await client.post(
            f"/api/v1/campaigns/{cid}/kpis/{kpi.json()['id']}/readings", headers=headers, json={"value": value}
        )
        assert reading.status_code == 201, reading.text
    return cid


async def spend(sessions, cid, amounts):
    """Expenses in each state: only approved and paid ones are cost."""
    async with unit_of_work(sessions) as s:
        line = BudgetLine(campaign_id=cid, category=BudgetCategory.media, planned=Decimal("900000"), currency="CNY")
        s.add(line)
        await s.flush()
        for status, amount in amounts:
            s.add(
                Expense(
                    line_id=line.id,
                    campaign_id=cid,
                    amount=Decimal(amount),
                    currency="CNY",
                    status=status,
                    decided_at=datetime.now(UTC),
                )
            )


async def test_a_campaigns_roi_cpa_and_cac_come_from_its_expenses_and_kpis(client, sessions, world):
    kpis = {"revenue": "500000", "leads": "4200", "conversion_rate": "10", "new_customers": "350"}
    cid = await campaign(client, world, "双十一", world["marketing"], "2026-10-20", "2026-11-15", kpis)
    await spend(
        sessions,
        cid,
        [(ExpenseStatus.paid, "300000"), (ExpenseStatus.approved, "100000"), (ExpenseStatus.requested, "99999")],
    )
    r = await client.get(f"/api/v1/campaigns/{cid}/money", headers=world["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["inputs"]["cost"] == "400000.00"  # paid + approved; the waiting request is not cost
    assert body["inputs"]["conversion_rate"] == "0.1"  # the catalogue keeps it in %
    figures = {k: v["value"] for k, v in body["figures"].items()}
    assert figures == {
        "roi": "0.2500",
        "cost_per_lead": "95.24",
        "cpa": "952.38",
        "cac": "1142.86",
        "cltv": None,
    }
    assert body["figures"]["cltv"]["missing"] == [
        "cltv",
        "average_order_value",
        "purchase_frequency",
        "customer_lifespan",
    ]


async def test_a_department_and_period_add_campaigns_up(client, sessions, world):
    a = await campaign(
        client, world, "春季", world["marketing"], "2026-03-01", "2026-03-31", {"revenue": "300", "leads": "10"}
    )
    b = await campaign(
        client, world, "夏季", world["marketing"], "2026-06-01", "2026-06-30", {"revenue": "300", "leads": "30"}
    )
    other = await campaign(client, world, "销售季", world["sales"], "2026-03-01", "2026-03-31", {"revenue": "999999"})
    await spend(sessions, a, [(ExpenseStatus.paid, "100")])
    await spend(sessions, b, [(ExpenseStatus.paid, "300")])
    await spend(sessions, other, [(ExpenseStatus.paid, "1")])
    params = {"department_id": world["marketing"].id, "from": "2026-01-01", "to": "2026-06-30"}
    r = await client.get("/api/v1/money", headers=world["headers"], params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["campaign_ids"] == [a, b]
    assert body["figures"]["roi"]["value"] == "0.5000"  # (600 − 400) / 400, not the mean of 200 % and 0 %
    assert body["figures"]["cost_per_lead"]["value"] == "10.00"
    assert body["figures"]["cac"]["missing"] == ["new_customers"]
    q1 = await client.get("/api/v1/money", headers=world["headers"], params={**params, "to": "2026-03-31"})
    assert q1.json()["campaign_ids"] == [a]


async def test_bad_input_is_named(client, world):
    r = await client.get("/api/v1/money", headers=world["headers"], params={"from": "2026-07-01", "to": "2026-06-30"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.to"
    r = await client.get("/api/v1/money", headers=world["headers"], params={"from": "2026-13-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.from"
    assert (await client.get("/api/v1/campaigns/999999/money", headers=world["headers"])).status_code == 404
