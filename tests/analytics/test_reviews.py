"""Cross-department review feedback delay per reviewing department, and the communications between
departments (reviews and their rounds, collaboration requests and their occurrences)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from shared.db import unit_of_work
from shared.models import (
    CollaborationOccurrence,
    CollaborationRequest,
    ResponseStatus,
    ReviewDecision,
    ReviewRequest,
    ReviewResponse,
    Role,
)
from tests.analytics.helpers import by, table
from tests.factories import auth, make_department, make_user

T = datetime.fromisoformat


@pytest.fixture
async def exchanges(sessions, clock):
    clock.set(T("2026-10-20T12:00:00+08:00"))
    market = await make_department(sessions, name="市场部")
    sales = await make_department(sessions, name="销售部")
    product = await make_department(sessions, name="产品部")
    pm = await make_user(sessions, name="王产品", department_id=product.id)
    async with unit_of_work(sessions) as s:
        review = ReviewRequest(
            title="双十一方案评审",
            department_id=market.id,
            round=2,
            reviewers=[{"department_id": sales.id}, {"user_id": pm.id}, {"department_id": market.id}],
            response_target={"kind": "calendar", "value": "PT24H"},
        )
        s.add(review)
        await s.flush()
        answered, pending = ResponseStatus.answered, ResponseStatus.pending
        for rnd, dept, user, status, asked, answer in (
            (1, sales.id, None, answered, "2026-10-09T10:00", "2026-10-10T10:00"),  # 24 h: within
            (2, sales.id, None, answered, "2026-10-12T09:00", "2026-10-12T15:00"),  # 6 h
            (1, None, pm.id, answered, "2026-10-09T10:00", "2026-10-12T10:00"),  # 72 h, a named reviewer
            (2, None, pm.id, pending, "2026-10-12T09:00", None),  # still waiting
            (1, market.id, None, answered, "2026-10-09T10:00", "2026-10-09T11:00"),  # its own department
            (1, sales.id, None, ResponseStatus.cancelled, "2026-09-30T10:00", None),  # September
        ):
            s.add(
                ReviewResponse(
                    review_id=review.id,
                    round=rnd,
                    department_id=dept,
                    user_id=user,
                    status=status,
                    decision=ReviewDecision.approve if answer else None,
                    requested_at=T(f"{asked}:00+08:00"),
                    answered_at=T(f"{answer}:00+08:00") if answer else None,
                )
            )
        request = CollaborationRequest(
            matter="每日销量同步",
            initiating_department_id=sales.id,
            collaborating_department_ids=[market.id, product.id],
            deadline_kind="daily_at",
            deadline_value="18:00",
            created_at=T("2026-10-09T09:00:00+08:00"),
        )
        s.add(request)
        await s.flush()
        for day in (date(2026, 9, 30), date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 12)):
            s.add(
                CollaborationOccurrence(
                    request_id=request.id,
                    occurrence_date=day,
                    opened_at=T(f"{day.isoformat()}T09:00:00+08:00"),
                    due_at=T(f"{day.isoformat()}T18:00:00+08:00"),
                )
            )
    return {"market": market, "sales": sales, "product": product, "headers": await auth(sessions, Role.director)}


async def test_review_delay_per_reviewing_department_in_wall_clock_hours(client, exchanges):
    rows = by((await table(client, exchanges["headers"], "review-delay"))["rows"], "department")
    assert set(rows) == {"销售部", "产品部"}  # 市场部 reviewed its own request: not cross-department
    assert rows["销售部"] == {
        "department_id": exchanges["sales"].id,
        "department": "销售部",
        "answered": 2,
        "waiting": 0,
        "mean_hours": 15.0,
        "p90_hours": 22.2,  # 6 + 0.9 × 18
        "share_within_24h": 1.0,
    }
    product = rows["产品部"]  # a named reviewer counts for their own department
    assert (product["answered"], product["waiting"], product["mean_hours"], product["p90_hours"]) == (1, 1, 72.0, 72.0)
    assert product["share_within_24h"] == 0.0
    only = await table(
        client, exchanges["headers"], "review-delay", f"period=2026-10&department_id={exchanges['product'].id}"
    )
    assert [r["department"] for r in only["rows"]] == ["产品部"]


async def test_communications_per_department_pair(client, exchanges):
    body = await table(client, exchanges["headers"], "communications")
    pairs = by(body["rows"], "from_department", "to_department")
    assert set(pairs) == {("市场部", "销售部"), ("市场部", "产品部"), ("销售部", "市场部"), ("销售部", "产品部")}
    assert {k: v for k, v in pairs["市场部", "销售部"].items() if not k.endswith("_id")} == {
        "from_department": "市场部",
        "to_department": "销售部",
        "reviews": 1,
        "review_rounds": 2,
        "collaboration_requests": 0,
        "collaboration_occurrences": 0,
        "communications": 2,
    }
    assert (pairs["市场部", "产品部"]["review_rounds"], pairs["市场部", "产品部"]["communications"]) == (2, 2)
    sales_to_market = pairs["销售部", "市场部"]
    assert (
        sales_to_market["reviews"],
        sales_to_market["collaboration_requests"],
        sales_to_market["collaboration_occurrences"],
        sales_to_market["communications"],
    ) == (0, 1, 3, 3)  # Sep 30's occurrence is September's
    sales_only = await table(
        client, exchanges["headers"], "communications", f"period=2026-10&department_id={exchanges['sales'].id}"
    )
    assert {(r["from_department"], r["to_department"]) for r in sales_only["rows"]} == {
        ("市场部", "销售部"),
        ("销售部", "市场部"),
        ("销售部", "产品部"),
    }
