"""What a report says: its snapshot, counted by PostgreSQL (aggregates grouped per KPI, campaign,
level or department — never every row loaded into Python).

A periodic report (weekly … annual) is a list of *sections*, each a function
`(session, scope, window) -> dict` registered by name in `SECTIONS` (`@section("kpis")`): another
domain adds its own (e.g. `process` from shared/analytics) with one decorator, and the page renders
any section it has a chart for. Each section gives the current period and the previous one, so a
reader sees the change. The daily stand-up is one card per department built by `build_standup`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from shared.analytics import service as analytics
from shared.analytics.period import AnalyticsFilter
from shared.analytics.period import Period as AnalyticsPeriod
from shared.analytics.schemas import TaskGrouping
from shared.budget.models import BudgetLine, Expense, ExpenseStatus
from shared.calendar.core import BusinessCalendar
from shared.kpis.models import Aggregation, Kpi, KpiReading, Metric
from shared.models import Campaign, Department, SlaTimer, TimerState, User
from shared.rectifications.models import Rectification, RectificationStatus
from shared.reports.models import ReportKind, ReportScope
from shared.reports.schedule import Period, previous_working_day
from shared.risks import service as risks
from shared.risks.models import Grade, Risk, RiskStatus
from shared.sla import registry
from shared.sla.read import subjects_of

# The stand-up lists at most this many items per list and department (the counts are exact).
STANDUP_ITEMS = 20
OPEN_RISK = (RiskStatus.open, RiskStatus.mitigating)


@dataclass(frozen=True)
class Scope:
    scope: ReportScope
    department_id: int | None = None
    campaign_id: int | None = None

    def campaigns(self, column: Any) -> ColumnElement[bool]:
        """A condition on a campaign-id column: the campaigns this report covers."""
        if self.scope == ReportScope.campaign:
            return column == self.campaign_id  # type: ignore[no-any-return]
        if self.scope == ReportScope.department:
            return column.in_(select(Campaign.id).where(Campaign.department_id == self.department_id))  # type: ignore[no-any-return]
        return true()


@dataclass(frozen=True)
class Window:
    """A period as instants on the calendar's timezone: [start, end), and the previous period's."""

    period: Period
    start: datetime
    end: datetime
    prev_start: datetime
    prev_end: datetime
    tz: Any = None  # the calendar's zone (local days of the period)
    now: datetime | None = None  # when the report is built: "overdue" is judged as of then

    @classmethod
    def of(cls, cal: BusinessCalendar, period: Period, *, now: datetime | None = None) -> Window:
        prev = period.previous()

        def midnight(d: Any) -> datetime:
            return datetime.combine(d, time(0), cal.tz)

        return cls(
            period,
            midnight(period.start),
            midnight(period.end + timedelta(days=1)),
            midnight(prev.start),
            midnight(prev.end + timedelta(days=1)),
            cal.tz,
            now,
        )

    def analytics(self, *, previous: bool = False, department_ids: tuple[int, ...] = ()) -> AnalyticsFilter:
        """The process analytics' filter of this period (or the previous one), as of the report's
        time: a task due after it is not overdue yet, whatever the period's end."""
        period = self.period.previous() if previous else self.period
        end = self.prev_end if previous else self.end
        as_of = min(self.now, end) if self.now is not None else end
        return AnalyticsFilter.of(
            AnalyticsPeriod(period.start, period.end, period.key),
            tz=self.tz,
            timezone=str(self.tz),
            now=as_of,
            department_ids=department_ids,
        )


Section = Callable[[AsyncSession, Scope, Window], Awaitable[dict[str, Any]]]
SECTIONS: dict[str, Section] = {}


def section(name: str) -> Callable[[Section], Section]:
    """Register a periodic report's section (in the order registered)."""

    def decorate(fn: Section) -> Section:
        SECTIONS[name] = fn
        return fn

    return decorate


def _num(v: Decimal | float | int | None) -> float | None:
    return None if v is None else float(v)


def _change(cur: float | None, prev: float | None) -> float | None:
    return None if cur is None or prev is None else round(cur - prev, 4)


# ---- sections -------------------------------------------------------------------------------------
@section("kpis")
async def kpis_section(session: AsyncSession, scope: Scope, w: Window) -> dict[str, Any]:
    """Each KPI's actual at the period's end against its target, and at the previous period's end."""

    def actual_until(end: datetime) -> dict[str, Any]:
        before = KpiReading.as_of < end
        return {
            "sum": func.sum(KpiReading.value).filter(before),
            "avg": func.avg(KpiReading.value).filter(before),
            "n": func.count().filter(before),
        }

    cur, prev = actual_until(w.end), actual_until(w.prev_end)
    # (array_agg(value ORDER BY as_of DESC))[1]: the latest reading, without loading readings.
    latest_cur = func.array_agg(aggregate_order_by_desc(KpiReading.value, KpiReading.as_of)).filter(
        KpiReading.as_of < w.end
    )
    latest_prev = func.array_agg(aggregate_order_by_desc(KpiReading.value, KpiReading.as_of)).filter(
        KpiReading.as_of < w.prev_end
    )
    stmt = (
        select(
            Kpi.id,
            Kpi.metric_key,
            Kpi.target,
            Metric.name_zh,
            Metric.name_en,
            Metric.unit,
            Metric.aggregation,
            Metric.higher_is_better,
            Campaign.id.label("campaign_id"),
            Campaign.name.label("campaign"),
            cur["sum"].label("sum_cur"),
            cur["avg"].label("avg_cur"),
            latest_cur.label("latest_cur"),
            cur["n"].label("n_cur"),
            prev["sum"].label("sum_prev"),
            prev["avg"].label("avg_prev"),
            latest_prev.label("latest_prev"),
            prev["n"].label("n_prev"),
        )
        .join(Metric, Metric.key == Kpi.metric_key)
        .join(Campaign, Campaign.id == Kpi.campaign_id)
        .outerjoin(KpiReading, KpiReading.kpi_id == Kpi.id)
        .where(scope.campaigns(Kpi.campaign_id))
        .group_by(Kpi.id, Metric.id, Campaign.id)
        .order_by(Campaign.id, Kpi.id)
    )
    items = []
    for r in await session.execute(stmt):
        agg = r.aggregation.value

        def pick(suffix: str, row: Any = r, agg: str = agg) -> float | None:
            if not getattr(row, f"n_{suffix}"):
                return None
            value = getattr(row, f"{agg}_{suffix}")
            return _num(value[0] if agg == Aggregation.latest.value else value)

        actual, previous = pick("cur"), pick("prev")
        target = float(r.target)
        attainment = round(actual / target, 4) if actual is not None and target else None
        met = None if actual is None else (actual >= target if r.higher_is_better else actual <= target)
        items.append(
            {
                "kpi_id": r.id,
                "metric_key": r.metric_key,
                "name": r.name_zh,
                "name_en": r.name_en,
                "unit": r.unit,
                "campaign_id": r.campaign_id,
                "campaign": r.campaign,
                "target": target,
                "actual": actual,
                "previous": previous,
                "change": _change(actual, previous),
                "attainment": attainment,
                "met": met,
            }
        )
    return {"items": items, "total": len(items), "met": sum(1 for i in items if i["met"])}


def aggregate_order_by_desc(value: Any, key: Any) -> Any:
    return aggregate_order_by(value, key.desc())


@section("budget")
async def budget_section(session: AsyncSession, scope: Scope, w: Window) -> dict[str, Any]:
    """Per campaign: the planned budget against committed spend (approved or paid expenses, by the
    day they were decided), to the period's end, in the period and in the previous one."""
    committed = Expense.status.in_([s for s in ExpenseStatus if s.is_committed])
    when = func.coalesce(Expense.decided_at, Expense.paid_at, Expense.created_at)
    spend = (
        select(
            Expense.campaign_id,
            func.coalesce(func.sum(Expense.amount).filter(committed, when < w.end), 0).label("to_date"),
            func.coalesce(func.sum(Expense.amount).filter(committed, when >= w.start, when < w.end), 0).label(
                "in_period"
            ),
            func.coalesce(func.sum(Expense.amount).filter(committed, when >= w.prev_start, when < w.prev_end), 0).label(
                "in_previous"
            ),
        )
        .where(scope.campaigns(Expense.campaign_id))
        .group_by(Expense.campaign_id)
        .subquery()
    )
    planned = (
        select(
            BudgetLine.campaign_id,
            func.sum(BudgetLine.planned).label("planned"),
            func.min(BudgetLine.currency).label("currency"),
        )
        .where(scope.campaigns(BudgetLine.campaign_id))
        .group_by(BudgetLine.campaign_id)
        .subquery()
    )
    stmt = (
        select(
            Campaign.id,
            Campaign.name,
            planned.c.planned,
            planned.c.currency,
            func.coalesce(spend.c.to_date, 0),
            func.coalesce(spend.c.in_period, 0),
            func.coalesce(spend.c.in_previous, 0),
        )
        .join(planned, planned.c.campaign_id == Campaign.id)
        .outerjoin(spend, spend.c.campaign_id == Campaign.id)
        .order_by(Campaign.id)
    )
    items = [
        {
            "campaign_id": r[0],
            "campaign": r[1],
            "currency": r[3],
            "planned": float(r[2]),
            "spent": float(r[4]),
            "spent_in_period": float(r[5]),
            "spent_in_previous": float(r[6]),
            "change": round(float(r[5]) - float(r[6]), 2),
            "burn": round(float(r[4]) / float(r[2]), 4) if r[2] else None,
        }
        for r in await session.execute(stmt)
    ]
    planned_total = sum(i["planned"] for i in items)
    spent_total = sum(i["spent"] for i in items)
    return {
        "items": items,
        "planned": planned_total,
        "spent": spent_total,
        "spent_in_period": sum(i["spent_in_period"] for i in items),
        "spent_in_previous": sum(i["spent_in_previous"] for i in items),
        "burn": round(spent_total / planned_total, 4) if planned_total else None,
    }


@section("rectifications")
async def rectifications_section(session: AsyncSession, scope: Scope, w: Window) -> dict[str, Any]:
    """Rectification items opened and verified in the period and the previous one; open at its end."""
    R = Rectification
    where = scope.campaigns(R.campaign_id) if scope.scope != ReportScope.company else true()
    if scope.scope == ReportScope.department:  # an item without a campaign belongs to its owner's department
        where = or_(where, R.owner_id.in_(select(User.id).where(User.department_id == scope.department_id)))
    stmt = select(
        func.count().filter(R.created_at >= w.start, R.created_at < w.end),
        func.count().filter(R.created_at >= w.prev_start, R.created_at < w.prev_end),
        func.count().filter(R.verified_at >= w.start, R.verified_at < w.end),
        func.count().filter(R.verified_at >= w.prev_start, R.verified_at < w.prev_end),
        func.count().filter(
            R.created_at < w.end,
            or_(R.status != RectificationStatus.verified, R.verified_at >= w.end),
        ),
    ).where(where)
    o, op, v, vp, still_open = (await session.execute(stmt)).one()
    return {
        "opened": o,
        "opened_previous": op,
        "opened_change": o - op,
        "verified": v,
        "verified_previous": vp,
        "verified_change": v - vp,
        "open_at_end": still_open,
    }


@section("risks")
async def risks_section(session: AsyncSession, scope: Scope, w: Window) -> dict[str, Any]:
    """Open risks by level (now), raised in the period and the previous one, and the 3 × 3 matrix."""
    department_id = scope.department_id if scope.scope == ReportScope.department else None
    campaign_id = scope.campaign_id if scope.scope == ReportScope.campaign else None
    cells = (
        await risks.matrix(session, department_id=department_id, campaign_id=campaign_id, statuses=OPEN_RISK, now=w.end)
    )["cells"]
    stmt = risks.risk_filter(
        cast(
            "Select[Any]",
            select(
                Risk.level,
                func.count().filter(Risk.status.in_(OPEN_RISK)),
                func.count().filter(Risk.created_at >= w.start, Risk.created_at < w.end),
                func.count().filter(Risk.created_at >= w.prev_start, Risk.created_at < w.prev_end),
            ),
        ),
        department_id=department_id,
        campaign_id=campaign_id,
        now=w.end,
    ).group_by(Risk.level)
    found = {r[0]: r[1:] for r in await session.execute(stmt)}
    levels = []
    for grade in (Grade.high, Grade.medium, Grade.low):
        open_, raised, raised_prev = found.get(grade, (0, 0, 0))
        levels.append(
            {
                "level": grade.value,
                "open": open_,
                "raised": raised,
                "raised_previous": raised_prev,
                "change": raised - raised_prev,
            }
        )
    return {
        "levels": levels,
        "open": sum(x["open"] for x in levels),
        "matrix": [
            {
                "likelihood": c["likelihood"].value,
                "impact": c["impact"].value,
                "level": c["level"].value,
                "count": c["count"],
            }
            for c in cells
        ],
    }


@section("process")
async def process_section(session: AsyncSession, scope: Scope, w: Window) -> dict[str, Any]:
    """The process analytics of the period (shared.analytics): each template stage's cycle time in
    working days against its limit (the chart), the three worst bottlenecks, the task overdue and
    on-time rates and SLA compliance, each against the previous period. A department's report
    counts its people's tasks; a campaign's report has no process section (the analytics are per
    department and company)."""
    if scope.scope == ReportScope.campaign:
        return {"stages": [], "note": "process analytics cover a department or the company"}
    departments = (scope.department_id,) if scope.scope == ReportScope.department and scope.department_id else ()
    now_f, prev_f = w.analytics(department_ids=departments), w.analytics(previous=True, department_ids=departments)
    stages = await analytics.stage_cycle_times(session, now_f)
    worst = await analytics.bottlenecks(session, now_f)

    async def rates(f: AnalyticsFilter) -> dict[str, Any]:
        tasks = (await analytics.task_timeliness(session, f, group_by=TaskGrouping.department)).rows
        sla = (await analytics.sla_compliance(session, f)).rows
        counted = sum(r["tasks"] for r in tasks)
        judged = sum(r["met_on_time"] + r["met_late"] + r["breached"] for r in sla)
        return {
            "tasks": counted,
            "overdue_rate": round(sum(r["overdue"] for r in tasks) / counted, 4) if counted else None,
            "on_time_rate": round(sum(r["on_time"] for r in tasks) / counted, 4) if counted else None,
            "sla_compliance": round(sum(r["met_on_time"] for r in sla) / judged, 4) if judged else None,
        }

    current, previous = await rates(now_f), await rates(prev_f)
    return {
        "stages": [
            {
                "template": r["template"],
                "stage": r["stage_name"] or r["stage"],
                "count": r["count"],
                "mean_wd": r["mean_wd"],
                "limit_wd": r["limit_wd"],
                "breach_rate": r["breach_rate"],
            }
            for r in stages.rows
        ],
        "bottlenecks": [
            {"stage": r["stage_name"] or r["stage"], "template": r["template"], "cycle_to_limit": r["cycle_to_limit"]}
            for r in worst.rows
            if r["rank_by_cycle_to_limit"] <= 3 and r["cycle_to_limit"] is not None
        ],
        "current": current,
        "previous": previous,
        "change": {
            k: round(current[k] - previous[k], 4) if current[k] is not None and previous[k] is not None else None
            for k in ("overdue_rate", "on_time_rate", "sla_compliance")
        },
    }


async def build_periodic(session: AsyncSession, scope: Scope, window: Window) -> dict[str, Any]:
    """Every registered section, in order."""
    return {name: await fn(session, scope, window) for name, fn in SECTIONS.items()}


# ---- the daily stand-up ------------------------------------------------------------------------------
async def build_standup(
    session: AsyncSession, scope: Scope, cal: BusinessCalendar, period: Period, *, at: time, now: datetime
) -> dict[str, Any]:
    """One card per department: due today, overdue, newly breached since the previous working
    day's stand-up, and who each open item waits on — each item with its title and link."""
    day_start = datetime.combine(period.start, time(0), cal.tz)
    day_end = day_start + timedelta(days=1)
    since = datetime.combine(previous_working_day(cal, period.start), at, cal.tz)
    T = SlaTimer
    running = T.state == TimerState.running
    lists: dict[str, ColumnElement[bool]] = {
        "due_today": and_(running, T.due_at >= day_start, T.due_at < day_end),
        "overdue": and_(running, T.due_at < now),
        "newly_breached": and_(T.breached_at >= since, T.breached_at <= now),
    }
    departments = await _standup_departments(session, scope)
    if not departments:
        return {"departments": [], "totals": dict.fromkeys(lists, 0), "since": since.isoformat()}
    in_scope = T.department_id.in_(list(departments))
    counts_stmt = (
        select(
            T.department_id,
            *[
                func.count(func.distinct(func.concat(T.subject_type, ":", T.subject_id))).filter(c)
                for c in lists.values()
            ],
        )
        .where(in_scope, or_(*lists.values()))
        .group_by(T.department_id)
    )
    counts = {r[0]: dict(zip(lists, r[1:], strict=True)) for r in await session.execute(counts_stmt)}
    picked: dict[tuple[int, str], list[SlaTimer]] = {}
    timers: list[SlaTimer] = []
    for name, cond in lists.items():
        # The first items of each list per department: one subject once (several policies may time it).
        ranked = (
            select(
                T.id,
                func.row_number().over(partition_by=T.department_id, order_by=(T.due_at, T.id)).label("n"),
            )
            .where(in_scope, cond)
            .ext(distinct_on(T.subject_type, T.subject_id))
            .order_by(T.subject_type, T.subject_id, T.due_at)
            .subquery()
        )
        rows = list(
            await session.scalars(
                select(T)
                .where(T.id.in_(select(ranked.c.id).where(ranked.c.n <= STANDUP_ITEMS)))
                .order_by(T.due_at, T.id)
            )
        )
        for t in rows:
            picked.setdefault((t.department_id or 0, name), []).append(t)
        timers.extend(rows)
    subjects = await subjects_of(session, timers)
    people = await _names(session, {s.assignee_id for s in subjects.values() if s.assignee_id})
    cards = []
    totals = dict.fromkeys(lists, 0)
    for dept_id, dept_name in departments.items():
        c = counts.get(dept_id, dict.fromkeys(lists, 0))
        card: dict[str, Any] = {"department_id": dept_id, "department": dept_name, "counts": c}
        waiting: dict[str, int] = {}
        seen: set[tuple[str, int]] = set()
        for name in lists:
            entries = []
            for t in picked.get((dept_id, name), []):
                s = subjects.get((t.subject_type, t.subject_id))
                if s is None:
                    continue
                who = people.get(s.assignee_id) if s.assignee_id else None
                entries.append(
                    {
                        "type": t.subject_type,
                        "id": t.subject_id,
                        "label": registry.get(t.subject_type).label("zh-CN", s.tags),
                        "title": s.title,
                        "path": s.path,
                        "assignee": who,
                        "due_at": t.due_at.isoformat(),
                    }
                )
                if name != "newly_breached" and (t.subject_type, t.subject_id) not in seen:
                    seen.add((t.subject_type, t.subject_id))
                    key = who or "—"
                    waiting[key] = waiting.get(key, 0) + 1
            card[name] = entries
        card["waiting_on"] = [
            {"name": k, "count": v} for k, v in sorted(waiting.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        for k in lists:
            totals[k] += c[k]
        cards.append(card)
    return {"departments": cards, "totals": totals, "since": since.isoformat()}


async def _standup_departments(session: AsyncSession, scope: Scope) -> dict[int, str]:
    stmt = select(Department.id, Department.name).order_by(Department.id)
    if scope.scope == ReportScope.department:
        stmt = stmt.where(Department.id == scope.department_id)
    elif scope.scope == ReportScope.campaign:
        stmt = stmt.where(
            Department.id == select(Campaign.department_id).where(Campaign.id == scope.campaign_id).scalar_subquery()
        )
    return {r[0]: r[1] for r in await session.execute(stmt)}


async def _names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {r[0]: r[1] for r in await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))}


def headline(kind: ReportKind, body: dict[str, Any]) -> dict[str, Any]:
    """The few numbers the chat card shows."""
    if kind == ReportKind.daily_standup:
        return dict(body["totals"])
    out: dict[str, Any] = {}
    if "kpis" in body:
        out["kpis_met"] = f"{body['kpis']['met']}/{body['kpis']['total']}"
    if "budget" in body:
        out["budget_burn"] = body["budget"]["burn"]
    if "rectifications" in body:
        out["rectifications_opened"] = body["rectifications"]["opened"]
        out["rectifications_verified"] = body["rectifications"]["verified"]
    if "risks" in body:
        out["risks_high"] = body["risks"]["levels"][0]["open"]
        out["risks_open"] = body["risks"]["open"]
    if "process" in body and "current" in body["process"]:
        out["tasks_overdue_rate"] = body["process"]["current"]["overdue_rate"]
    return out
