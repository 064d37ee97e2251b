"""Working calendars, escalation policies, SLA policies, and the read side of timers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.api.common import CursorQ, Instant, LimitQ, PageOut, ReadModel, WriteModel, page_out, reject_nulls
from services.api.deps import ActorDep, ManagerDep, NowDep, SessionDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from shared import crud
from shared.calendar import CalendarError, Target
from shared.errors import InvalidInput
from shared.models import Calendar, Escalation, EscalationKind, EscalationPolicy, SlaPolicy, SlaTimer, TimerState
from shared.pagination import paginate
from shared.sla import policies, read, registry
from shared.sla.directory import calendar_from_row
from shared.sla.schemas import TimerSummary
from shared.tasks.sla import TaskSubject

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

Name = Annotated[str, Field(min_length=1, max_length=120)]
Interval = Annotated[list[str], Field(min_length=2, max_length=2, examples=[["09:00", "18:00"]])]
Intervals = list[Interval]
StatusList = Annotated[list[Annotated[str, Field(min_length=1, max_length=32)]], Field(max_length=20)]


# ---- calendars -----------------------------------------------------------------------------------
class CalendarCreate(WriteModel):
    """The shape of the `calendars` objects in the SLA vectors file, plus a name."""

    name: Name
    timezone: str = "Asia/Shanghai"
    holiday_country: Annotated[str, Field(max_length=8)] | None = Field(
        default="CN", description="country code for statutory holidays and make-up workdays (`holidays` package)"
    )
    weekly_hours: dict[str, Intervals] = Field(
        default_factory=lambda: {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        description="mon…sun → [[start, end], …] local time, half-open",
    )
    workday_hours: Intervals = Field(
        default_factory=lambda: [["09:00", "18:00"]], description="hours of a make-up workday (调休)"
    )
    overrides: dict[str, Literal["off"] | Intervals] = Field(
        default_factory=dict, description='YYYY-MM-DD → "off" or intervals; wins over everything'
    )
    is_default: bool = False


class CalendarUpdate(WriteModel):
    name: Name | None = None
    timezone: str | None = None
    holiday_country: Annotated[str, Field(max_length=8)] | None = None
    weekly_hours: dict[str, Intervals] | None = None
    workday_hours: Intervals | None = None
    overrides: dict[str, Literal["off"] | Intervals] | None = None
    is_default: bool | None = None


class CalendarRead(ReadModel):
    id: int
    name: str
    timezone: str
    holiday_country: str | None
    weekly_hours: dict[str, Any]
    workday_hours: list[Any]
    overrides: dict[str, Any]
    is_default: bool
    created_at: datetime
    updated_at: datetime


class DeadlineOut(BaseModel):
    due: datetime = Field(description="ISO-8601 in the calendar's timezone")


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
    return await policies.create_calendar(session, actor=actor, data=body.model_dump())


@router.get("/calendars", response_model=PageOut[CalendarRead], tags=["calendars"], operation_id="listCalendars")
async def list_calendars(session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None) -> dict:
    """List calendars."""
    return page_out(await paginate(session, select(Calendar), Calendar.id, limit=limit, cursor=cursor), CalendarRead)


@router.get(
    "/calendars/{calendar_id}",
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
    response_model=CalendarRead,
    tags=["calendars"],
    operation_id="updateCalendar",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_calendar(calendar_id: int, body: CalendarUpdate, session: SessionDep, actor: ManagerDep) -> Calendar:
    """Change a calendar. Running timers keep the deadlines they have; new ones use the change."""
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, ("name", "timezone", "weekly_hours", "workday_hours", "overrides", "is_default"))
    return await policies.update_calendar(session, actor=actor, calendar_id=calendar_id, changes=changes)


@router.delete(
    "/calendars/{calendar_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["calendars"],
    operation_id="deleteCalendar",
    responses={**NOT_FOUND, **CONFLICT},
)
async def delete_calendar(calendar_id: int, session: SessionDep, actor: ManagerDep) -> None:
    """Delete a calendar no policy uses."""
    await policies.delete_calendar(session, actor=actor, calendar_id=calendar_id)


@router.get(
    "/calendars/{calendar_id}/deadline",
    response_model=DeadlineOut,
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
) -> DeadlineOut:
    """The deadline a target started at `start` gets on this calendar (for previews in the UI)."""
    cal = calendar_from_row(await crud.get_or_404(session, Calendar, calendar_id))
    try:
        target = Target.parse(kind, value)
    except CalendarError as exc:
        raise InvalidInput.for_field(f"query.{exc.field}", exc.message) from None
    return DeadlineOut(due=cal.deadline(start, target).astimezone(cal.tz))


# ---- escalation policies -------------------------------------------------------------------------
class LevelIn(WriteModel):
    offset: str = Field(
        description="-20% or -PT2H (warning), 0 (breach), +PT24H (after breach)", examples=["-20%", "0", "+PT24H"]
    )
    calendar: bool = Field(default=False, description="offsets and repeats in calendar time even for working targets")
    recipients: list[str] = Field(
        default=[],
        description="assignee, assignee_manager, director, department_head, campaign_owner, user:<id>, channel:<id>",
    )
    channels: list[int] = Field(default=[], description="deliver only to these channels (default: route by department)")
    repeat_every: str | None = Field(default=None, examples=["PT4H"])
    max_repeats: int | None = None


class EscalationPolicyCreate(WriteModel):
    name: Name
    description: Annotated[str, Field(max_length=2000)] | None = None
    levels: Annotated[list[LevelIn], Field(min_length=1, max_length=20)]


class EscalationPolicyUpdate(WriteModel):
    name: Name | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    levels: Annotated[list[LevelIn], Field(min_length=1, max_length=20)] | None = None


class EscalationPolicyRead(ReadModel):
    id: int
    name: str
    description: str | None
    levels: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


def _levels(body: EscalationPolicyCreate | EscalationPolicyUpdate) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True)
    if body.levels is not None:
        data["levels"] = [lv.model_dump(exclude_unset=True) for lv in body.levels]
    return data


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
    return await policies.create_escalation_policy(session, actor=actor, data=_levels(body))


@router.get(
    "/escalation-policies",
    response_model=PageOut[EscalationPolicyRead],
    tags=["sla"],
    operation_id="listEscalationPolicies",
)
async def list_escalation_policies(
    session: SessionDep, actor: ActorDep, limit: LimitQ = 50, cursor: CursorQ = None
) -> dict:
    """List escalation policies."""
    page = await paginate(session, select(EscalationPolicy), EscalationPolicy.id, limit=limit, cursor=cursor)
    return page_out(page, EscalationPolicyRead)


@router.get(
    "/escalation-policies/{policy_id}",
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
    response_model=EscalationPolicyRead,
    tags=["sla"],
    operation_id="updateEscalationPolicy",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_escalation_policy(
    policy_id: int, body: EscalationPolicyUpdate, session: SessionDep, actor: ManagerDep
) -> EscalationPolicy:
    """Change an escalation policy; running timers keep the levels they started with."""
    data = _levels(body)
    reject_nulls(data, ("name", "levels"))
    return await policies.update_escalation_policy(session, actor=actor, policy_id=policy_id, changes=data)


@router.delete(
    "/escalation-policies/{policy_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["sla"],
    operation_id="deleteEscalationPolicy",
    responses={**NOT_FOUND, **CONFLICT},
)
async def delete_escalation_policy(policy_id: int, session: SessionDep, actor: ManagerDep) -> None:
    """Delete an escalation policy no SLA policy uses."""
    await policies.delete_escalation_policy(session, actor=actor, policy_id=policy_id)


# ---- SLA policies --------------------------------------------------------------------------------
class Conditions(WriteModel):
    priorities: list[str] | None = None
    department_ids: list[int] | None = None
    campaign_ids: list[int] | None = None
    tags: list[str] | None = None


class SlaPolicyCreate(WriteModel):
    name: Name
    description: Annotated[str, Field(max_length=2000)] | None = None
    subject_type: str = Field(
        default=TaskSubject.task, description="a registered subject type: " + ", ".join(registry.names())
    )
    enabled: bool = True
    conditions: Conditions = Field(default_factory=Conditions, description="empty matches every subject")
    target_kind: str = Field(description="calendar | working_hours | working_days | daily_at")
    target_value: str = Field(description="PT24H, 2, 17:00 …")
    calendar_id: int | None = Field(default=None, description="default: the default calendar")
    start_statuses: StatusList | None = None
    pause_statuses: StatusList | None = None
    stop_statuses: StatusList | None = None
    cancel_statuses: StatusList | None = None
    escalation_policy_id: int | None = None


class SlaPolicyUpdate(WriteModel):
    name: Name | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    enabled: bool | None = None
    conditions: Conditions | None = None
    target_kind: str | None = None
    target_value: str | None = None
    calendar_id: int | None = None
    start_statuses: StatusList | None = None
    pause_statuses: StatusList | None = None
    stop_statuses: StatusList | None = None
    cancel_statuses: StatusList | None = None
    escalation_policy_id: int | None = None


class SlaPolicyRead(ReadModel):
    id: int
    name: str
    description: str | None
    subject_type: str
    enabled: bool
    conditions: dict[str, Any]
    target_kind: str
    target_value: str
    calendar_id: int | None
    start_statuses: list[str]
    pause_statuses: list[str]
    stop_statuses: list[str]
    cancel_statuses: list[str]
    escalation_policy_id: int | None
    created_at: datetime
    updated_at: datetime


def _policy_data(body: SlaPolicyCreate | SlaPolicyUpdate, *, partial: bool) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=partial)
    if body.conditions is not None:
        data["conditions"] = body.conditions.model_dump(exclude_none=True)
    return data


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
    return await policies.create_sla_policy(session, actor=actor, data=_policy_data(body, partial=False))


@router.get("/sla/policies", response_model=PageOut[SlaPolicyRead], tags=["sla"], operation_id="listSlaPolicies")
async def list_sla_policies(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    subject_type: str | None = None,
    enabled: bool | None = None,
) -> dict:
    """List SLA policies."""
    stmt = select(SlaPolicy)
    if subject_type is not None:
        stmt = stmt.where(SlaPolicy.subject_type == subject_type)
    if enabled is not None:
        stmt = stmt.where(SlaPolicy.enabled.is_(enabled))
    return page_out(await paginate(session, stmt, SlaPolicy.id, limit=limit, cursor=cursor), SlaPolicyRead)


@router.get(
    "/sla/policies/{policy_id}",
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
    data = _policy_data(body, partial=True)
    reject_nulls(data, ("name", "enabled", "target_kind", "target_value", "start_statuses", "stop_statuses"))
    return await policies.update_sla_policy(session, actor=actor, policy_id=policy_id, changes=data, now=now)


# ---- timers and escalations (read) ---------------------------------------------------------------
class EscalationRead(ReadModel):
    id: int
    timer_id: int
    subject_type: str
    subject_id: int
    level: int = Field(description="-1 is the resolved notice")
    repeat: int
    kind: EscalationKind
    scheduled_at: datetime
    fired_at: datetime
    late_by_s: float
    recipients: list[dict[str, Any]]
    notes: list[str] = Field(description="fallbacks taken and anything that could not be routed")
    suppressed: bool = Field(description="superseded while the worker was down: recorded, not sent")
    notification_count: int


class TimerRead(TimerSummary):
    subject_type: str
    subject_id: int
    department_id: int | None
    cancel_reason: str | None


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
    subject_type: str | None = None,
    subject_id: int | None = None,
    policy_id: int | None = None,
) -> dict:
    """SLA timers for boards: filter by state, department, breached."""
    stmt = read.timer_filter(
        select(SlaTimer),
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
    items = [
        TimerRead(
            **s,
            subject_type=t.subject_type,
            subject_id=t.subject_id,
            department_id=t.department_id,
            cancel_reason=t.cancel_reason,
        )
        for t, s in zip(timers, summaries, strict=True)
    ]
    return {"items": items, "next_cursor": page.next_cursor}


@router.get("/sla/escalations", response_model=PageOut[EscalationRead], tags=["sla"], operation_id="listEscalations")
async def list_escalations(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    timer_id: int | None = None,
) -> dict:
    """Escalation history: every level fired, when, how late, to whom, and which fallbacks were taken."""
    stmt = read.escalation_filter(
        select(Escalation), subject_type=subject_type, subject_id=subject_id, timer_id=timer_id
    )
    return page_out(await paginate(session, stmt, Escalation.id, limit=limit, cursor=cursor), EscalationRead)
