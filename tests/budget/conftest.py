"""The approvals tests' org (marketing and finance with their directors), and budget helpers."""

from __future__ import annotations

from typing import Any

from shared.workflow.defaults import BUDGET_CHANGE_RULE, LINE_OVERRUN_RULE
from tests.approvals.conftest import Org, org

__all__ = ["org"]


async def call(client, org: Org, user, method: str, path: str, expect: int = 200, **body: Any) -> Any:
    r = await client.request(method, f"/api/v1{path}", headers=org.headers(user), json=body or None)
    assert r.status_code == expect, r.text
    return r.json() if r.content else None


async def rule_named(client, org: Org, name: str) -> dict[str, Any]:
    rules = await call(client, org, org.ceo, "GET", "/approval-rules?limit=200")
    return next(r for r in rules["items"] if r["name"] == name)


async def point_dual_sign_at_directors(client, org: Org) -> None:
    """What the README asks of a new install: the seeded 双签 rules name the two directors."""
    approvers = [f"department:{org.marketing.id}", f"department:{org.finance.id}"]
    for name in (BUDGET_CHANGE_RULE, LINE_OVERRUN_RULE):
        rule = await rule_named(client, org, name)
        step = {"name": rule["steps"][0]["name"], "mode": "all", "approvers": approvers}
        await call(client, org, org.ceo, "PATCH", f"/approval-rules/{rule['id']}", steps=[step])
