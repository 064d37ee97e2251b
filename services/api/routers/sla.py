"""Working calendars, escalation policies, SLA policies, and the read side of timers."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Query, Request, Response, status
from sqlalchemy import select

from services.api import versions
from services.api.common import CursorQ, LimitQ, PageOut, page_out, reject_nulls
from services.api.deps import ActorDep, ManagerDep, NowDep, SessionDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared import crud, subjects
from shared.access.subjects import visible as visible_subjects
from shared.calendar import CalendarError, Target
from shared.calendar.schedule import (
    MAX_DAYS_SPAN,
    ExportFormat,
    ImportMode,
    describe_days,
    entries_from_ics,
    entries_from_json,
    stored_entries,
    to_ics,
)
from shared.calendar.schemas import CalendarDaysRead, ScheduleEntryCreate, ScheduleEntryRead, ScheduleImportRead
from shared.errors import InvalidInput
from shared.models import Calendar, Escalation, EscalationPolicy, SlaPolicy, SlaTimer, TimerState
from shared.pagination import paginate
from shared.schemas import Instant
from shared.sla import policies, read, registry
from shared.sla.directory import calendar_from_row
from shared.sla.policy_schemas import (
    CalendarCreate,
    CalendarRead,
    CalendarUpdate,
    DeadlineRead,
    EscalationPolicyCreate,
    EscalationPolicyRead,
    EscalationPolicyUpdate,
    EscalationRead,
    SlaPolicyCreate,
    SlaPolicyRead,
    SlaPolicyUpdate,
    TimerRead,
)
from shared.sla.timers import estimate_warnings

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES)

_CALENDAR = versions.row(Calendar, id="calendar_id")  # where its version (ETag) is
_ESCALATION_POLICY = versions.row(EscalationPolicy, id="policy_id")  # where its version (ETag) is
_SLA_POLICY = versions.row(SlaPolicy, id="policy_id")  # where its version (ETag) is

assert subjects  # every subject type is registered: the filter's enum lists them all
if TYPE_CHECKING:
    SubjectTypeName = str
else:
    SubjectTypeName = Literal[registry.names()]
SubjectTypeQ = Annotated[SubjectTypeName | None, Query(description="a registered SLA subject type")]


# ---- calendars -----------------------------------------------------------------------------------
@router.post(
    "/calendars",
    status_code=status.HTTP_201_CREATED,
    response_model=CalendarRead,
    tags=["calendars"],
    operation_id="createCalendar",
    responses=CONFLICT,
)
async def create_calendar(body: CalendarCreate, session: SessionDep, actor: ManagerDep) -> Calendar:
    """Create a working calendar (timezone, weekly hours, holidays with make-up workdays, overrides)."""
    return await policies.create_calendar(session, actor=actor, data=body)


@router.get("/calendars", response_model=PageOut[CalendarRead], tags=["calendars"], operation_id="listCalendars")
async def list_calendars(
    session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None
) -> dict[str, Any]:
    """List calendars."""
    return page_out(await paginate(session, select(Calendar), Calendar.id, limit=limit, cursor=cursor), CalendarRead)


@router.get(
    "/calendars/{calendar_id}",
    dependencies=[versions.reads(_CALENDAR)],
    response_model=CalendarRead,
    tags=["calendars"],
    operation_id="getCalendar",
    responses=NOT_FOUND,
)
async def get_calendar(calendar_id: int, session: SessionDep, actor: ActorDep) -> Calendar:
    """One calendar."""
    return await crud.get_or_404(session, Calendar, calendar_id)


@router.patch(
    "/calendars/{calendar_id}",
    dependencies=[versions.writes(_CALENDAR)],
    response_model=CalendarRead,
    tags=["calendars"],
    operation_id="updateCalendar",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_calendar(calendar_id: int, body: CalendarUpdate, session: SessionDep, actor: ManagerDep) -> Calendar:
    """Change a calendar. Running timers keep the deadlines they have; new ones use the change."""
    reject_nulls(
        body.model_dump(exclude_unset=True),
        ("name", "timezone", "weekly_hours", "workday_hours", "overrides", "is_default"),
    )
    return await policies.update_calendar(session, actor=actor, calendar_id=calendar_id, changes=body)


@router.delete(
    "/calendars/{calendar_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["calendars"],
    operation_id="deleteCalendar",
    responses={**NOT_FOUND, **CONFLICT},
)
async def delete_calendar(calendar_id: int, session: SessionDep, actor: ManagerDep, now: NowDep) -> None:
    """Delete a calendar nothing points at. One an SLA policy, a timer, a collaboration request or
    a report schedule uses is kept: 409 naming what uses it (history is never erased)."""
    await policies.delete_calendar(session, actor=actor, calendar_id=calendar_id, now=now)


@router.get(
    "/calendars/{calendar_id}/deadline",
    response_model=DeadlineRead,
    tags=["calendars"],
    operation_id="previewDeadline",
    responses=NOT_FOUND,
)
async def preview_deadline(
    calendar_id: int,
    session: SessionDep,
    actor: ActorDep,
    start: Annotated[Instant, Query(description="ISO-8601 with offset")],
    kind: Annotated[str, Query(description="calendar | working_hours | working_days | daily_at")],
    value: Annotated[str, Query(description="PT16H for durations, 2 for working days, 17:00 for daily_at")],
) -> DeadlineRead:
    """The deadline a target started at `start` gets on this calendar (for previews in the UI)."""
    cal = calendar_from_row(await crud.get_or_404(session, Calendar, calendar_id))
    try:
        target = Target.parse(kind, value)
    except CalendarError as exc:
        raise InvalidInput.for_field(f"query.{exc.field}", exc.message) from None
    due = cal.deadline(start, target).astimezone(cal.tz)
    return DeadlineRead(due=due, warnings=estimate_warnings(cal, target.kind, start, due))


@router.get(
    "/calendars/{calendar_id}/days",
    response_model=CalendarDaysRead,
    tags=["calendars"],
    operation_id="listCalendarDays",
    responses=NOT_FOUND,
)
async def calendar_days(
    calendar_id: int,
    session: SessionDep,
    actor: ActorDep,
    first: Annotated[date, Query(alias="from", description="first day, YYYY-MM-DD")],
    last: Annotated[date, Query(alias="to", description=f"last day (included), at most {MAX_DAYS_SPAN} days on")],
) -> CalendarDaysRead:
    """Each day of a range: working or not, its hours, why (weekend, statutory holiday, make-up
    workday, override, workday) and whether that year's statutory data is official or estimated."""
    if last < first:
        raise InvalidInput.for_field("query.to", "must not be before from")
    if (last - first).days >= MAX_DAYS_SPAN:
        raise InvalidInput.for_field("query.to", f"at most {MAX_DAYS_SPAN} days from `from`")
    cal = calendar_from_row(await crud.get_or_404(session, Calendar, calendar_id))
    return CalendarDaysRead(calendar_id=calendar_id, from_=first, to=last, days=describe_days(cal, first, last))


_SCHEDULE_EXAMPLE = [
    {"date": "2027-09-26", "working": True, "name": "国庆节调休上班"},
    {"date": "2027-10-01", "working": False, "name": "国庆节"},
]


@router.post(
    "/calendars/{calendar_id}/overrides:import",
    response_model=ScheduleImportRead,
    tags=["calendars"],
    operation_id="importCalendarSchedule",
    responses=NOT_FOUND,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": ScheduleEntryCreate.model_json_schema()},
                    "example": _SCHEDULE_EXAMPLE,
                },
                "text/calendar": {
                    "schema": {"type": "string"},
                    "example": "BEGIN:VCALENDAR\r\n…BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20271001\r\n"
                    "DTEND;VALUE=DATE:20271008\r\nSUMMARY:国庆节\r\nEND:VEVENT…",
                },
            },
        }
    },
)
async def import_calendar_schedule(
    calendar_id: int,
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    mode: Annotated[
        ImportMode, Query(description="merge: set these days; replace: drop the years' loaded days first")
    ] = ImportMode.merge,
) -> ScheduleImportRead:
    """Load a year's announced statutory schedule (holidays and make-up workdays, 调休) as a JSON
    list or an iCalendar file (all-day VEVENTs; `X-CLOSELOOP-WORKING:TRUE`, or 班 in the SUMMARY,
    marks a make-up workday). Every year it covers then follows it instead of the `holidays`
    package and counts as official; per-date overrides still win."""
    entries = await _schedule_entries(request)
    return await policies.import_schedule(session, actor=actor, calendar_id=calendar_id, entries=entries, mode=mode)


async def _schedule_entries(request: Request) -> list[ScheduleEntryCreate]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.for_field("body", "must be UTF-8 text") from None
    if media == "text/calendar":
        return entries_from_ics(text)
    if media == "application/json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput.for_field("body", f"not JSON: {exc}") from None
        return entries_from_json(data)
    raise InvalidInput.for_field("header.content-type", "send application/json or text/calendar")


@router.get(
    "/calendars/{calendar_id}/overrides:export",
    response_model=list[ScheduleEntryRead],
    tags=["calendars"],
    operation_id="exportCalendarSchedule",
    responses={**NOT_FOUND, 200: {"content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def export_calendar_schedule(
    calendar_id: int,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    format: Annotated[ExportFormat, Query(description="json (what import takes) or ics")] = ExportFormat.json,
    year: Annotated[int | None, Query(ge=2000, le=2099, description="only this year's days")] = None,
) -> Any:
    """The loaded statutory schedule, in a form `overrides:import` takes back as it is."""
    row = await crud.get_or_404(session, Calendar, calendar_id)
    entries = stored_entries(row.schedule, year)
    if format == ExportFormat.ics:
        return Response(to_ics(entries, calendar_name=row.name, now=now), media_type="text/calendar; charset=utf-8")
    return entries


# ---- escalation policies -------------------------------------------------------------------------
@router.post(
    "/escalation-policies",
    status_code=status.HTTP_201_CREATED,
    response_model=EscalationPolicyRead,
    tags=["sla"],
    operation_id="createEscalationPolicy",
    responses=CONFLICT,
)
async def create_escalation_policy(
    body: EscalationPolicyCreate, session: SessionDep, actor: ManagerDep
) -> EscalationPolicy:
    """Create an escalation policy: ordered levels before, at and after the deadline."""
    return await policies.create_escalation_policy(session, actor=actor, data=body)


@router.get(
    "/escalation-policies",
    response_model=PageOut[EscalationPolicyRead],
    tags=["sla"],
    operation_id="listEscalationPolicies",
)
async def list_escalation_policies(
    session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None
) -> dict[str, Any]:
    """List escalation policies."""
    page = await paginate(session, select(EscalationPolicy), EscalationPolicy.id, limit=limit, cursor=cursor)
    return page_out(page, EscalationPolicyRead)


@router.get(
    "/escalation-policies/{policy_id}",
    dependencies=[versions.reads(_ESCALATION_POLICY)],
    response_model=EscalationPolicyRead,
    tags=["sla"],
    operation_id="getEscalationPolicy",
    responses=NOT_FOUND,
)
async def get_escalation_policy(policy_id: int, session: SessionDep, actor: ActorDep) -> EscalationPolicy:
    """One escalation policy."""
    return await crud.get_or_404(session, EscalationPolicy, policy_id)


@router.patch(
    "/escalation-policies/{policy_id}",
    dependencies=[versions.writes(_ESCALATION_POLICY)],
    response_model=EscalationPolicyRead,
    tags=["sla"],
    operation_id="updateEscalationPolicy",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_escalation_policy(
    policy_id: int, body: EscalationPolicyUpdate, session: SessionDep, actor: ManagerDep
) -> EscalationPolicy:
    """Change an escalation policy; running timers keep the levels they started with."""
    reject_nulls(body.model_dump(exclude_unset=True), ("name", "levels"))
    return await policies.update_escalation_policy(session, actor=actor, policy_id=policy_id, changes=body)


@router.delete(
    "/escalation-policies/{policy_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["sla"],
    operation_id="deleteEscalationPolicy",
    responses={**NOT_FOUND, **CONFLICT},
)
async def delete_escalation_policy(policy_id: int, session: SessionDep, actor: ManagerDep, now: NowDep) -> None:
    """Delete an escalation policy nothing points at; one an SLA policy uses is kept (409)."""
    await policies.delete_escalation_policy(session, actor=actor, policy_id=policy_id, now=now)


# ---- SLA policies --------------------------------------------------------------------------------
@router.post(
    "/sla/policies",
    status_code=status.HTTP_201_CREATED,
    response_model=SlaPolicyRead,
    tags=["sla"],
    operation_id="createSlaPolicy",
    responses=CONFLICT,
)
async def create_sla_policy(body: SlaPolicyCreate, session: SessionDep, actor: ManagerDep) -> SlaPolicy:
    """Create an SLA policy: which subjects, what target on which calendar, when the clock runs."""
    return await policies.create_sla_policy(session, actor=actor, data=body)


@router.get("/sla/policies", response_model=PageOut[SlaPolicyRead], tags=["sla"], operation_id="listSlaPolicies")
async def list_sla_policies(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    subject_type: SubjectTypeQ = None,
    enabled: bool | None = None,
) -> dict[str, Any]:
    """List SLA policies."""
    stmt = policies.sla_policy_filter(select(SlaPolicy), subject_type=subject_type, enabled=enabled)
    return page_out(await paginate(session, stmt, SlaPolicy.id, limit=limit, cursor=cursor), SlaPolicyRead)


@router.get(
    "/sla/policies/{policy_id}",
    dependencies=[versions.reads(_SLA_POLICY)],
    response_model=SlaPolicyRead,
    tags=["sla"],
    operation_id="getSlaPolicy",
    responses=NOT_FOUND,
)
async def get_sla_policy(policy_id: int, session: SessionDep, actor: ActorDep) -> SlaPolicy:
    """One SLA policy."""
    return await crud.get_or_404(session, SlaPolicy, policy_id)


@router.patch(
    "/sla/policies/{policy_id}",
    dependencies=[versions.writes(_SLA_POLICY)],
    response_model=SlaPolicyRead,
    tags=["sla"],
    operation_id="updateSlaPolicy",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_sla_policy(
    policy_id: int, body: SlaPolicyUpdate, session: SessionDep, actor: ManagerDep, now: NowDep
) -> SlaPolicy:
    """Change an SLA policy. Timers already running or finished are never rewritten, except that
    disabling a policy cancels its running and paused timers (nothing would ever meet them)."""
    reject_nulls(
        body.model_dump(exclude_unset=True),
        ("name", "enabled", "target_kind", "target_value", "start_statuses", "stop_statuses"),
    )
    return await policies.update_sla_policy(session, actor=actor, policy_id=policy_id, changes=body, now=now)


# ---- timers and escalations (read) ---------------------------------------------------------------
@router.get("/sla/timers", response_model=PageOut[TimerRead], tags=["sla"], operation_id="listSlaTimers")
async def list_sla_timers(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    state: TimerState | None = None,
    department_id: int | None = None,
    breached: bool | None = None,
    subject_type: SubjectTypeQ = None,
    subject_id: int | None = None,
    policy_id: int | None = None,
) -> dict[str, Any]:
    """SLA timers for boards: filter by state, department, breached, subject; each row names its item
    (title and API path). Below director, only timers on items the caller may read."""
    stmt = read.timer_filter(
        visible_subjects(select(SlaTimer), actor, type_column=SlaTimer.subject_type, id_column=SlaTimer.subject_id),
        state=state,
        department_id=department_id,
        breached=breached,
        subject_type=subject_type,
        subject_id=subject_id,
        policy_id=policy_id,
        now=now,
    )
    page = await paginate(session, stmt, SlaTimer.id, limit=limit, cursor=cursor)
    timers = list(page.items)
    summaries = await read.summarize(session, timers, now)
    found = await read.subjects_of(session, timers)
    items = []
    for t, s in zip(timers, summaries, strict=True):
        subject = found.get((t.subject_type, t.subject_id))
        items.append(
            TimerRead(
                **s,
                subject_type=t.subject_type,
                subject_id=t.subject_id,
                subject_title=subject.title if subject else None,
                subject_path=subject.path if subject else None,
                department_id=t.department_id,
                cancel_reason=t.cancel_reason,
            )
        )
    return {"items": items, "next_cursor": page.next_cursor}


@router.get("/sla/escalations", response_model=PageOut[EscalationRead], tags=["sla"], operation_id="listEscalations")
async def list_escalations(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    subject_type: SubjectTypeQ = None,
    subject_id: int | None = None,
    timer_id: int | None = None,
) -> dict[str, Any]:
    """Escalation history: every level fired, when, how late, to whom, and which fallbacks were taken.
    Below director, only escalations on items the caller may read."""
    stmt = read.escalation_filter(
        visible_subjects(
            select(Escalation), actor, type_column=Escalation.subject_type, id_column=Escalation.subject_id
        ),
        subject_type=subject_type,
        subject_id=subject_id,
        timer_id=timer_id,
    )
    return page_out(await paginate(session, stmt, Escalation.id, limit=limit, cursor=cursor), EscalationRead)
