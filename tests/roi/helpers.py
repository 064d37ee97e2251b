"""Helpers of the ROI estimate tests: move the clock and sweep, call the API as someone, read what fired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import Escalation, SlaTimer
from shared.sla.engine import sweep_due_timers

T = datetime.fromisoformat
T0 = "2025-03-04T10:00:00+08:00"  # a Tuesday
REPORT = {
    "document_url": "https://docs.example.com/618-roi.xlsx",
    "expected_revenue": "1200000.00",
    "expected_cost": "300000.00",
}


def at(clock: Any, iso: str) -> datetime:
    clock.set(T(iso))
    return clock.now()


async def sweep(sessions: Any, clock: Any, iso: str) -> int:
    at(clock, iso)
    async with unit_of_work(sessions) as s:
        return (await sweep_due_timers(s, now=clock.now(), batch_size=100)).fired


async def escalations(sessions: Any, estimate_id: int) -> list[Escalation]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(Escalation)
                .where(Escalation.subject_type == "roi_estimate", Escalation.subject_id == estimate_id)
                .order_by(Escalation.id)
            )
        )


async def timers(sessions: Any, estimate_id: int) -> list[SlaTimer]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(SlaTimer)
                .where(SlaTimer.subject_type == "roi_estimate", SlaTimer.subject_id == estimate_id)
                .order_by(SlaTimer.id)
            )
        )


async def call(client: Any, org: dict[str, Any], who: str, method: str, path: str, expect: int = 200, **body: Any):
    r = await client.request(method, f"/api/v1{path}", headers=org["tokens"][who], json=body or None)
    assert r.status_code == expect, r.text
    return r.json() if r.content else None


async def promotion(client: Any, org: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return await call(
        client,
        org,
        "owner",
        "POST",
        "/campaigns",
        expect=201,
        name="618大促",
        department_id=org["dept"].id,
        is_big_promotion=True,
        **extra,
    )


async def finish(client: Any, org: dict[str, Any], campaign_id: int, key: str, deliverable: str, ticks: list[str]):
    base = f"/campaigns/{campaign_id}/stages/{key}"
    await call(
        client, org, "owner", "POST", f"{base}/deliverables", expect=201, title=deliverable, deliverable_key=deliverable
    )
    for item in ticks:
        await call(client, org, "owner", "PUT", f"{base}/checklist/{item}", done=True, note="见附件")
