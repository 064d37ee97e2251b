"""Reports and digests pushed to chat: schedules, the stored reports (JSON) and their pages (HTML
with server-drawn SVG charts, opened with a token or a signed link from the chat card)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Query, status
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select

from services.api import versions
from services.api.common import ArchivedQ, CursorQ, LimitQ, PageOut, reject_nulls
from services.api.deps import ActorDep, AdminDep, ManagerDep, NowDep, SessionDep, SettingsDep, bearer
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared import crud
from shared.access import policy as access
from shared.archive import archived_filter
from shared.campaigns.sla import CampaignItem
from shared.errors import Unauthorized
from shared.links import verify
from shared.org.tokens import authenticate
from shared.pagination import paginate
from shared.reports import render
from shared.reports import service as reports
from shared.reports.models import Report, ReportKind, ReportSchedule, ReportScope
from shared.reports.schemas import (
    KIND_DOC,
    ReportRead,
    ReportRun,
    ReportScheduleCreate,
    ReportScheduleRead,
    ReportScheduleUpdate,
    ReportSummary,
)
from shared.settings import Settings

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["reports"])

_SCHEDULE = versions.row(ReportSchedule, id="schedule_id")  # where its version (ETag) is


def _signer(settings: Settings) -> reports.LinkSigner:
    return reports.LinkSigner(settings.secret_key.get_secret_value(), timedelta(days=settings.report_link_ttl_days))


@router.post(
    "/report-schedules",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportScheduleRead,
    operation_id="createReportSchedule",
    description=f"Schedule a report pushed to chat. {KIND_DOC}. The first report is the first period due after "
    "now: nothing is back-filled.",
)
async def create_schedule(
    body: ReportScheduleCreate, session: SessionDep, actor: ManagerDep, now: NowDep
) -> ReportSchedule:
    access.require_department(actor, body.department_id)
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    return await reports.create_schedule(session, actor=actor, data=body, now=now)


@router.get("/report-schedules", response_model=PageOut[ReportScheduleRead], operation_id="listReportSchedules")
async def list_schedules(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    kind: ReportKind | None = None,
    scope: ReportScope | None = None,
    archived: ArchivedQ = False,
) -> dict:
    """The report schedules."""
    stmt = access.visible(archived_filter(select(ReportSchedule), ReportSchedule, archived), actor)
    if kind is not None:
        stmt = stmt.where(ReportSchedule.kind == kind)
    if scope is not None:
        stmt = stmt.where(ReportSchedule.scope == scope)
    page = await paginate(session, stmt, ReportSchedule.id, limit=limit, cursor=cursor)
    return {"items": list(page.items), "next_cursor": page.next_cursor}


@router.get(
    "/report-schedules/{schedule_id}",
    dependencies=[versions.reads(_SCHEDULE)],
    response_model=ReportScheduleRead,
    operation_id="getReportSchedule",
    responses=NOT_FOUND,
)
async def get_schedule(schedule_id: int, session: SessionDep, actor: ActorDep) -> ReportSchedule:
    """One schedule."""
    await access.require_read(session, actor, access.Kind.report_schedule, schedule_id)
    return await crud.get_or_404(session, ReportSchedule, schedule_id)


@router.patch(
    "/report-schedules/{schedule_id}",
    dependencies=[versions.writes(_SCHEDULE)],
    response_model=ReportScheduleRead,
    operation_id="updateReportSchedule",
    responses=NOT_FOUND,
)
async def update_schedule(
    schedule_id: int, body: ReportScheduleUpdate, session: SessionDep, actor: ManagerDep
) -> ReportSchedule:
    """Change a schedule (audited)."""
    await access.require_write(session, actor, access.Kind.report_schedule, schedule_id)
    reject_nulls(body.model_dump(exclude_unset=True), ("name", "channel_ids", "send_at", "locale", "enabled"))
    return await reports.update_schedule(session, actor=actor, schedule_id=schedule_id, changes=body)


@router.delete(
    "/report-schedules/{schedule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteReportSchedule",
    responses=NOT_FOUND,
)
async def delete_schedule(schedule_id: int, session: SessionDep, actor: ManagerDep, now: NowDep) -> None:
    """A schedule that never produced a report is deleted. One that did is archived and disabled
    (it produces no more; `?archived=true` lists it) and its reports stay readable, still naming
    it; audited as `archive`."""
    await access.require_write(session, actor, access.Kind.report_schedule, schedule_id)
    await reports.delete_schedule(session, actor=actor, schedule_id=schedule_id, now=now)


@router.post(
    "/report-schedules/{schedule_id}/run",
    response_model=ReportRun,
    operation_id="runReportSchedule",
    responses=NOT_FOUND,
)
async def run_schedule(
    schedule_id: int, session: SessionDep, actor: AdminDep, now: NowDep, settings: SettingsDep
) -> dict:
    """Produce the current period's report now (the period containing today) and send its card —
    once: a second run, or the worker when the period falls due, finds it and sends nothing."""
    report, created = await reports.run_now(session, schedule_id=schedule_id, now=now, links=_signer(settings))
    return {"report": report, "created": created}


@router.get("/reports", response_model=PageOut[ReportSummary], operation_id="listReports")
async def list_reports(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    kind: ReportKind | None = None,
    scope: ReportScope | None = None,
    schedule_id: int | None = None,
    department_id: Annotated[int | None, Query(description="reports scoped to this department")] = None,
    campaign_id: Annotated[int | None, Query(description="reports scoped to this campaign")] = None,
) -> dict:
    """Stored reports, newest first within a page's cursor order."""
    stmt = access.visible(select(Report), actor)
    for column, value in (
        (Report.kind, kind),
        (Report.scope, scope),
        (Report.schedule_id, schedule_id),
        (Report.department_id, department_id),
        (Report.campaign_id, campaign_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    page = await paginate(session, stmt, Report.id, limit=limit, cursor=cursor)
    return {"items": list(page.items), "next_cursor": page.next_cursor}


# Before `/reports/{report_id}`: that route's int parameter would otherwise answer `5.html` with a 422.
@router.get(
    "/reports/{report_id}.html",
    response_class=HTMLResponse,
    operation_id="getReportPage",
    responses={**NOT_FOUND, 200: {"content": {"text/html": {}}, "description": "the report's page"}},
)
async def report_page(
    report_id: int,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    exp: Annotated[int | None, Query(description="signed link: expiry (unix seconds)")] = None,
    sig: Annotated[str | None, Query(max_length=128, description="signed link: HMAC-SHA256 signature")] = None,
) -> HTMLResponse:
    """The report as a page: HTML with SVG charts drawn on the server, no JavaScript. Opens with a
    bearer token, or without one through the signed, expiring link the chat card carries
    (`?exp=…&sig=…`; a tampered or expired link is a 403)."""
    if credentials is not None and credentials.credentials:
        actor = await authenticate(session, bearer=credentials.credentials, now=now)
        await access.require_read(session, actor, access.Kind.report, report_id)
    elif exp is not None and sig is not None:
        verify(reports.page_path(report_id), exp=exp, sig=sig, now=now, secrets=settings.secret_keys)
    else:
        raise Unauthorized("send `Authorization: Bearer <token>` or open the signed link (`exp` and `sig`)")
    report = await crud.get_or_404(session, Report, report_id)
    return HTMLResponse(render.page(report.snapshot, link=lambda path: f"{settings.public_url}{path}"))


@router.get("/reports/{report_id}", response_model=ReportRead, operation_id="getReport", responses=NOT_FOUND)
async def get_report(report_id: int, session: SessionDep, actor: ActorDep) -> Report:
    """A report's stored snapshot (JSON)."""
    await access.require_read(session, actor, access.Kind.report, report_id)
    return await crud.get_or_404(session, Report, report_id)
