"""Process analytics, computed in PostgreSQL: each function runs one aggregate query (filters on an
indexed column, `count … FILTER`, `percentile_cont`, `rank()`) and returns a `Table`; no item row
is loaded into Python.

Which index serves which query (migration 0016):

- `stage_cycle_times`, `bottlenecks` — `ix_campaign_stages_exited_at` (stages left in the period,
  covering `campaign_id, key, cycle_wd, limit_wd`), then campaigns and templates by primary key.
- `campaign_cycle_times` — `ix_campaigns_completed_at`.
- `task_timeliness` — `ix_tasks_due_at` (tasks due in the period, covering status, completion,
  assignee and campaign), users by primary key.
- `review_delay` — `ix_review_responses_requested_at`.
- `communications` — `ix_review_responses_requested_at`, `ix_collaboration_requests_created_at`,
  `ix_collaboration_occurrences_opened_at`.
- `sla_compliance` — `ix_sla_timers_due_at` (covering type, policy, state, met_at, department).
- `feedback_response` — `ix_feedback_received_at`.

Working days come from `cycle_wd` / `limit_wd`, stored when a stage or campaign finishes
(`shared.workflow.cycle`): items finished before migration 0016 have none and are not counted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Numeric,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.analytics.period import AnalyticsFilter, Bucket, Period, parse_period
from shared.analytics.schemas import TaskGrouping
from shared.analytics.table import Table
from shared.models import (
    Campaign,
    CampaignStage,
    CollaborationOccurrence,
    CollaborationRequest,
    Department,
    Feedback,
    FeedbackKind,
    ResponseStatus,
    ReviewRequest,
    ReviewResponse,
    SlaPolicy,
    SlaTimer,
    StageStatus,
    Task,
    TaskStatus,
    TimerState,
    User,
    WorkflowTemplate,
)
from shared.sla.directory import load_calendars
from shared.workflow.sla import StageSubject

DEFAULT_BENCHMARK_DAYS = 15  # seed 001/003: the industry's reference cycle, 15 days (ours: 22)
# Seed 001/003's first-response promises: feedback within 24 hours, a complaint within 2 (wall clock).
FIRST_RESPONSE_TARGETS = {FeedbackKind.feedback: timedelta(hours=24), FeedbackKind.complaint: timedelta(hours=2)}
REVIEW_FEEDBACK_TARGET_HOURS = 24

TIMELINESS_DOC = (
    "Which tasks count: those **due within the period** (`due_at` in it), **cancelled tasks excluded**. "
    "**Overdue**: done after its due instant, or still open (to do, in progress, blocked) after its due "
    "instant as of now. **On time**: done at or before its due instant. `overdue_rate` = overdue ÷ counted "
    "and `on_time_rate` = on time ÷ counted; open tasks not yet due (`open_not_due`) stay in the count, so "
    "a period still running reads low on both until its tasks are due. A task's department is its "
    "assignee's; `group_by=period` slices by the due date's local day (a period of up to 7 days), ISO week "
    "(up to 31 days) or month."
)
REVIEW_DELAY_DOC = (
    "Cross-department review feedback delay per reviewing department: the reviewer's answers in rounds "
    "requested in the period, where the reviewing department (a named reviewer's own department) differs "
    "from the requesting one; answers cancelled because the review was decided first are left out. Hours "
    "are **wall-clock hours** from the round's request to the answer: the review feedback promise is 24 "
    "hours of calendar time (the default `response_target` of a review), so the delay is measured on the "
    "same clock it is promised on."
)


async def company_filter(
    session: AsyncSession,
    period: str | Period | None = None,
    first: date | None = None,
    last: date | None = None,
    *,
    now: datetime,
    department_ids: tuple[int, ...] = (),
    template: str | None = None,
) -> AnalyticsFilter:
    """The filter of a period (`"2026-10"`, a `Period`, or `first`/`last` days; none: the current
    month) read in the company's time zone, the default calendar's (422s name the query parameter)."""
    cal = (await load_calendars(session, []))[None]
    if not isinstance(period, Period):
        period = parse_period(period, first, last, today=now.astimezone(cal.tz).date())
    return AnalyticsFilter.of(
        period, tz=cal.tz, timezone=cal.timezone, now=now, department_ids=department_ids, template=template
    )


def _rate(part: ColumnElement[Any], whole: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(part, Numeric) / func.nullif(whole, 0)


def _p(fraction: float, column: Any) -> ColumnElement[Any]:
    return func.percentile_cont(fraction).within_group(column)


def _hours(later: Any, earlier: Any) -> ColumnElement[Any]:
    return extract("epoch", later - earlier) / 3600.0


def _in_period(column: Any, f: AnalyticsFilter) -> ColumnElement[bool]:
    return and_(column >= f.start, column < f.end)


def _campaign_template_is(campaign_id: Any, f: AnalyticsFilter) -> ColumnElement[bool]:
    """The item's campaign runs on a version of template `f.template`."""
    return campaign_id.in_(
        select(Campaign.id)
        .join(WorkflowTemplate, WorkflowTemplate.id == Campaign.template_id)
        .where(WorkflowTemplate.key == f.template)
    )


async def _table(
    session: AsyncSession, name: str, stmt: Any, columns: tuple[str, ...], definitions: dict[str, str]
) -> Table:
    rows = (await session.execute(stmt)).mappings().all()
    return Table.from_rows(name, columns, definitions, rows)


# ---- stages --------------------------------------------------------------------------------------
STAGE_COLUMNS = (
    "template",
    "stage",
    "stage_name",
    "count",
    "mean_wd",
    "p50_wd",
    "p90_wd",
    "limit_wd",
    "breaches",
    "breach_rate",
    "cycle_to_limit",
)
STAGE_DEFINITIONS = {
    "count": "stages of this template stage left through their gate in the period",
    "mean_wd": "mean cycle time in working days on the stage's calendar (its SLA timer's, else the default): "
    "working time from entry to exit ÷ the calendar's standard working day (its workday hours, 9 h by default)",
    "p50_wd": "median cycle time in working days",
    "p90_wd": "90th percentile (continuous) of the cycle time in working days",
    "limit_wd": "the template's time limit in working days (mean over the stages counted; working_hours ÷ the "
    "working day, calendar and daily_at limits as the working time their deadline left at entry); "
    "empty when the stage has no limit",
    "breaches": "stages whose cycle exceeded their limit",
    "breach_rate": "breaches ÷ stages counted that have a limit",
    "cycle_to_limit": "mean_wd ÷ limit_wd (above 1: the stage overruns its limit on average)",
}


def _stage_stats(f: AnalyticsFilter) -> Any:
    s = CampaignStage
    has_limit = s.limit_wd.is_not(None)
    stmt = (
        select(
            WorkflowTemplate.key.label("template"),
            s.key.label("stage"),
            func.min(s.name).label("stage_name"),
            func.min(s.position).label("position"),
            func.count().label("count"),
            func.avg(s.cycle_wd).label("mean_wd"),
            _p(0.5, s.cycle_wd).label("p50_wd"),
            _p(0.9, s.cycle_wd).label("p90_wd"),
            func.avg(s.limit_wd).label("limit_wd"),
            func.count().filter(s.cycle_wd > s.limit_wd).label("breaches"),
            _rate(func.count().filter(s.cycle_wd > s.limit_wd), func.count().filter(has_limit)).label("breach_rate"),
            (func.avg(s.cycle_wd) / func.nullif(func.avg(s.limit_wd), 0)).label("cycle_to_limit"),
        )
        .join(Campaign, Campaign.id == s.campaign_id)
        .join(WorkflowTemplate, WorkflowTemplate.id == Campaign.template_id)
        .where(_in_period(s.exited_at, f), s.status == StageStatus.done, s.cycle_wd.is_not(None))
        .group_by(WorkflowTemplate.key, s.key)
    )
    if f.department_ids:
        stmt = stmt.where(Campaign.department_id.in_(f.department_ids))
    if f.template:
        stmt = stmt.where(WorkflowTemplate.key == f.template)
    return stmt


async def stage_cycle_times(session: AsyncSession, f: AnalyticsFilter) -> Table:
    """Per template stage: count, mean / p50 / p90 cycle in working days, limit, breach rate."""
    stats = _stage_stats(f).subquery()
    stmt = select(*(stats.c[c] for c in STAGE_COLUMNS)).order_by(stats.c.template, stats.c.position)
    return await _table(session, "stages", stmt, STAGE_COLUMNS, STAGE_DEFINITIONS)


BOTTLENECK_COLUMNS = ("rank_by_cycle_to_limit", "rank_by_breach_rate", *STAGE_COLUMNS)


async def bottlenecks(session: AsyncSession, f: AnalyticsFilter) -> Table:
    """The stages ranked by cycle ÷ limit and by breach rate (1 = the worst; stages without a
    limit come last)."""
    stats = _stage_stats(f).subquery()
    by_ratio = func.rank().over(order_by=stats.c.cycle_to_limit.desc().nulls_last())
    by_breaches = func.rank().over(order_by=stats.c.breach_rate.desc().nulls_last())
    ranked = select(
        by_ratio.label("rank_by_cycle_to_limit"), by_breaches.label("rank_by_breach_rate"), *stats.c
    ).subquery()
    stmt = select(*(ranked.c[c] for c in BOTTLENECK_COLUMNS)).order_by(
        ranked.c.rank_by_cycle_to_limit, ranked.c.rank_by_breach_rate, ranked.c.template, ranked.c.position
    )
    definitions = {
        "rank_by_cycle_to_limit": "1 = the stage that overruns its limit the most (cycle_to_limit descending; "
        "ties share a rank; stages without a limit last)",
        "rank_by_breach_rate": "1 = the stage that breaches its limit most often (breach_rate descending)",
        **STAGE_DEFINITIONS,
    }
    return await _table(session, "bottlenecks", stmt, BOTTLENECK_COLUMNS, definitions)


# ---- campaigns -----------------------------------------------------------------------------------
CAMPAIGN_COLUMNS = (
    "template",
    "count",
    "mean_wd",
    "p50_wd",
    "p90_wd",
    "benchmark_wd",
    "over_benchmark",
    "share_within",
)


async def campaign_cycle_times(
    session: AsyncSession, f: AnalyticsFilter, *, benchmark_days: float = DEFAULT_BENCHMARK_DAYS
) -> Table:
    """Campaign cycle time in working days against a benchmark, per template and for all together."""
    c = Campaign
    within = func.count().filter(c.cycle_wd <= benchmark_days)
    stmt = (
        select(
            WorkflowTemplate.key.label("template"),
            func.count().label("count"),
            func.avg(c.cycle_wd).label("mean_wd"),
            _p(0.5, c.cycle_wd).label("p50_wd"),
            _p(0.9, c.cycle_wd).label("p90_wd"),
            literal(benchmark_days, Numeric).label("benchmark_wd"),
            (func.avg(c.cycle_wd) - benchmark_days).label("over_benchmark"),
            _rate(within, func.count()).label("share_within"),
        )
        .join(WorkflowTemplate, WorkflowTemplate.id == c.template_id)
        .where(_in_period(c.completed_at, f), c.cycle_wd.is_not(None))
        .group_by(func.rollup(WorkflowTemplate.key))
        .order_by(WorkflowTemplate.key.nulls_last())
    )
    if f.department_ids:
        stmt = stmt.where(c.department_id.in_(f.department_ids))
    if f.template:
        stmt = stmt.where(WorkflowTemplate.key == f.template)
    definitions = {
        "template": "the template key; the row with an empty template is every campaign together",
        "count": "campaigns completed (through their last gate) in the period",
        "mean_wd": "mean cycle time in working days on the default calendar, from the first stage's entry to "
        "completion (working time ÷ the standard working day)",
        "p50_wd": "median cycle time in working days",
        "p90_wd": "90th percentile (continuous) of the cycle time in working days",
        "benchmark_wd": "the benchmark (query benchmark_days; default 15, seed 001/003's industry reference)",
        "over_benchmark": "mean_wd − benchmark_wd (positive: slower than the benchmark)",
        "share_within": "share of the campaigns completed within the benchmark",
    }
    return await _table(session, "campaign-cycle", stmt, CAMPAIGN_COLUMNS, definitions)


# ---- tasks ---------------------------------------------------------------------------------------
TIMELINESS_COUNTS = ("tasks", "overdue", "on_time", "open_not_due", "overdue_rate", "on_time_rate")
TIMELINESS_KEYS = {
    TaskGrouping.department: ("department_id", "department"),
    TaskGrouping.assignee: ("assignee_id", "assignee", "department"),
    TaskGrouping.period: ("period_start",),
}


async def task_timeliness(session: AsyncSession, f: AnalyticsFilter, *, group_by: TaskGrouping) -> Table:
    """Task overdue rate and on-time completion rate by department, assignee or period."""
    t = Task
    done = t.status == TaskStatus.done
    counts = {
        "tasks": func.count(),
        "overdue": func.count().filter(or_(and_(done, t.completed_at > t.due_at), and_(~done, t.due_at <= f.now))),
        "on_time": func.count().filter(done, t.completed_at <= t.due_at),
        "open_not_due": func.count().filter(~done, t.due_at > f.now),
    }
    # Count on the index alone first (by assignee or slice), then name the few groups: the join to
    # people and departments runs over thousands of groups, not over every task of the period.
    if group_by == TaskGrouping.period:
        unit = {Bucket.day: "day", Bucket.week: "week", Bucket.month: "month"}[f.bucket]
        inner_key = func.date(func.date_trunc(unit, func.timezone(f.timezone, t.due_at))).label("period_start")
    else:
        inner_key = t.assignee_id.label("assignee_id")
    inner = (
        select(inner_key, *(count.label(name) for name, count in counts.items()))
        .where(_in_period(t.due_at, f), t.status != TaskStatus.cancelled)
        .group_by(inner_key)
    )
    if f.department_ids:
        inner = inner.where(t.assignee_id.in_(select(User.id).where(User.department_id.in_(f.department_ids))))
    if f.template:
        inner = inner.where(_campaign_template_is(t.campaign_id, f))
    per = inner.subquery()
    numbers: dict[str, Any] = {name: per.c[name] for name in counts}
    if group_by == TaskGrouping.department:
        numbers = {name: cast(func.sum(per.c[name]), BigInteger) for name in counts}
    rates = (
        _rate(numbers["overdue"], numbers["tasks"]).label("overdue_rate"),
        _rate(numbers["on_time"], numbers["tasks"]).label("on_time_rate"),
    )
    figures = (*(value.label(name) for name, value in numbers.items()), *rates)
    department = aliased(Department)
    stmt: Any
    if group_by == TaskGrouping.period:
        stmt = select(per.c.period_start, *figures).order_by(per.c.period_start)
    elif group_by == TaskGrouping.assignee:
        stmt = (
            select(per.c.assignee_id, User.name.label("assignee"), department.name.label("department"), *figures)
            .select_from(per)
            .outerjoin(User, User.id == per.c.assignee_id)
            .outerjoin(department, department.id == User.department_id)
            .order_by(per.c.assignee_id)
        )
    else:
        keys = (User.department_id.label("department_id"), department.name.label("department"))
        stmt = (
            select(*keys, *figures)
            .select_from(per)
            .outerjoin(User, User.id == per.c.assignee_id)
            .outerjoin(department, department.id == User.department_id)
            .group_by(*keys)
            .order_by(User.department_id)
        )
    columns = (*TIMELINESS_KEYS[group_by], *TIMELINESS_COUNTS)
    definitions = {
        "tasks": "tasks due within the period, cancelled excluded",
        "overdue": "done after the due instant, or still open after it as of now",
        "on_time": "done at or before the due instant",
        "open_not_due": "still open, due instant not reached yet",
        "overdue_rate": "overdue ÷ tasks (seed 001's goal: from 30 % to 10 %)",
        "on_time_rate": "on_time ÷ tasks",
        "period_start": "the first local day of the slice (day, ISO week or month)",
        "department": "the assignee's department",
    }
    return await _table(session, f"task-timeliness-{group_by.value}", stmt, columns, definitions)


# ---- reviews and collaboration ---------------------------------------------------------------------
REVIEW_COLUMNS = ("department_id", "department", "answered", "waiting", "mean_hours", "p90_hours", "share_within_24h")


async def review_delay(session: AsyncSession, f: AnalyticsFilter) -> Table:
    """Cross-department review feedback delay per reviewing department (wall-clock hours)."""
    r = ReviewResponse
    reviewer = aliased(User)
    reviewing = func.coalesce(r.department_id, reviewer.department_id)
    answered = r.answered_at.is_not(None)
    hours = _hours(r.answered_at, r.requested_at)
    stmt = (
        select(
            reviewing.label("department_id"),
            func.min(Department.name).label("department"),
            func.count().filter(answered).label("answered"),
            func.count().filter(r.status == ResponseStatus.pending).label("waiting"),
            func.avg(hours).label("mean_hours"),
            _p(0.9, hours).label("p90_hours"),
            _rate(func.count().filter(hours <= REVIEW_FEEDBACK_TARGET_HOURS), func.count().filter(answered)).label(
                "share_within_24h"
            ),
        )
        .select_from(r)
        .join(ReviewRequest, ReviewRequest.id == r.review_id)
        .outerjoin(reviewer, reviewer.id == r.user_id)
        .outerjoin(Department, Department.id == reviewing)
        .where(
            _in_period(r.requested_at, f),
            r.status != ResponseStatus.cancelled,
            reviewing.is_not(None),
            reviewing.is_distinct_from(ReviewRequest.department_id),
        )
        .group_by(reviewing)
        .order_by(reviewing)
    )
    if f.department_ids:
        stmt = stmt.where(reviewing.in_(f.department_ids))
    if f.template:
        stmt = stmt.where(_campaign_template_is(ReviewRequest.campaign_id, f))
    definitions = {
        "answered": "answers given (rounds requested in the period)",
        "waiting": "rounds requested in the period still waiting for this department",
        "mean_hours": "mean wall-clock hours from the round's request to the answer",
        "p90_hours": "90th percentile (continuous) of those hours",
        "share_within_24h": "share of the answers given within 24 wall-clock hours",
    }
    return await _table(session, "review-delay", stmt, REVIEW_COLUMNS, definitions)


COMMUNICATION_COLUMNS = (
    "from_department_id",
    "from_department",
    "to_department_id",
    "to_department",
    "reviews",
    "review_rounds",
    "collaboration_requests",
    "collaboration_occurrences",
    "communications",
)


async def communications(session: AsyncSession, f: AnalyticsFilter) -> Table:
    """Cross-department communications per (from department, to department) pair."""
    r, q = ReviewResponse, ReviewRequest
    reviewer = aliased(User)
    to_reviewer = func.coalesce(r.department_id, reviewer.department_id)
    zero = literal(0)
    reviews = (
        select(
            q.department_id.label("from_id"),
            to_reviewer.label("to_id"),
            func.count(func.distinct(r.review_id)).label("reviews"),
            func.count(func.distinct(func.row(r.review_id, r.round))).label("review_rounds"),
            zero.label("requests"),
            zero.label("occurrences"),
        )
        .select_from(r)
        .join(q, q.id == r.review_id)
        .outerjoin(reviewer, reviewer.id == r.user_id)
        .where(_in_period(r.requested_at, f))
        .group_by(q.department_id, to_reviewer)
    )
    cr = CollaborationRequest
    collaborating = func.unnest(cr.collaborating_department_ids).table_valued("to_id").render_derived()
    requests = (
        select(
            cr.initiating_department_id.label("from_id"),
            collaborating.c.to_id,
            zero.label("reviews"),
            zero.label("review_rounds"),
            func.count().label("requests"),
            zero.label("occurrences"),
        )
        .select_from(cr)
        .join(collaborating, literal(True))
        .where(_in_period(cr.created_at, f))
        .group_by(cr.initiating_department_id, collaborating.c.to_id)
    )
    occ_collaborating = func.unnest(cr.collaborating_department_ids).table_valued("to_id").render_derived()
    occurrences = (
        select(
            cr.initiating_department_id.label("from_id"),
            occ_collaborating.c.to_id,
            zero.label("reviews"),
            zero.label("review_rounds"),
            zero.label("requests"),
            func.count().label("occurrences"),
        )
        .select_from(CollaborationOccurrence)
        .join(cr, cr.id == CollaborationOccurrence.request_id)
        .join(occ_collaborating, literal(True))
        .where(_in_period(CollaborationOccurrence.opened_at, f))
        .group_by(cr.initiating_department_id, occ_collaborating.c.to_id)
    )
    if f.template:
        reviews = reviews.where(_campaign_template_is(q.campaign_id, f))
        requests = requests.where(_campaign_template_is(cr.campaign_id, f))
        occurrences = occurrences.where(_campaign_template_is(cr.campaign_id, f))
    pairs = union_all(reviews, requests, occurrences).subquery()
    source, target = aliased(Department), aliased(Department)
    stmt = (
        select(
            pairs.c.from_id.label("from_department_id"),
            func.min(source.name).label("from_department"),
            pairs.c.to_id.label("to_department_id"),
            func.min(target.name).label("to_department"),
            func.sum(pairs.c.reviews).label("reviews"),
            func.sum(pairs.c.review_rounds).label("review_rounds"),
            func.sum(pairs.c.requests).label("collaboration_requests"),
            func.sum(pairs.c.occurrences).label("collaboration_occurrences"),
            (func.sum(pairs.c.review_rounds) + func.sum(pairs.c.occurrences)).label("communications"),
        )
        .outerjoin(source, source.id == pairs.c.from_id)
        .outerjoin(target, target.id == pairs.c.to_id)
        .where(pairs.c.from_id.is_not(None), pairs.c.to_id.is_not(None), pairs.c.from_id != pairs.c.to_id)
        .group_by(pairs.c.from_id, pairs.c.to_id)
        .order_by(pairs.c.from_id, pairs.c.to_id)
    )
    if f.department_ids:
        stmt = stmt.where(or_(pairs.c.from_id.in_(f.department_ids), pairs.c.to_id.in_(f.department_ids)))
    definitions = {
        "from_department": "the department that asks: a review's requesting department, a collaboration "
        "request's initiating department",
        "to_department": "the department asked: a reviewing department (a named reviewer's own), a "
        "collaborating department",
        "reviews": "reviews with a round asked of this department in the period",
        "review_rounds": "rounds asked of this department in the period",
        "collaboration_requests": "collaboration requests raised in the period naming this department",
        "collaboration_occurrences": "occurrences (a recurring request's working days; one for a one-off) "
        "opened in the period",
        "communications": "review_rounds + collaboration_occurrences: each round asked and each occurrence "
        "opened is one communication",
    }
    return await _table(session, "communications", stmt, COMMUNICATION_COLUMNS, definitions)


# ---- SLA and feedback ----------------------------------------------------------------------------
SLA_COLUMNS = ("subject_type", "policy_id", "policy", "met_on_time", "met_late", "breached", "open", "compliance_rate")


async def sla_compliance(session: AsyncSession, f: AnalyticsFilter) -> Table:
    """Per subject type and policy: timers met on time, met late, breached, open; compliance rate."""
    t = SlaTimer
    running, met = t.state == TimerState.running, t.state == TimerState.met
    on_time = func.count().filter(met, t.met_at <= t.due_at)
    late = func.count().filter(met, t.met_at > t.due_at)
    breached = func.count().filter(running, t.due_at <= f.now)
    stmt = (
        select(
            t.subject_type.label("subject_type"),
            t.policy_id.label("policy_id"),
            func.min(SlaPolicy.name).label("policy"),
            on_time.label("met_on_time"),
            late.label("met_late"),
            breached.label("breached"),
            func.count().filter(or_(and_(running, t.due_at > f.now), t.state == TimerState.paused)).label("open"),
            _rate(on_time, on_time + late + breached).label("compliance_rate"),
        )
        .select_from(t)
        .outerjoin(SlaPolicy, SlaPolicy.id == t.policy_id)
        .where(_in_period(t.due_at, f), t.state != TimerState.cancelled)
        .group_by(t.subject_type, t.policy_id)
        .order_by(t.subject_type, t.policy_id)
    )
    if f.department_ids:
        stmt = stmt.where(t.department_id.in_(f.department_ids))
    if f.template:
        stage_ids = (
            select(CampaignStage.id)
            .join(Campaign, Campaign.id == CampaignStage.campaign_id)
            .join(WorkflowTemplate, WorkflowTemplate.id == Campaign.template_id)
            .where(WorkflowTemplate.key == f.template)
        )
        stmt = stmt.where(t.subject_type == StageSubject.stage, t.subject_id.in_(stage_ids))
    definitions = {
        "subject_type": "the kind of timed item",
        "met_on_time": "timers due in the period, met at or before their due instant",
        "met_late": "met after their due instant",
        "breached": "not met, running past their due instant as of now",
        "open": "not met, not yet due (or paused); cancelled timers are not counted",
        "compliance_rate": "met_on_time ÷ (met_on_time + met_late + breached)",
        "template": "with a template, only the campaign-stage timers of campaigns on it",
    }
    return await _table(session, "sla-compliance", stmt, SLA_COLUMNS, definitions)


FEEDBACK_COLUMNS = (
    "kind",
    "received",
    "responded",
    "mean_hours",
    "p90_hours",
    "target_hours",
    "within_target",
    "late",
    "awaiting",
    "share_within_target",
)


async def feedback_response(session: AsyncSession, f: AnalyticsFilter) -> Table:
    """Feedback and complaint first-response times against their 24 h / 2 h targets."""
    fb = Feedback
    target_hours = case(
        *((fb.kind == kind, literal(target.total_seconds() / 3600)) for kind, target in FIRST_RESPONSE_TARGETS.items()),
        else_=null(),
    )
    hours = _hours(fb.first_response_at, fb.received_at)
    elapsed = _hours(literal(f.now), fb.received_at)
    responded = fb.first_response_at.is_not(None)
    within = func.count().filter(hours <= target_hours)
    late = func.count().filter(or_(hours > target_hours, and_(~responded, elapsed > target_hours)))
    stmt = (
        select(
            fb.kind.label("kind"),
            func.count().label("received"),
            func.count().filter(responded).label("responded"),
            func.avg(hours).label("mean_hours"),
            _p(0.9, hours).label("p90_hours"),
            func.min(target_hours).label("target_hours"),
            within.label("within_target"),
            late.label("late"),
            func.count().filter(~responded, elapsed <= target_hours).label("awaiting"),
            _rate(within, within + late).label("share_within_target"),
        )
        .where(_in_period(fb.received_at, f))
        .group_by(fb.kind)
        .order_by(fb.kind)
    )
    if f.department_ids:
        stmt = stmt.where(fb.department_id.in_(f.department_ids))
    if f.template:
        stmt = stmt.where(_campaign_template_is(fb.campaign_id, f))
    definitions = {
        "received": "feedback of this kind received in the period",
        "responded": "of those, first responded to (the first response recorded on the item)",
        "mean_hours": "mean wall-clock hours from receipt to the first response",
        "p90_hours": "90th percentile (continuous) of those hours",
        "target_hours": "the first-response target: feedback 24 h, complaint 2 h (seed 001/003)",
        "within_target": "first responded to within the target",
        "late": "first responded to after the target, or not yet and the target has passed",
        "awaiting": "not responded to yet, target not passed",
        "share_within_target": "within_target ÷ (within_target + late)",
    }
    return await _table(session, "feedback-response", stmt, FEEDBACK_COLUMNS, definitions)
