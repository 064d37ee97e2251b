"""Reports pushed to chat: schedules on a working calendar, produced exactly once per period by the
worker (also after downtime), stored as snapshots, readable as a page with server-drawn SVG charts
through a signed link, and delivered to the chat simulator as native cards."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from services.worker.main import produce_reports_once
from shared.budget.models import BudgetCategory, BudgetLine, Expense, ExpenseStatus
from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.kpis.models import Aggregation, Kpi, KpiReading, Metric
from shared.models import Campaign, ChannelKind, Notification, Role, SlaTimer, Task, TimerState
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.rectifications.models import Rectification, RectificationStatus
from shared.reports.models import Report, ReportSchedule
from shared.risks.models import Grade, ResponseStrategy, Risk, RiskCategory, RiskStatus
from tests.factories import auth, make_channel, make_department, make_user
from tests.notify.helpers import make_dispatcher

CN = ZoneInfo("Asia/Shanghai")


def cn(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CN)


@pytest.fixture
async def org(sessions):
    dept = await make_department(sessions, name="市场部")
    return {"dept": dept, "admin": await auth(sessions)}


async def schedule(client, headers, **body) -> dict:
    r = await client.post("/api/v1/report-schedules", headers=headers, json={"name": "report", **body})
    assert r.status_code == 201, r.text
    return r.json()


async def tick(ctx, clock, when: datetime) -> None:
    clock.set(when)
    await produce_reports_once(ctx)


async def produced(sessions) -> list[tuple[int, str, datetime]]:
    async with unit_of_work(sessions) as s:
        rows = await s.execute(select(Report.schedule_id, Report.period_key, Report.produced_at).order_by(Report.id))
        return [(r[0], r[1], r[2].astimezone(CN)) for r in rows]


@pytest.fixture
def worker_ctx(sessions, clock, settings, arq_redis):
    return {"sessions": sessions, "clock": clock, "settings": settings, "redis": arq_redis}


async def test_standups_and_weekly_reports_reach_chat_on_working_days_across_national_day(
    settings, sessions, client, clock, arq_redis, botsim, org, worker_ctx
):
    botsim.add_bots({"standup": {"kind": "dingtalk"}, "weekly": {"kind": "feishu"}})
    ding = await make_channel(sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "standup"))
    feishu = await make_channel(sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "weekly"))
    clock.set(cn(2026, 9, 17, 8))
    standup = await schedule(
        client,
        org["admin"],
        kind="daily_standup",
        scope="department",
        department_id=org["dept"].id,
        channel_ids=[ding.id],
        send_at="09:00",
    )
    weekly = await schedule(
        client, org["admin"], kind="weekly", scope="company", channel_ids=[feishu.id], send_at="17:00"
    )
    day = date(2026, 9, 17)
    while day <= date(2026, 10, 12):
        for hh in (8, 9, 12, 17, 23):  # the loop runs all day; twice at each moment
            await tick(worker_ctx, clock, cn(day.year, day.month, day.day, hh, 30 if hh == 23 else 0))
            await produce_reports_once(worker_ctx)
        day += timedelta(days=1)
    rows = await produced(sessions)
    standups = [(k, at) for sid, k, at in rows if sid == standup["id"]]
    weeklies = [(k, at) for sid, k, at in rows if sid == weekly["id"]]
    # Working days only: make-up Sunday Sep 20 and Saturday Oct 10 included, Mid-Autumn (Sep 25)
    # and National Day (Oct 1–7) skipped; each sent at 09:00 on its day, once.
    assert standups == [
        (d.isoformat(), cn(d.year, d.month, d.day, 9))
        for d in (
            date(2026, 9, 17),
            date(2026, 9, 18),
            date(2026, 9, 20),
            date(2026, 9, 21),
            date(2026, 9, 22),
            date(2026, 9, 23),
            date(2026, 9, 24),
            date(2026, 9, 28),
            date(2026, 9, 29),
            date(2026, 9, 30),
            date(2026, 10, 8),
            date(2026, 10, 9),
            date(2026, 10, 10),
            date(2026, 10, 12),
        )
    ]
    # Each week on its last working day at 17:00: the make-up Sunday, the Thursday before
    # Mid-Autumn, the Wednesday before National Day, the make-up Saturday after it.
    assert weeklies == [
        ("2026-W38", cn(2026, 9, 20, 17)),
        ("2026-W39", cn(2026, 9, 24, 17)),
        ("2026-W40", cn(2026, 9, 30, 17)),
        ("2026-W41", cn(2026, 10, 10, 17)),
    ]
    async with Sender() as http:
        dispatcher = make_dispatcher(settings, sessions, arq_redis, http, SystemClock())
        await drain(dispatcher, ding.id)
        await drain(dispatcher, feishu.id)
    ding_bodies = [str(m["body"]) for m in botsim.messages("standup")]
    feishu_bodies = [str(m["body"]) for m in botsim.messages("weekly")]
    assert len(ding_bodies) == 14 and len(feishu_bodies) == 4
    assert "站会日报 2026-10-10 · 市场部" in ding_bodies[12]
    assert "周报 2026-W41 · 全公司" in feishu_bodies[3]
    # The card's button opens the report's page through a signed link on the public URL.
    card = botsim.messages("weekly")[3]["body"]["card"]
    url = card["elements"][-1]["actions"][0]["url"]
    w41 = next(r for r in (await produced(sessions)) if r[1] == "2026-W41")
    async with unit_of_work(sessions) as s:
        w41_id = await s.scalar(select(Report.id).where(Report.period_key == w41[1]))
    assert url.startswith(f"http://closeloop.test/api/v1/reports/{w41_id}.html?exp=")
    assert botsim.stats()["standup"].get("rejected", {}) == {}
    assert botsim.stats()["weekly"].get("rejected", {}) == {}


async def test_after_downtime_the_latest_missed_period_is_produced_once_and_stale_standups_are_skipped(
    sessions, client, clock, org, worker_ctx
):
    channel = await make_channel(sessions)
    clock.set(cn(2026, 10, 8, 8))
    weekly = await schedule(client, org["admin"], kind="weekly", scope="company", channel_ids=[channel.id])
    standup = await schedule(
        client, org["admin"], kind="daily_standup", scope="company", channel_ids=[channel.id], send_at="09:00"
    )
    await tick(worker_ctx, clock, cn(2026, 10, 8, 9, 5))
    # Down from Thursday 09:05 to Monday 10:00: Friday's and Saturday's stand-ups and W41's
    # report (due Saturday 09:00) were missed.
    await tick(worker_ctx, clock, cn(2026, 10, 12, 10))
    await tick(worker_ctx, clock, cn(2026, 10, 12, 10))
    rows = await produced(sessions)
    assert [(sid, k) for sid, k, _ in rows] == [
        (standup["id"], "2026-10-08"),
        (weekly["id"], "2026-W41"),
        (standup["id"], "2026-10-12"),
    ]
    async with unit_of_work(sessions) as s:
        cards = await s.scalar(select(func.count()).select_from(Notification))
    assert cards == 3


async def test_an_archived_campaigns_schedule_produces_nothing_until_the_campaign_is_restored(
    sessions, client, clock, org, worker_ctx
):
    channel = await make_channel(sessions)
    clock.set(cn(2026, 10, 12, 8))
    r = await client.post(
        "/api/v1/campaigns", headers=org["admin"], json={"name": "国庆大促", "department_id": org["dept"].id}
    )
    assert r.status_code == 201, r.text
    campaign_id = r.json()["id"]
    async with unit_of_work(sessions) as s:  # a task: the campaign has history, so DELETE archives it
        s.add(Task(title="海报", campaign_id=campaign_id))
    standup = await schedule(
        client,
        org["admin"],
        kind="daily_standup",
        scope="campaign",
        campaign_id=campaign_id,
        channel_ids=[channel.id],
        send_at="09:00",
    )
    await tick(worker_ctx, clock, cn(2026, 10, 12, 9))
    assert (await client.delete(f"/api/v1/campaigns/{campaign_id}", headers=org["admin"])).status_code == 204
    await tick(worker_ctx, clock, cn(2026, 10, 13, 9))
    await tick(worker_ctx, clock, cn(2026, 10, 13, 17))
    r = await client.post(f"/api/v1/report-schedules/{standup['id']}/run", headers=org["admin"])
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == [{"field": "archived_at", "message": "archived", "type": "state"}]
    assert [k for _, k, _ in await produced(sessions)] == ["2026-10-12"]

    r = await client.post(f"/api/v1/campaigns/{campaign_id}/restore", headers=org["admin"])
    assert r.status_code == 200, r.text
    await tick(worker_ctx, clock, cn(2026, 10, 14, 9))
    assert [k for _, k, _ in await produced(sessions)] == ["2026-10-12", "2026-10-14"]
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Notification)) == 2


async def test_run_produces_the_current_period_once_and_the_worker_does_not_send_it_again(
    sessions, client, clock, org, worker_ctx
):
    channel = await make_channel(sessions)
    clock.set(cn(2026, 10, 8, 8))
    weekly = await schedule(client, org["admin"], kind="weekly", scope="company", channel_ids=[channel.id])
    first = await client.post(f"/api/v1/report-schedules/{weekly['id']}/run", headers=org["admin"])
    again = await client.post(f"/api/v1/report-schedules/{weekly['id']}/run", headers=org["admin"])
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["created"] is True and again.json()["created"] is False
    assert first.json()["report"]["period_key"] == again.json()["report"]["period_key"] == "2026-W41"
    await tick(worker_ctx, clock, cn(2026, 10, 10, 18))
    assert [k for _, k, _ in await produced(sessions)] == ["2026-W41"]
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Notification)) == 1
    member = await auth(sessions, role=Role.member)
    r = await client.post(f"/api/v1/report-schedules/{weekly['id']}/run", headers=member)
    assert r.status_code == 403


async def test_bad_schedules_are_422_naming_each_field_and_write_nothing(sessions, client, org):
    channel = await make_channel(sessions)
    r = await client.post(
        "/api/v1/report-schedules",
        headers=org["admin"],
        json={
            "name": "x",
            "kind": "weekly",
            "scope": "department",
            "channel_ids": [channel.id, 999],
            "send_at": "25:00",
        },
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert sorted(e["field"] for e in r.json()["errors"]) == [
        "body.channel_ids.1",
        "body.department_id",
        "body.send_at",
    ]
    r = await client.post(
        "/api/v1/report-schedules",
        headers=org["admin"],
        json={"name": "x", "kind": "fortnightly", "scope": "company", "channel_ids": [channel.id]},
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.kind"]
    r = await client.post(
        "/api/v1/report-schedules",
        headers=org["admin"],
        json={"name": "x", "kind": "weekly", "scope": "company", "channel_ids": []},
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.channel_ids"]
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(ReportSchedule)) == 0
    ok = await schedule(client, org["admin"], kind="weekly", scope="company", channel_ids=[channel.id])
    r = await client.patch(f"/api/v1/report-schedules/{ok['id']}", headers=org["admin"], json={"send_at": "7am"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.send_at"]
    r = await client.get("/api/v1/reports?kind=hourly", headers=org["admin"])
    assert r.status_code == 422


# ---- content and the page ---------------------------------------------------------------------------
async def seed_week(sessions, dept_id: int) -> dict:
    """W41 (Oct 5–11) and W40 (Sep 28–Oct 4) on one campaign: KPIs, budget, risks, rectifications."""
    owner = await make_user(sessions, name="张策划", department_id=dept_id)
    async with unit_of_work(sessions) as s:
        campaign = Campaign(name="国庆大促", owner_id=owner.id, department_id=dept_id)
        s.add(campaign)
        s.add(
            Metric(
                key="leads",
                name_zh="线索数",
                name_en="Leads",
                unit="个",
                higher_is_better=True,
                aggregation=Aggregation.sum,
            )
        )
        s.add(
            Metric(
                key="cvr",
                name_zh="转化率",
                name_en="CVR",
                unit="%",
                higher_is_better=True,
                aggregation=Aggregation.latest,
            )
        )
        await s.flush()
        leads = Kpi(campaign_id=campaign.id, metric_key="leads", target=Decimal(1000), owner_id=owner.id)
        cvr = Kpi(campaign_id=campaign.id, metric_key="cvr", target=Decimal(5), owner_id=owner.id)
        s.add_all([leads, cvr])
        await s.flush()
        s.add_all(
            [
                KpiReading(kpi_id=leads.id, value=Decimal(300), as_of=cn(2026, 9, 29, 12)),  # W40
                KpiReading(kpi_id=leads.id, value=Decimal(500), as_of=cn(2026, 10, 9, 12)),  # W41
                KpiReading(kpi_id=leads.id, value=Decimal(999), as_of=cn(2026, 10, 12, 12)),  # W42: not yet
                KpiReading(kpi_id=cvr.id, value=Decimal(4), as_of=cn(2026, 9, 30, 12)),
                KpiReading(kpi_id=cvr.id, value=Decimal(6), as_of=cn(2026, 10, 8, 12)),
            ]
        )
        line = BudgetLine(campaign_id=campaign.id, category=BudgetCategory.media, planned=Decimal(10000))
        s.add(line)
        await s.flush()
        for amount, status, decided in (
            (2000, ExpenseStatus.paid, cn(2026, 9, 29, 10)),  # W40
            (3000, ExpenseStatus.approved, cn(2026, 10, 9, 10)),  # W41
            (4000, ExpenseStatus.requested, None),  # not committed
        ):
            s.add(
                Expense(
                    line_id=line.id,
                    campaign_id=campaign.id,
                    amount=Decimal(amount),
                    currency="CNY",
                    status=status,
                    decided_at=decided,
                )
            )
        for lk, im, when in (
            (Grade.high, Grade.high, cn(2026, 10, 8, 10)),
            (Grade.high, Grade.medium, cn(2026, 10, 9, 10)),
            (Grade.medium, Grade.medium, cn(2026, 9, 29, 10)),
        ):
            level = Grade.high if (lk, im) != (Grade.medium, Grade.medium) else Grade.medium
            s.add(
                Risk(
                    title=f"风险 {lk}×{im}",
                    category=RiskCategory.market,
                    likelihood=lk,
                    impact=im,
                    level=level,
                    owner_id=owner.id,
                    strategy=ResponseStrategy.mitigate,
                    status=RiskStatus.open,
                    campaign_id=campaign.id,
                    created_at=when,
                )
            )
        for created, verified in (
            (cn(2026, 9, 29, 10), cn(2026, 10, 9, 10)),  # opened W40, verified W41
            (cn(2026, 10, 8, 10), None),
            (cn(2026, 10, 9, 10), None),
        ):
            s.add(
                Rectification(
                    title="整改",
                    owner_id=owner.id,
                    campaign_id=campaign.id,
                    status=RectificationStatus.verified if verified else RectificationStatus.open,
                    created_at=created,
                    verified_at=verified,
                )
            )
        return {"campaign_id": campaign.id, "owner": owner}


class PageParser(HTMLParser):
    """The page's tags, meta elements, and its top-level <svg> elements' source spans."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lines = text.splitlines(keepends=True)
        self.tags: list[str] = []
        self.meta: list[dict[str, str | None]] = []
        self.svgs: list[ET.Element] = []
        self._depth = 0
        self._start = 0
        self.text = text
        self.feed(text)

    def _offset(self) -> int:
        line, col = self.getpos()
        return sum(len(x) for x in self.lines[: line - 1]) + col

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "meta":
            self.meta.append(dict(attrs))
        if tag == "svg":
            if self._depth == 0:
                self._start = self._offset()
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "svg":
            self._depth -= 1
            if self._depth == 0:
                end = self.text.index(">", self._offset()) + 1
                # Each chart must be a well-formed XML document on its own.
                self.svgs.append(ET.fromstring(self.text[self._start : end]))


def ids(root: ET.Element, prefix: str) -> list[str]:
    return sorted(e.get("id", "") for e in root.iter() if e.get("id", "").startswith(prefix))


async def test_a_weekly_report_counts_kpis_budget_risks_and_rectifications_against_the_previous_week(
    sessions, client, clock, org
):
    data = await seed_week(sessions, org["dept"].id)
    channel = await make_channel(sessions)
    clock.set(cn(2026, 10, 10, 18))
    weekly = await schedule(
        client, org["admin"], kind="weekly", scope="department", department_id=org["dept"].id, channel_ids=[channel.id]
    )
    run = await client.post(f"/api/v1/report-schedules/{weekly['id']}/run", headers=org["admin"])
    report_id = run.json()["report"]["id"]
    r = await client.get(f"/api/v1/reports/{report_id}", headers=org["admin"])
    assert r.status_code == 200
    snap = r.json()["snapshot"]
    assert snap["title"] == "周报 2026-W41 · 市场部" and snap["previous_period"] == "2026-W40"
    kpis = {k["metric_key"]: k for k in snap["kpis"]["items"]}
    assert (kpis["leads"]["actual"], kpis["leads"]["previous"], kpis["leads"]["change"]) == (800.0, 300.0, 500.0)
    assert (kpis["leads"]["attainment"], kpis["leads"]["met"]) == (0.8, False)
    assert (kpis["cvr"]["actual"], kpis["cvr"]["previous"], kpis["cvr"]["met"]) == (6.0, 4.0, True)
    assert (snap["kpis"]["met"], snap["kpis"]["total"]) == (1, 2)
    budget = snap["budget"]
    assert (budget["planned"], budget["spent"], budget["spent_in_period"], budget["spent_in_previous"]) == (
        10000.0,
        5000.0,
        3000.0,
        2000.0,
    )
    assert budget["burn"] == 0.5
    assert snap["rectifications"] == {
        "opened": 2,
        "opened_previous": 1,
        "opened_change": 1,
        "verified": 1,
        "verified_previous": 0,
        "verified_change": 1,
        "open_at_end": 2,
    }
    levels = {x["level"]: x for x in snap["risks"]["levels"]}
    assert (levels["high"]["open"], levels["high"]["raised"], levels["high"]["raised_previous"]) == (2, 2, 0)
    assert (levels["medium"]["open"], levels["medium"]["raised"], levels["medium"]["raised_previous"]) == (1, 0, 1)
    cells = {(c["likelihood"], c["impact"]): c["count"] for c in snap["risks"]["matrix"]}
    assert cells[("high", "high")] == cells[("high", "medium")] == cells[("medium", "medium")] == 1
    assert sum(cells.values()) == 3
    assert snap["headline"] == {
        "kpis_met": "1/2",
        "budget_burn": 0.5,
        "rectifications_opened": 2,
        "rectifications_verified": 1,
        "risks_high": 2,
        "risks_open": 3,
        "tasks_overdue_rate": None,  # no task fell due in the week
    }
    listed = await client.get(f"/api/v1/reports?schedule_id={weekly['id']}&kind=weekly", headers=org["admin"])
    assert [x["id"] for x in listed.json()["items"]] == [report_id]
    assert (await client.get("/api/v1/reports?kind=daily_standup", headers=org["admin"])).json()["items"] == []

    page = await client.get(f"/api/v1/reports/{report_id}.html", headers=org["admin"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    parser = PageParser(page.text)
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in parser.meta
    # No JavaScript, nothing fetched from elsewhere (the only URLs are XML namespaces).
    assert "script" not in parser.tags and "http" not in page.text.replace('"http://www.w3.org/', "")
    assert len(parser.svgs) == 3  # KPI, budget burn, risk matrix
    kpi_svg, budget_svg, matrix_svg = parser.svgs
    assert ids(kpi_svg, "kpi-") == ["kpi-0", "kpi-1"]
    assert ids(budget_svg, "budget-") == ["budget-planned-0", "budget-spent-0"]
    assert len(ids(matrix_svg, "cell-")) == 9
    assert data["campaign_id"]


async def test_the_weekly_process_section_counts_the_weeks_tasks_as_of_the_send_time(sessions, client, clock, org):
    """Seed 001's measure, in the weekly report: overdue and on-time rates of the tasks due in the
    week (cancelled excluded), judged when the report is sent — a task due on Sunday is not overdue
    in a report sent on Saturday evening — against the previous week."""
    dept = org["dept"]
    ann = await make_user(sessions, name="安娜", department_id=dept.id)
    elsewhere = await make_user(sessions, name="外部门", department_id=(await make_department(sessions)).id)
    async with unit_of_work(sessions) as s:
        s.add_all(
            [
                Task(
                    title="按时",
                    assignee_id=ann.id,
                    due_at=cn(2026, 10, 9, 10),
                    status="done",
                    completed_at=cn(2026, 10, 9, 9),
                ),
                Task(
                    title="晚交",
                    assignee_id=ann.id,
                    due_at=cn(2026, 10, 9, 12),
                    status="done",
                    completed_at=cn(2026, 10, 10, 10),
                ),
                Task(title="逾期未交", assignee_id=ann.id, due_at=cn(2026, 10, 10, 9), status="in_progress"),
                Task(title="周日到期", assignee_id=ann.id, due_at=cn(2026, 10, 11, 10), status="todo"),
                Task(title="取消", assignee_id=ann.id, due_at=cn(2026, 10, 8, 10), status="cancelled"),
                Task(title="别的部门", assignee_id=elsewhere.id, due_at=cn(2026, 10, 8, 10), status="todo"),
                Task(
                    title="上周按时",
                    assignee_id=ann.id,
                    due_at=cn(2026, 9, 30, 10),
                    status="done",
                    completed_at=cn(2026, 9, 29, 10),
                ),
            ]
        )
    channel = await make_channel(sessions)
    clock.set(cn(2026, 10, 10, 18))  # the make-up Saturday: W41's last working day
    weekly = await schedule(
        client, org["admin"], kind="weekly", scope="department", department_id=dept.id, channel_ids=[channel.id]
    )
    run = await client.post(f"/api/v1/report-schedules/{weekly['id']}/run", headers=org["admin"])
    report_id = run.json()["report"]["id"]
    snap = (await client.get(f"/api/v1/reports/{report_id}", headers=org["admin"])).json()["snapshot"]
    process = snap["process"]
    assert process["current"] == {"tasks": 4, "overdue_rate": 0.5, "on_time_rate": 0.25, "sla_compliance": None}
    assert process["previous"] == {"tasks": 1, "overdue_rate": 0.0, "on_time_rate": 1.0, "sla_compliance": None}
    assert process["change"] == {"overdue_rate": 0.5, "on_time_rate": -0.75, "sla_compliance": None}
    assert process["stages"] == [] and snap["headline"]["tasks_overdue_rate"] == 0.5
    page = await client.get(f"/api/v1/reports/{report_id}.html", headers=org["admin"])
    assert "任务逾期率 task overdue rate</td><td class=n>50.0 %</td><td class=n>0.0 %</td>" in page.text


async def test_the_stand_up_lists_due_overdue_and_newly_breached_items_with_their_links(sessions, client, clock, org):
    dept = org["dept"]
    ann = await make_user(sessions, name="安娜", department_id=dept.id)
    bo = await make_user(sessions, name="博文", department_id=dept.id)
    channel = await make_channel(sessions)
    now = cn(2026, 10, 12, 9, 0)  # Monday; the previous working day is the make-up Saturday
    async with unit_of_work(sessions) as s:
        tasks = [
            Task(title="今日到期的海报", assignee_id=ann.id),
            Task(title="逾期的投放复盘", assignee_id=ann.id),
            Task(title="周六超时的文案", assignee_id=bo.id),
            Task(title="上周超时的预算", assignee_id=bo.id),
        ]
        s.add_all(tasks)
        await s.flush()

        def timer(task, due, breached=None):
            return SlaTimer(
                subject_type="task",
                subject_id=task.id,
                department_id=dept.id,
                target_kind="calendar",
                target_value="PT24H",
                target_s=86400,
                levels=[],
                state=TimerState.running,
                started_at=due - timedelta(days=1),
                due_at=due,
                breached_at=breached,
            )

        s.add_all(
            [
                timer(tasks[0], cn(2026, 10, 12, 17)),
                timer(tasks[1], cn(2026, 10, 9, 17), cn(2026, 10, 9, 17)),
                timer(tasks[2], cn(2026, 10, 10, 12), cn(2026, 10, 10, 12)),
                timer(tasks[3], cn(2026, 10, 8, 12), cn(2026, 10, 8, 12)),
            ]
        )
        ids_ = [t.id for t in tasks]
    clock.set(now - timedelta(hours=1))
    standup = await schedule(
        client,
        org["admin"],
        kind="daily_standup",
        scope="department",
        department_id=dept.id,
        channel_ids=[channel.id],
        send_at="09:00",
    )
    clock.set(now)
    run = await client.post(f"/api/v1/report-schedules/{standup['id']}/run", headers=org["admin"])
    snap = (await client.get(f"/api/v1/reports/{run.json()['report']['id']}", headers=org["admin"])).json()["snapshot"]
    card = snap["standup"]["departments"][0]
    assert card["department"] == "市场部"
    assert card["counts"] == {"due_today": 1, "overdue": 3, "newly_breached": 1}
    assert [i["title"] for i in card["due_today"]] == ["今日到期的海报"]
    assert [i["path"] for i in card["due_today"]] == [f"/api/v1/tasks/{ids_[0]}"]
    assert [i["title"] for i in card["overdue"]] == ["上周超时的预算", "逾期的投放复盘", "周六超时的文案"]
    # Breached since Saturday's stand-up (09:00): only Saturday noon's.
    assert [i["title"] for i in card["newly_breached"]] == ["周六超时的文案"]
    assert card["waiting_on"] == [{"name": "博文", "count": 2}, {"name": "安娜", "count": 2}]
    assert snap["headline"] == {"due_today": 1, "overdue": 3, "newly_breached": 1}
    page = await client.get(f"/api/v1/reports/{run.json()['report']['id']}.html", headers=org["admin"])
    assert f'href="http://closeloop.test/api/v1/tasks/{ids_[2]}"' in page.text


async def test_a_signed_link_opens_the_page_without_a_token_until_it_expires(sessions, client, clock, org, settings):
    channel = await make_channel(sessions)
    clock.set(cn(2026, 10, 8, 8))
    weekly = await schedule(client, org["admin"], kind="weekly", scope="company", channel_ids=[channel.id])
    run = await client.post(f"/api/v1/report-schedules/{weekly['id']}/run", headers=org["admin"])
    report_id = run.json()["report"]["id"]
    async with unit_of_work(sessions) as s:
        payload = (await s.scalars(select(Notification.payload))).one()
    path = payload["subject"]["path"]
    assert path.startswith(f"/api/v1/reports/{report_id}.html?exp=")
    query = parse_qs(urlsplit(path).query)
    assert int(query["exp"][0]) == int((cn(2026, 10, 8, 8) + timedelta(days=30)).timestamp())
    ok = await client.get(path)
    assert ok.status_code == 200 and "周报 2026-W41 · 全公司" in ok.text
    sig = query["sig"][0]
    tampered = path.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
    other = path.replace(f"/reports/{report_id}.html", f"/reports/{report_id + 1}.html")
    longer = path.replace(f"exp={query['exp'][0]}", f"exp={int(query['exp'][0]) + 86400}")
    for bad in (tampered, other, longer):
        r = await client.get(bad)
        assert r.status_code == 403, bad
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/api/v1/reports/{report_id}.html")).status_code == 401
    assert (await client.get(f"/api/v1/reports/{report_id}")).status_code == 401  # the JSON needs a token
    clock.set(cn(2026, 11, 7, 8, 1))  # 30 days and a minute later
    expired = await client.get(path)
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]
    assert (await client.get(f"/api/v1/reports/{report_id}.html", headers=org["admin"])).status_code == 200


async def test_the_card_renders_natively_in_every_channel_kind_with_its_headline_and_page_link(
    settings, sessions, client, clock, arq_redis, botsim, org
):
    whsec = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    botsim.add_bots(
        {
            "fs": {"kind": "feishu", "secret": "fs-secret"},
            "dt": {"kind": "dingtalk", "secret": "SECdt"},
            "wc": {"kind": "wecom"},
            "gw": {"kind": "generic", "secret": whsec},
        }
    )
    channels = [
        await make_channel(sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs"), secret="fs-secret"),
        await make_channel(sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "dt"), secret="SECdt"),
        await make_channel(sessions, kind=ChannelKind.wecom, url=botsim.url("wecom", "wc")),
        await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw"), secret=whsec),
    ]
    await seed_week(sessions, org["dept"].id)
    clock.set(cn(2026, 10, 10, 18))
    weekly = await schedule(
        client, org["admin"], kind="weekly", scope="company", channel_ids=[c.id for c in channels], send_at="17:00"
    )
    report_id = (await client.post(f"/api/v1/report-schedules/{weekly['id']}/run", headers=org["admin"])).json()[
        "report"
    ]["id"]
    async with Sender() as http:
        dispatcher = make_dispatcher(settings, sessions, arq_redis, http, SystemClock())
        for channel in channels:
            await drain(dispatcher, channel.id)
    page = f"http://closeloop.test/api/v1/reports/{report_id}.html?exp="
    card = botsim.messages("fs")[0]["body"]["card"]
    assert card["header"]["title"]["content"] == "周报 2026-W41 · 全公司"
    assert "**KPI 达成**：1/2" in card["elements"][0]["text"]["content"]
    assert "**预算执行**：50.0 %" in card["elements"][0]["text"]["content"]
    assert card["elements"][-1]["actions"][0]["url"].startswith(page)
    dingtalk = botsim.messages("dt")[0]["body"]["markdown"]["text"]
    wecom = botsim.messages("wc")[0]["body"]["markdown"]["content"]
    for text in (dingtalk, wecom):
        assert "周报 2026-W41 · 全公司" in text and "高风险" in text and page in text
    event = botsim.messages("gw")[0]["body"]
    assert event["type"] == "report.ready"
    assert event["data"]["subject"]["url"].startswith(page) and "path" not in event["data"]["subject"]
    assert event["data"]["headline"]["risks_high"] == 2
    stats = botsim.stats()
    assert all(not stats[bot].get("rejected") for bot in ("fs", "dt", "wc", "gw")), stats
    # The button's link opens the page without a token.
    url = card["elements"][-1]["actions"][0]["url"]
    opened = await client.get(url.removeprefix("http://closeloop.test"))
    assert opened.status_code == 200 and opened.text.count("<svg") == 3


async def test_two_workers_at_the_same_moment_produce_one_report_and_one_card(sessions, client, clock, org, worker_ctx):
    channel = await make_channel(sessions)
    clock.set(cn(2026, 10, 9, 8))
    await schedule(client, org["admin"], kind="weekly", scope="company", channel_ids=[channel.id])
    clock.set(cn(2026, 10, 10, 17, 1))
    await asyncio.gather(*(produce_reports_once(worker_ctx) for _ in range(3)))
    assert [k for _, k, _ in await produced(sessions)] == ["2026-W41"]
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Notification)) == 1


async def test_schedules_are_read_changed_and_deleted_with_an_audit_trail_and_their_reports_stay(
    sessions, client, clock, org, worker_ctx
):
    channel = await make_channel(sessions)
    clock.set(cn(2026, 10, 9, 8))
    made = await schedule(
        client, org["admin"], kind="monthly", scope="department", department_id=org["dept"].id, channel_ids=[channel.id]
    )
    assert (made["send_at"], made["calendar_id"], made["enabled"]) == ("09:00", None, True)
    listed = await client.get("/api/v1/report-schedules?kind=monthly", headers=org["admin"])
    assert [s["id"] for s in listed.json()["items"]] == [made["id"]]
    assert (await client.get("/api/v1/report-schedules?kind=weekly", headers=org["admin"])).json()["items"] == []
    r = await client.patch(
        f"/api/v1/report-schedules/{made['id']}", headers=org["admin"], json={"send_at": "18:30", "enabled": False}
    )
    assert r.status_code == 200 and (r.json()["send_at"], r.json()["enabled"]) == ("18:30", False)
    # Disabled: October's report (due Fri Oct 30 18:30) is not produced.
    await tick(worker_ctx, clock, cn(2026, 10, 30, 19))
    assert await produced(sessions) == []
    await client.patch(f"/api/v1/report-schedules/{made['id']}", headers=org["admin"], json={"enabled": True})
    await tick(worker_ctx, clock, cn(2026, 10, 30, 19))
    assert [k for _, k, _ in await produced(sessions)] == ["2026-10"]
    r = await client.patch(f"/api/v1/report-schedules/{made['id']}", headers=org["admin"], json={"send_at": None})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.send_at"]
    # It produced a report, so DELETE archives and disables it: the report still names it.
    assert (await client.delete(f"/api/v1/report-schedules/{made['id']}", headers=org["admin"])).status_code == 204
    kept = (await client.get(f"/api/v1/report-schedules/{made['id']}", headers=org["admin"])).json()
    assert (kept["enabled"], kept["archived_at"] is not None) == (False, True)
    assert (await client.get("/api/v1/report-schedules", headers=org["admin"])).json()["items"] == []
    reports = (await client.get("/api/v1/reports", headers=org["admin"])).json()["items"]
    assert [(x["period_key"], x["schedule_id"]) for x in reports] == [("2026-10", made["id"])]
    trail = await client.get(f"/api/v1/audit?entity_type=report_schedule&entity_id={made['id']}", headers=org["admin"])
    assert [e["action"] for e in trail.json()["items"]] == ["create", "update", "update", "archive"]
    unused = await schedule(client, org["admin"], kind="weekly", scope="company", channel_ids=[channel.id])
    assert (await client.delete(f"/api/v1/report-schedules/{unused['id']}", headers=org["admin"])).status_code == 204
    assert (await client.get(f"/api/v1/report-schedules/{unused['id']}", headers=org["admin"])).status_code == 404
    member = await auth(sessions, role=Role.member)
    r = await client.post(
        "/api/v1/report-schedules",
        headers=member,
        json={"name": "x", "kind": "weekly", "scope": "company", "channel_ids": [channel.id]},
    )
    assert r.status_code == 403
