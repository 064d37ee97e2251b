"""Cross-department collaboration requests (跨部门协作): one-off or recurring each working day,
every occurrence under its own SLA timer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, status
from pydantic import Field
from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, ReadModel, WriteModel, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.sla_state import read_with_sla
from shared import crud
from shared.calendar import TargetKind
from shared.collaboration import service as collaboration
from shared.collaboration.sla import CollaborationSubject
from shared.models import CollaborationOccurrence, CollaborationRequest, CollaborationStatus, OccurrenceStatus
from shared.pagination import paginate
from shared.sla.schemas import TargetOut, TimerSummary

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["collaboration"])

Matter = Annotated[str, Field(min_length=1, max_length=300)]
Content = Annotated[str, Field(max_length=20_000)]
RECENT_OCCURRENCES = 30
Responses = dict[int | str, dict[str, Any]]
MISSING = cast(Responses, NOT_FOUND)
MISSING_OR_CONFLICT = cast(Responses, {**NOT_FOUND, **CONFLICT})


class DeadlineIn(WriteModel):
    kind: TargetKind = Field(description="calendar | working_hours | working_days | daily_at (recurring)")
    value: Annotated[str, Field(max_length=32)] | int = Field(
        description="PT24H / PT8H for durations, a day count for working_days, HH:MM for daily_at"
    )


class CollaborationCreate(WriteModel):
    matter: Matter
    content: Content | None = None
    initiating_department_id: int | None = Field(default=None, description="default: the caller's department")
    collaborating_department_ids: list[int] = Field(max_length=50, description="non-empty, distinct")
    owner_id: int = Field(description="who owes the answer (an active user)")
    campaign_id: int | None = None
    calendar_id: int | None = Field(default=None, description="default: the default calendar")
    deadline: DeadlineIn = Field(
        description="the feedback deadline; `daily_at` makes the request recurring: one occurrence per working day"
    )


class CollaborationUpdate(WriteModel):
    matter: Matter | None = None
    content: Content | None = None
    owner_id: int | None = Field(default=None, description="open occurrences' timers follow the new owner")


class CompleteBody(WriteModel):
    note: Content | None = None


class OccurrenceRead(ReadModel):
    id: int
    request_id: int
    occurrence_date: date = Field(description="the working day it belongs to")
    status: OccurrenceStatus
    opened_at: datetime
    due_at: datetime
    done_at: datetime | None
    done_by: int | None
    note: str | None
    sla: list[TimerSummary] = Field(default=[], description="the occurrence's SLA timers")


class CollaborationRead(ReadModel):
    id: int
    matter: str
    content: str | None
    initiating_department_id: int | None
    collaborating_department_ids: list[int]
    owner_id: int | None
    requester_id: int | None
    campaign_id: int | None
    calendar_id: int | None
    deadline: TargetOut
    recurring: bool
    status: CollaborationStatus
    next_occurrence_at: datetime | None = Field(description="recurring: when the next working day's occurrence opens")
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CollaborationDetail(CollaborationRead):
    occurrences: list[OccurrenceRead] = Field(description=f"the {RECENT_OCCURRENCES} most recent, newest first")


def _read(request: CollaborationRequest) -> dict[str, Any]:
    return {
        **{c: getattr(request, c) for c in CollaborationRead.model_fields if hasattr(request, c)},
        "collaborating_department_ids": list(request.collaborating_department_ids or []),
        "deadline": TargetOut(kind=request.deadline_kind, value=request.deadline_value),
        "recurring": collaboration.is_recurring(request),
    }


async def _read_page(session: SessionDep, rows: list[CollaborationOccurrence], now: datetime) -> list[OccurrenceRead]:
    return await read_with_sla(session, CollaborationSubject.occurrence, rows, OccurrenceRead, now)


async def _detail(session: SessionDep, request: CollaborationRequest, now: datetime) -> CollaborationDetail:
    await session.refresh(request)
    recent = await collaboration.recent_occurrences(session, [request.id], limit=RECENT_OCCURRENCES)
    return CollaborationDetail(**_read(request), occurrences=await _read_page(session, recent[request.id], now))


@router.post(
    "/collaboration-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=CollaborationDetail,
    operation_id="createCollaborationRequest",
)
async def create_collaboration_request(
    body: CollaborationCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> CollaborationDetail:
    """Ask other departments for something by a deadline; the first occurrence opens now, under SLA."""
    request = await collaboration.create_request(session, actor=actor, data=body.model_dump(mode="json"), now=now)
    return await _detail(session, request, now)


@router.get(
    "/collaboration-requests",
    response_model=PageOut[CollaborationRead],
    operation_id="listCollaborationRequests",
)
async def list_collaboration_requests(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    initiating_department_id: int | None = None,
    collaborating_department_id: Annotated[int | None, Query(description="among the collaborating ones")] = None,
    owner_id: int | None = None,
    status: CollaborationStatus | None = None,
    campaign_id: int | None = None,
    overdue: Annotated[bool | None, Query(description="has an occurrence past its deadline, still open")] = None,
) -> dict[str, Any]:
    """List collaboration requests with board filters."""
    stmt = collaboration.request_filter(
        select(CollaborationRequest),
        initiating_department_id=initiating_department_id,
        collaborating_department_id=collaborating_department_id,
        owner_id=owner_id,
        status=status,
        campaign_id=campaign_id,
        overdue=overdue,
        now=now,
    )
    page = await paginate(session, stmt, CollaborationRequest.id, limit=limit, cursor=cursor)
    return {"items": [CollaborationRead(**_read(r)) for r in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/collaboration-requests/{request_id}",
    response_model=CollaborationDetail,
    operation_id="getCollaborationRequest",
    responses=MISSING,
)
async def get_collaboration_request(
    request_id: int, session: SessionDep, actor: ActorDep, now: NowDep
) -> CollaborationDetail:
    """One request with its most recent occurrences and their SLA state."""
    return await _detail(session, await crud.get_or_404(session, CollaborationRequest, request_id), now)


@router.get(
    "/collaboration-requests/{request_id}/occurrences",
    response_model=PageOut[OccurrenceRead],
    operation_id="listCollaborationOccurrences",
    responses=MISSING,
)
async def list_collaboration_occurrences(
    request_id: int,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
) -> dict[str, Any]:
    """All occurrences of a request, oldest first, with their SLA state."""
    await crud.get_or_404(session, CollaborationRequest, request_id)
    stmt = select(CollaborationOccurrence).where(CollaborationOccurrence.request_id == request_id)
    page = await paginate(session, stmt, CollaborationOccurrence.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.patch(
    "/collaboration-requests/{request_id}",
    response_model=CollaborationDetail,
    operation_id="updateCollaborationRequest",
    responses=MISSING,
)
async def update_collaboration_request(
    request_id: int,
    body: CollaborationUpdate,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
) -> CollaborationDetail:
    """Change the matter, content or owner (requester, owner, initiating department or manager+)."""
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, ("matter", "owner_id"))
    request = await collaboration.update_request(session, actor=actor, request_id=request_id, changes=changes, now=now)
    return await _detail(session, request, now)


@router.post(
    "/collaboration-requests/{request_id}/occurrences/{occurrence_id}/done",
    response_model=CollaborationDetail,
    operation_id="completeCollaborationOccurrence",
    responses=MISSING_OR_CONFLICT,
)
async def complete_collaboration_occurrence(
    request_id: int,
    occurrence_id: int,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
    body: CompleteBody | None = None,
) -> CollaborationDetail:
    """Deliver an occurrence (the owner, a collaborating department's member, or manager+); its
    timer is met. Delivering a one-off request closes it. 409 when the occurrence is not open."""
    request = await collaboration.complete_occurrence(
        session,
        actor=actor,
        request_id=request_id,
        occurrence_id=occurrence_id,
        note=body.note if body else None,
        now=now,
    )
    return await _detail(session, request, now)


@router.post(
    "/collaboration-requests/{request_id}/close",
    response_model=CollaborationDetail,
    operation_id="closeCollaborationRequest",
    responses=MISSING_OR_CONFLICT,
)
async def close_collaboration_request(
    request_id: int, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> CollaborationDetail:
    """Stop a request: no more occurrences; open ones are cancelled with their timers."""
    request = await collaboration.close_request(session, actor=actor, request_id=request_id, now=now)
    return await _detail(session, request, now)


@router.post(
    "/collaboration-requests/{request_id}/cancel",
    response_model=CollaborationDetail,
    operation_id="cancelCollaborationRequest",
    responses=MISSING_OR_CONFLICT,
)
async def cancel_collaboration_request(
    request_id: int, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> CollaborationDetail:
    """Withdraw a request: it and its open occurrences are cancelled."""
    request = await collaboration.cancel_request(session, actor=actor, request_id=request_id, now=now)
    return await _detail(session, request, now)
