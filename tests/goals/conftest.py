"""The approvals org (市场部 with its head 王总监, 财务部, a CEO and CMO above them) plus goal helpers."""

from __future__ import annotations

from typing import Any

from shared.models import User
from tests.approvals.conftest import Org, decide, org  # the org fixture, re-used

YEAR = {"metric": "leads", "period": "2026"}


async def goal(client, org: Org, user: User | None = None, expect: int = 201, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/goals", headers=org.headers(user or org.marketing_director), json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def get(client, org: Org, goal_id: int, path: str = "") -> Any:
    r = await client.get(f"/api/v1/goals/{goal_id}{path}", headers=org.headers(org.planner))
    assert r.status_code == 200, r.text
    return r.json()


async def ask_approval(client, org: Org, goal_id: int, user: User | None = None, expect: int = 200) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/goals/{goal_id}/approval", headers=org.headers(user or org.manager), json={"reason": "Q plan"}
    )
    assert r.status_code == expect, r.text
    return r.json()


async def approval_of(client, org: Org, approval_id: int) -> dict[str, Any]:
    r = await client.get(f"/api/v1/approvals/{approval_id}", headers=org.headers(org.planner))
    assert r.status_code == 200, r.text
    return r.json()


def fields(problem: dict[str, Any]) -> list[str]:
    return [e["field"] for e in problem["errors"]]


__all__ = ["YEAR", "Org", "approval_of", "ask_approval", "decide", "fields", "get", "goal", "org"]
