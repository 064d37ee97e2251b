"""Budget lines and expenses through the API: money as strings, the approval engine deciding
expenses, paying, the budget figures, and bad input refused with nothing written."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from shared.budget.figures import campaign_cost
from shared.budget.models import BudgetLine, Expense
from shared.db import unit_of_work
from shared.models import Approval
from tests.approvals.conftest import count, decide, make_campaign
from tests.budget.conftest import call


async def _line(client, org, campaign_id: int, planned: str, category: str = "media", **extra) -> dict:
    return await call(
        client,
        org,
        org.planner,
        "POST",
        f"/campaigns/{campaign_id}/budget-lines",
        201,
        category=category,
        planned=planned,
        **extra,
    )


async def _expense(client, org, line_id: int, amount: str, user=None, expect: int = 201, **extra) -> dict:
    return await call(
        client, org, user or org.planner, "POST", "/expenses", expect, line_id=line_id, amount=amount, **extra
    )


async def test_an_expense_is_requested_approved_paid_and_counted(sessions, client, org):
    campaign = await make_campaign(sessions, org, status="active")
    media = await _line(client, org, campaign.id, "60000", name="抖音信息流")
    await _line(client, org, campaign.id, "20000", category="design")
    assert media["planned"] == "60000.00" and media["currency"] == "CNY"

    expense = await _expense(
        client, org, media["id"], "12000.50", vendor="巨量引擎", attachment_url="https://files.example/inv-1.pdf"
    )
    assert expense["status"] == "requested" and expense["amount"] == "12000.50"
    approval = await call(client, org, org.planner, "GET", f"/approvals/{expense['approval_id']}")
    assert approval["kind"] == "expense" and approval["details"]["expense_id"] == expense["id"]
    assert approval["steps"][0]["approver_ids"] == [org.marketing_director.id]  # routine: the department head

    # Requested is not committed yet.
    budget = await call(client, org, org.planner, "GET", f"/campaigns/{campaign.id}/budget")
    assert budget["lines"][0]["requested"] == "12000.50" and budget["lines"][0]["committed"] == "0.00"

    await decide(client, org, approval["id"], org.marketing_director)  # the approval's decision moves the expense
    assert (await call(client, org, org.planner, "GET", f"/expenses/{expense['id']}"))["status"] == "approved"

    await call(client, org, org.planner, "POST", f"/expenses/{expense['id']}/paid", 403)  # finance / a manager
    paid = await call(client, org, org.finance_director, "POST", f"/expenses/{expense['id']}/paid")
    assert paid["status"] == "paid" and paid["paid_by"] == org.finance_director.id
    await call(client, org, org.finance_director, "POST", f"/expenses/{expense['id']}/paid", 409)

    budget = await call(client, org, org.planner, "GET", f"/campaigns/{campaign.id}/budget")
    line = budget["lines"][0]
    assert (line["planned"], line["approved"], line["paid"], line["committed"], line["remaining"]) == (
        "60000.00",
        "0.00",
        "12000.50",
        "12000.50",
        "47999.50",
    )
    assert line["deviation"] == "-0.8000" and line["over_threshold"] is False
    totals = budget["totals"]
    assert (totals["planned"], totals["committed"], totals["remaining"]) == ("80000.00", "12000.50", "67999.50")
    assert budget["budget"] == "100000.00" and budget["currency"] == "CNY"
    async with unit_of_work(sessions) as s:
        assert await campaign_cost(s, campaign.id) == Decimal("12000.50")

    listed = await call(client, org, org.planner, "GET", f"/expenses?campaign_id={campaign.id}&status=paid")
    assert [e["id"] for e in listed["items"]] == [expense["id"]]


async def test_a_rejected_or_withdrawn_expense_commits_nothing(sessions, client, org):
    campaign = await make_campaign(sessions, org, status="active")
    line = await _line(client, org, campaign.id, "10000")
    rejected = await _expense(client, org, line["id"], "3000")
    await decide(client, org, rejected["approval_id"], org.marketing_director, "reject", reason="报价太高")
    assert (await call(client, org, org.planner, "GET", f"/expenses/{rejected['id']}"))["status"] == "rejected"
    withdrawn = await _expense(client, org, line["id"], "2000")
    await call(client, org, org.manager, "POST", f"/expenses/{withdrawn['id']}/cancel", 403, reason="x")
    done = await call(client, org, org.planner, "POST", f"/expenses/{withdrawn['id']}/cancel", reason="换供应商")
    assert done["status"] == "cancelled"
    approval = await call(client, org, org.planner, "GET", f"/approvals/{withdrawn['approval_id']}")
    assert approval["status"] == "cancelled"
    budget = await call(client, org, org.planner, "GET", f"/campaigns/{campaign.id}/budget")
    assert budget["totals"]["committed"] == "0.00" and budget["totals"]["requested"] == "0.00"
    async with unit_of_work(sessions) as s:
        assert await campaign_cost(s, campaign.id) == Decimal("0.00")


async def test_bad_input_names_the_field_and_writes_nothing(sessions, client, org):
    campaign = await make_campaign(sessions, org, status="active")
    line = await _line(client, org, campaign.id, "10000")
    for body, field in (
        ({"amount": "-5"}, "body.amount"),
        ({"amount": "0"}, "body.amount"),
        ({"amount": 12.5}, None),  # a JSON number is taken as given, but money is read back as a string
        ({"amount": "1.001"}, "body.amount"),
        ({"amount": "10", "attachment_url": "ftp://files.example/x.pdf"}, "body.attachment_url"),
        ({"amount": "10", "attachment_url": "javascript:alert(1)"}, "body.attachment_url"),
        ({"amount": "10", "line_id": 999}, "body.line_id"),
    ):
        if field is None:
            continue
        r = await client.post("/api/v1/expenses", headers=org.headers(org.planner), json={"line_id": line["id"]} | body)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["errors"][0]["field"] == field, (body, r.text)
    r = await client.post(
        f"/api/v1/campaigns/{campaign.id}/budget-lines",
        headers=org.headers(org.planner),
        json={"category": "rockets", "planned": "1"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.category"
    # The lines stay within the approved budget (100 000): a bigger plan is a budget change.
    r = await client.post(
        f"/api/v1/campaigns/{campaign.id}/budget-lines",
        headers=org.headers(org.planner),
        json={"category": "events", "planned": "90000.01"},
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.planned", r.text
    r = await client.post(
        f"/api/v1/campaigns/{campaign.id}/budget-lines",
        headers=org.headers(org.planner),
        json={"category": "events", "planned": "100", "currency": "USD"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.currency"
    # An expense approval is asked by requesting the expense, never on its own.
    r = await client.post(
        "/api/v1/approvals", headers=org.headers(org.planner), json={"kind": "expense", "campaign_id": campaign.id}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.kind", r.text
    # Someone else's campaign: only its owner or a manager plans it.
    await call(
        client, org, org.legal, "POST", f"/campaigns/{campaign.id}/budget-lines", 404, category="gifts", planned="1"
    )
    assert await count(sessions, Expense) == 0 and await count(sessions, Approval) == 0
    assert await count(sessions, BudgetLine) == 1


async def test_a_cancelled_campaign_takes_no_expenses_and_drops_the_waiting_ones(sessions, client, org):
    campaign = await call(
        client,
        org,
        org.planner,
        "POST",
        "/campaigns",
        201,
        name="春节",
        department_id=org.marketing.id,
        budget="10000",
        template_key="campaign_default",
    )
    line = await _line(client, org, campaign["id"], "10000")
    waiting = await _expense(client, org, line["id"], "500")
    await call(client, org, org.planner, "POST", f"/campaigns/{campaign['id']}/cancel")
    assert (await call(client, org, org.planner, "GET", f"/expenses/{waiting['id']}"))["status"] == "cancelled"
    problem = await _expense(client, org, line["id"], "500", expect=409)
    assert problem["errors"][0]["field"] == "campaign_id"


def test_the_expense_decision_hook_is_registered_in_the_worker_and_the_api():
    for module in ("services.worker.main", "services.api.app"):
        code = f"import {module}; from shared.approvals.hooks import _HOOKS; assert 'expense' in _HOOKS, sorted(_HOOKS)"
        subprocess.run([sys.executable, "-c", code], check=True)
