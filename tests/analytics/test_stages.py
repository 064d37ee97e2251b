"""Stage and campaign cycle times in working days across National Day 2026 (Oct 1–7 off, Saturday
Oct 10 a make-up workday), driven through the workflow API so the stored `cycle_wd` / `limit_wd`
are the product's; the bottleneck ranking; the same table as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest

from shared.models import Role
from tests.analytics.helpers import by, table
from tests.factories import auth, make_department, make_user

T = datetime.fromisoformat

QUICK = {
    "key": "quick",
    "name": "快速活动",
    "stages": [
        {"key": "draft", "name": "方案起草", "time_limit": {"kind": "working_days", "value": "3"}},
        {"key": "launch", "name": "上线执行", "time_limit": {"kind": "calendar", "value": "P7D"}},
    ],
}


class Flow:
    def __init__(self, client: Any, clock: Any, headers: dict[str, str], owner_id: int, department_id: int) -> None:
        self.client, self.clock, self.headers = client, clock, headers
        self.owner_id, self.department_id = owner_id, department_id

    async def start(self, at: str, name: str) -> int:
        self.clock.set(T(at))
        r = await self.client.post(
            "/api/v1/campaigns",
            headers=self.headers,
            json={
                "name": name,
                "owner_id": self.owner_id,
                "department_id": self.department_id,
                "template_key": "quick",
            },
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    async def advance(self, campaign_id: int, key: str, at: str) -> dict[str, Any]:
        self.clock.set(T(at))
        r = await self.client.post(f"/api/v1/campaigns/{campaign_id}/stages/{key}/advance", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture
async def flow(sessions, client, clock) -> Flow:
    headers = await auth(sessions, role=Role.admin)
    assert (await client.post("/api/v1/workflow-templates", headers=headers, json=QUICK)).status_code == 201
    dept = await make_department(sessions, name="市场部")
    owner = await make_user(sessions, name="张策划", department_id=dept.id)
    return Flow(client, clock, headers, owner.id, dept.id)


async def test_the_workflow_stores_working_day_cycles_and_limits_across_national_day(flow):
    a = await flow.start("2026-09-30T09:00:00+08:00", "国庆促销")
    left = await flow.advance(a, "draft", "2026-10-09T13:30:00+08:00")
    # Sep 30 (9 h) + Oct 8 (9 h) + Oct 9 until 13:30 (4.5 h) = 22.5 h = 2.5 working days of 9 h.
    assert left["left"]["cycle_wd"] == 2.5 and left["left"]["limit_wd"] == 3.0
    # A 7-day wall-clock limit from Fri Oct 9 13:30 leaves Oct 9 (4.5 h), Sat Oct 10 (make-up, 9 h),
    # Oct 12–15 (36 h) and Oct 16 until 13:30 (4.5 h) = 54 h = 6 working days.
    assert left["entered"]["limit_wd"] == 6.0 and left["entered"]["cycle_wd"] is None
    done = await flow.advance(a, "launch", "2026-10-12T18:00:00+08:00")
    assert done["left"]["cycle_wd"] == 2.5  # Oct 9 4.5 h + Sat Oct 10 9 h + Oct 12 9 h
    r = await flow.client.get(f"/api/v1/campaigns/{a}", headers=flow.headers)
    campaign = r.json()
    assert campaign["status"] == "completed" and T(campaign["completed_at"]) == T("2026-10-12T18:00:00+08:00")
    assert campaign["cycle_wd"] == 5.0  # Sep 30, Oct 8, 9, Sat 10, 12


@pytest.fixture
async def october(flow) -> Flow:
    a = await flow.start("2026-09-30T09:00:00+08:00", "国庆促销")
    await flow.advance(a, "draft", "2026-10-09T13:30:00+08:00")  # 2.5 wd
    await flow.advance(a, "launch", "2026-10-12T18:00:00+08:00")  # 2.5 wd (limit 6); campaign 5 wd
    b = await flow.start("2026-10-12T09:00:00+08:00", "双十一预热")
    await flow.advance(b, "draft", "2026-10-12T18:00:00+08:00")  # 1 wd
    await flow.advance(b, "launch", "2026-10-13T18:00:00+08:00")  # 1 wd (limit 5); campaign 2 wd
    c = await flow.start("2026-10-08T09:00:00+08:00", "会员日")
    await flow.advance(c, "draft", "2026-10-13T09:00:00+08:00")  # Oct 8, 9, Sat 10, 12 = 4 wd: breached
    return flow


async def test_stage_cycle_times_per_template_stage(october):
    body = await table(october.client, october.headers, "stages")
    assert body["filters"]["period"] == "2026-10" and body["filters"]["timezone"] == "Asia/Shanghai"
    rows = by(body["rows"], "template", "stage")
    assert list(rows) == [("quick", "draft"), ("quick", "launch")]
    assert rows["quick", "draft"] == {
        "template": "quick",
        "stage": "draft",
        "stage_name": "方案起草",
        "count": 3,
        "mean_wd": 2.5,  # (2.5 + 1 + 4) / 3
        "p50_wd": 2.5,
        "p90_wd": 3.7,  # 2.5 + 0.8 × (4 − 2.5)
        "limit_wd": 3.0,
        "breaches": 1,
        "breach_rate": 0.3333,
        "cycle_to_limit": 0.8333,
    }
    launch = rows["quick", "launch"]
    assert (launch["count"], launch["mean_wd"], launch["p50_wd"], launch["p90_wd"]) == (2, 1.75, 1.75, 2.35)
    assert (launch["limit_wd"], launch["breaches"], launch["breach_rate"], launch["cycle_to_limit"]) == (
        5.5,
        0,
        0.0,
        0.3182,
    )


async def test_bottlenecks_rank_by_cycle_to_limit_and_by_breach_rate(october):
    rows = (await table(october.client, october.headers, "bottlenecks"))["rows"]
    assert [(r["stage"], r["rank_by_cycle_to_limit"], r["rank_by_breach_rate"]) for r in rows] == [
        ("draft", 1, 1),
        ("launch", 2, 2),
    ]


async def test_campaign_cycle_time_against_the_benchmark(october):
    body = await table(october.client, october.headers, "campaign-cycle", "period=2026-10&benchmark_days=4")
    assert body["filters"]["options"] == {"benchmark_days": 4.0}
    quick, total = body["rows"]
    assert quick == {
        "template": "quick",
        "count": 2,  # the third is still running
        "mean_wd": 3.5,  # (5 + 2) / 2
        "p50_wd": 3.5,
        "p90_wd": 4.7,  # 2 + 0.9 × 3
        "benchmark_wd": 4.0,
        "over_benchmark": -0.5,
        "share_within": 0.5,
    }
    assert total == {**quick, "template": None}
    default = await table(october.client, october.headers, "campaign-cycle")
    assert default["rows"][0]["benchmark_wd"] == 15.0 and default["rows"][0]["share_within"] == 1.0


async def test_filters_narrow_by_department_template_and_period(october, sessions):
    other = await make_department(sessions, name="销售部")
    assert (await table(october.client, october.headers, "stages", f"period=2026-10&department_id={other.id}"))[
        "rows"
    ] == []
    assert (await table(october.client, october.headers, "stages", "period=2026-10&template=campaign_default"))[
        "rows"
    ] == []
    mine = await table(
        october.client, october.headers, "stages", f"period=2026-10&department_id={october.department_id},{other.id}"
    )
    assert [r["count"] for r in mine["rows"]] == [3, 2]
    # Oct 1–12 in Asia/Shanghai: campaign A's draft (Oct 9) and B's (Oct 12 18:00), A's launch.
    early = await table(october.client, october.headers, "stages", "from=2026-10-01&to=2026-10-12")
    assert [(r["stage"], r["count"]) for r in early["rows"]] == [("draft", 2), ("launch", 1)]


async def test_csv_is_the_same_table_with_a_bom_and_chinese_text_intact(october):
    body = await table(october.client, october.headers, "stages")
    r = await october.client.get("/api/v1/analytics/stages?period=2026-10&format=csv", headers=october.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="stages-2026-10.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf")
    text = r.content.decode("utf-8")
    assert "方案起草" in text
    parsed = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert parsed == [{k: "" if v is None else str(v) for k, v in row.items()} for row in body["rows"]]
