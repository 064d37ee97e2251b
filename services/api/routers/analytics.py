"""Process analytics (流程分析): JSON or, with `format=csv`, the same table as a UTF-8 CSV with BOM."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import Response

from services.api.common import ANY_OF, AnyOf
from services.api.deps import ActorDep, NowDep, SessionDep
from services.api.problems import ERROR_RESPONSES
from services.api.routing import Router
from shared.access import policy as access
from shared.analytics import service as analytics
from shared.analytics.period import PERIOD_DOC, AnalyticsFilter
from shared.analytics.schemas import AnalyticsFiltersRead, AnalyticsFormat, AnalyticsRead, TaskGrouping
from shared.analytics.table import Table

router = Router(prefix="/api/v1/analytics", responses=ERROR_RESPONSES, tags=["analytics"])
CSV_DOC = "`csv`: the same rows as CSV (UTF-8 with BOM, a header row), as a download named `<table>-<period>.csv`"


async def _filter(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    period: Annotated[str | None, Query(max_length=20, description=PERIOD_DOC)] = None,
    first: Annotated[date | None, Query(alias="from", description="first local day (with `to`)")] = None,
    last: Annotated[date | None, Query(alias="to", description="last local day, included (with `from`)")] = None,
    department_id: Annotated[
        list[int] | None, AnyOf, Query(description=f"only these departments: {ANY_OF}; see each table's definitions")
    ] = None,
    template: Annotated[str | None, Query(max_length=64, description="only campaigns on this template key")] = None,
) -> AnalyticsFilter:
    return await analytics.company_filter(
        session,
        period,
        first,
        last,
        now=now,
        department_ids=access.department_scopes(actor, tuple(department_id or ())),
        template=template,
    )


FilterDep = Annotated[AnalyticsFilter, Depends(_filter)]
FormatQ = Annotated[AnalyticsFormat, Query(description=CSV_DOC)]


def _answer(table: Table, f: AnalyticsFilter, fmt: AnalyticsFormat, **options: Any) -> Any:
    if fmt == AnalyticsFormat.csv:
        return Response(
            content=table.to_csv().encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{table.name}-{f.label}.csv"'},
        )
    return AnalyticsRead(
        filters=AnalyticsFiltersRead(
            period=f.label,
            first_day=f.first_day,
            last_day=f.last_day,
            timezone=f.timezone,
            department_ids=list(f.department_ids),
            template=f.template,
            options=options,
        ),
        definitions=table.definitions,
        columns=list(table.columns),
        rows=table.rows,
    )


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


@router.get(
    "/stages",
    response_model=AnalyticsRead,
    responses=CSV_RESPONSE,
    operation_id="getStageCycleTimes",
    description="Per template and stage, the stages left in the period: count, mean, p50 and p90 cycle time in "
    "working days on the stage's calendar, the template's limit in working days, breach rate and cycle ÷ limit. "
    "The department filter is the campaign's department.",
)
async def stage_cycle_times(
    session: SessionDep, actor: ActorDep, f: FilterDep, format: FormatQ = AnalyticsFormat.json
) -> Any:
    return _answer(await analytics.stage_cycle_times(session, f), f, format)


@router.get(
    "/bottlenecks",
    response_model=AnalyticsRead,
    responses=CSV_RESPONSE,
    operation_id="getStageBottlenecks",
    description="The stages of `/analytics/stages` ranked by cycle ÷ limit and by breach rate (both ranks in "
    "each row, 1 the worst), ordered by the first.",
)
async def bottlenecks(
    session: SessionDep, actor: ActorDep, f: FilterDep, format: FormatQ = AnalyticsFormat.json
) -> Any:
    return _answer(await analytics.bottlenecks(session, f), f, format)


@router.get(
    "/campaign-cycle",
    response_model=AnalyticsRead,
    responses=CSV_RESPONSE,
    operation_id="getCampaignCycleTimes",
    description="Campaigns completed in the period: count, mean, p50 and p90 cycle time in working days (default "
    "calendar, first stage entered → last gate passed) against a benchmark, per template and all together.",
)
async def campaign_cycle(
    session: SessionDep,
    actor: ActorDep,
    f: FilterDep,
    benchmark_days: Annotated[
        float, Query(gt=0, le=365, description="the benchmark in working days (seed: industry reference 15, ours 22)")
    ] = analytics.DEFAULT_BENCHMARK_DAYS,
    format: FormatQ = AnalyticsFormat.json,
) -> Any:
    table = await analytics.campaign_cycle_times(session, f, benchmark_days=benchmark_days)
    return _answer(table, f, format, benchmark_days=benchmark_days)


@router.get(
    "/task-timeliness",
    response_model=AnalyticsRead,
    responses=CSV_RESPONSE,
    operation_id="getTaskTimeliness",
    description="Task **overdue rate** and **on-time completion rate** (seed 001's goal: overdue 30 % → 10 %). "
    + analytics.TIMELINESS_DOC
    + " The department filter is the assignee's department.",
)
async def task_timeliness(
    session: SessionDep,
    actor: ActorDep,
    f: FilterDep,
    group_by: Annotated[TaskGrouping, Query(description="one row per department, assignee or slice of the period")] = (
        TaskGrouping.department
    ),
    format: FormatQ = AnalyticsFormat.json,
) -> Any:
    table = await analytics.task_timeliness(session, f, group_by=group_by)
    return _answer(table, f, format, group_by=group_by.value)


@router.get(
    "/review-delay",
    response_model=AnalyticsRead,
    responses=CSV_RESPONSE,
    operation_id="getReviewDelay",
    description=analytics.REVIEW_DELAY_DOC + " The department filter is the reviewing department.",
)
async def review_delay(
    session: SessionDep, actor: ActorDep, f: FilterDep, format: FormatQ = AnalyticsFormat.json
) -> Any:
    return _answer(await analytics.review_delay(session, f), f, format)


@router.get(
    "/communications",
    response_model=AnalyticsRead,
    responses=CSV_RESPONSE,
    operation_id="getCrossDepartmentCommunications",
    description="Cross-department communications per (from department, to department) pair: review requests and "
    "their rounds, collaboration requests and their occurrences. The department filter keeps a pair when either "
    "side is one of them.",
)
async def communications(
    session: SessionDep, actor: ActorDep, f: FilterDep, format: FormatQ = AnalyticsFormat.json
) -> Any:
    return _answer(await analytics.communications(session, f), f, format)


@router.get(
    "/sla-compliance",
    response_model=AnalyticsRead,
    responses=CSV_RESPONSE,
    operation_id="getSlaCompliance",
    description="SLA timers due in the period, per subject type and policy: met on time, met late, breached (not "
    "met, past due), open; compliance rate. The department filter is the timer's department; with `template`, "
    "only campaign-stage timers of campaigns on it.",
)
async def sla_compliance(
    session: SessionDep, actor: ActorDep, f: FilterDep, format: FormatQ = AnalyticsFormat.json
) -> Any:
    return _answer(await analytics.sla_compliance(session, f), f, format)


@router.get(
    "/feedback-response",
    response_model=AnalyticsRead,
    responses=CSV_RESPONSE,
    operation_id="getFeedbackFirstResponse",
    description="Feedback and complaints received in the period: first-response time in wall-clock hours "
    "(count, mean, p90) against the 24 h (feedback) / 2 h (complaint) targets, share within target. The "
    "department filter is the feedback's department.",
)
async def feedback_response(
    session: SessionDep, actor: ActorDep, f: FilterDep, format: FormatQ = AnalyticsFormat.json
) -> Any:
    return _answer(await analytics.feedback_response(session, f), f, format)
