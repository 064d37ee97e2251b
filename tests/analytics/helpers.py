"""Shared by the analytics tests: read a table, as JSON or CSV."""

from __future__ import annotations

from typing import Any

T_OCT = "period=2026-10"


async def table(client: Any, headers: dict[str, str], path: str, query: str = T_OCT) -> dict[str, Any]:
    r = await client.get(f"/api/v1/analytics/{path}?{query}", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"filters", "definitions", "columns", "rows"}
    assert all(list(row) == body["columns"] for row in body["rows"])
    return body


def by(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: row for row in rows}
