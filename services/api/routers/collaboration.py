"""Cross-department collaboration requests (跨部门协作): one-off or recurring each working day,
every occurrence under its own SLA timer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from services.api.sla_state import read_with_sla
from shared import crud
from shared.access import policy as access
from shared.campaigns.sla import CampaignItem
from shared.collaboration import service as collaboration
from shared.collaboration.schemas import (
    RECENT_OCCURRENCES,
    CollaborationCreate,
    CollaborationDetailRead,
    CollaborationRead,
    CollaborationUpdate,
    OccurrenceCompletion,
    OccurrenceRead,
)
from shared.collaboration.sla import CollaborationSubject
from shared.models import CollaborationOccurrence, CollaborationRequest, CollaborationStatus
from shared.pagination import paginate
from shared.sla.schemas import TargetRead

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["collaboration"])

_REQUEST = versions.row(CollaborationRequest, id="request_id")  # where its version (ETag) is

Responses = dict[int | str, dict[str, Any]]
MISSING = cast(Responses, NOT_FOUND)
MISSING_OR_CONFLICT = cast(Responses, {**NOT_FOUND, **CONFLICT})


def _read(request: CollaborationRequest) -> dict[str, Any]:
    return {
        **{c: getattr(request, c) for c in CollaborationRead.model_fields if hasattr(request, c)},
        "collaborating_department_ids": list(request.collaborating_department_ids or []),
        "deadline": TargetRead(kind=request.deadline_kind, value=request.deadline_value),
        "recurring": collaboration.is_recurring(request),
    }


async def _read_page(session: SessionDep, rows: list[CollaborationOccurrence], now: datetime) -> list[OccurrenceRead]:
    return await read_with_sla(session, CollaborationSubject.occurrence, rows, OccurrenceRead, now)


async def _detail(session: SessionDep, request: CollaborationRequest, now: datetime) -> CollaborationDetailRead:
    await session.refresh(request)
    recent = await collaboration.recent_occurrences(session, [request.id], limit=RECENT_OCCURRENCES)
    return CollaborationDetailRead(**_read(request), occurrences=await _read_page(session, recent[request.id], now))


@router.post(
    "/collaboration-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=CollaborationDetailRead,
    operation_id="createCollaborationRequest",
)
async def create_collaboration_request(
    body: CollaborationCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> CollaborationDetailRead:
    """Ask other departments for something by a deadline; the first occurrence opens now, under SLA."""
    access.require_department(actor, body.initiating_department_id, field="initiating_department_id")
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    request = await collaboration.create_request(session, actor=actor, data=body, now=now)
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
    department_id: Annotated[
        int | None, Query(description="the initiating department or one of the collaborating ones")
    ] = None,
    initiating_department_id: int | None = None,
    collaborating_department_id: Annotated[int | None, Query(description="among the collaborating ones")] = None,
    owner_id: int | None = None,
    status: Annotated[list[CollaborationStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    campaign_id: int | None = None,
    overdue: Annotated[bool | None, Query(description="has an occurrence past its deadline, still open")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text the matter contains (any case)")] = None,
) -> dict[str, Any]:
    """List collaboration requests with board filters."""
    stmt = collaboration.request_filter(
        access.visible(select(CollaborationRequest), actor),
        department_id=department_id,
        initiating_department_id=initiating_department_id,
        collaborating_department_id=collaborating_department_id,
        owner_id=owner_id,
        statuses=status,
        campaign_id=campaign_id,
        overdue=overdue,
        q=q,
        now=now,
    )
    page = await paginate(session, stmt, CollaborationRequest.id, limit=limit, cursor=cursor)
    return {"items": [CollaborationRead(**_read(r)) for r in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/collaboration-requests/{request_id}",
    dependencies=[versions.reads(_REQUEST)],
    response_model=CollaborationDetailRead,
    operation_id="getCollaborationRequest",
    responses=MISSING,
)
async def get_collaboration_request(
    request_id: int, session: SessionDep, actor: ActorDep, now: NowDep
) -> CollaborationDetailRead:
    """One request with its most recent occurrences and their SLA state."""
    await access.require_read(session, actor, CollaborationSubject.request, request_id)
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
    await access.require_read(session, actor, CollaborationSubject.request, request_id)
    stmt = select(CollaborationOccurrence).where(CollaborationOccurrence.request_id == request_id)
    page = await paginate(session, stmt, CollaborationOccurrence.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.patch(
    "/collaboration-requests/{request_id}",
    dependencies=[versions.writes(_REQUEST)],
    response_model=CollaborationDetailRead,
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
) -> CollaborationDetailRead:
    """Change the matter, content or owner (requester, owner, initiating department or manager+)."""
    await access.require_write(session, actor, CollaborationSubject.request, request_id)
    reject_nulls(body.model_dump(exclude_unset=True), ("matter", "owner_id"))
    request = await collaboration.update_request(session, actor=actor, request_id=request_id, changes=body, now=now)
    return await _detail(session, request, now)


@router.post(
    "/collaboration-requests/{request_id}/occurrences/{occurrence_id}/done",
    response_model=CollaborationDetailRead,
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
    body: OccurrenceCompletion | None = None,
) -> CollaborationDetailRead:
    """Deliver an occurrence (the owner, a collaborating department's member, or manager+); its
    timer is met. Delivering a one-off request closes it. 409 when the occurrence is not open."""
    await access.require_write(session, actor, CollaborationSubject.request, request_id)
    request = await collaboration.complete_occurrence(
        session,
        actor=actor,
        request_id=request_id,
        occurrence_id=occurrence_id,
        data=body or OccurrenceCompletion(),
        now=now,
    )
    return await _detail(session, request, now)


@router.post(
    "/collaboration-requests/{request_id}/close",
    response_model=CollaborationDetailRead,
    operation_id="closeCollaborationRequest",
    responses=MISSING_OR_CONFLICT,
)
async def close_collaboration_request(
    request_id: int, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> CollaborationDetailRead:
    """Stop a request: no more occurrences; open ones are cancelled with their timers."""
    await access.require_write(session, actor, CollaborationSubject.request, request_id)
    request = await collaboration.close_request(session, actor=actor, request_id=request_id, now=now)
    return await _detail(session, request, now)


@router.post(
    "/collaboration-requests/{request_id}/cancel",
    response_model=CollaborationDetailRead,
    operation_id="cancelCollaborationRequest",
    responses=MISSING_OR_CONFLICT,
)
async def cancel_collaboration_request(
    request_id: int, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> CollaborationDetailRead:
    """Withdraw a request: it and its open occurrences are cancelled."""
    await access.require_write(session, actor, CollaborationSubject.request, request_id)
    request = await collaboration.cancel_request(session, actor=actor, request_id=request_id, now=now)
    return await _detail(session, request, now)
