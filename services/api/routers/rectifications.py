"""Rectification items (整改措施), each with its SLA state embedded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut, TextQ, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from services.api.sla_state import read_with_sla
from shared import crud
from shared.access import policy as access
from shared.campaigns.sla import CampaignItem
from shared.pagination import paginate
from shared.rectifications import service as rectifications
from shared.rectifications.models import Rectification, RectificationStatus
from shared.rectifications.schemas import (
    RectificationCounts,
    RectificationCreate,
    RectificationRead,
    RectificationReopen,
    RectificationUpdate,
)
from shared.rectifications.sla import RectificationSubject

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["rectifications"])

_ITEM = versions.row(Rectification, id="item_id")  # where its version (ETag) is


async def _read_page(session: SessionDep, rows: list[Rectification], now: datetime) -> list[RectificationRead]:
    return await read_with_sla(session, RectificationSubject.rectification, rows, RectificationRead, now)


@router.post(
    "/rectifications",
    status_code=status.HTTP_201_CREATED,
    response_model=RectificationRead,
    operation_id="createRectification",
)
async def create_rectification(
    body: RectificationCreate, session: SessionDep, actor: WriterDep, now: NowDep
) -> RectificationRead:
    """Record a rectification item; its deadline starts (its own `due_at`, else the policy's)."""
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    item = await rectifications.create(session, actor=actor, data=body, now=now)
    return (await _read_page(session, [item], now))[0]


@router.get("/rectifications", response_model=PageOut[RectificationRead], operation_id="listRectifications")
async def list_rectifications(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    department_id: Annotated[
        int | None, Query(description="the owner's department or the campaign's department")
    ] = None,
    owner_id: int | None = None,
    campaign_id: int | None = None,
    status: Annotated[list[RectificationStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    overdue: Annotated[bool | None, Query(description="its deadline has passed and it is still open")] = None,
    q: TextQ = None,
) -> dict:
    """List rectification items with board filters; each carries its SLA state."""
    stmt = rectifications.item_filter(
        access.visible(select(Rectification), actor),
        department_id=department_id,
        owner_id=owner_id,
        campaign_id=campaign_id,
        statuses=status,
        overdue=overdue,
        q=q,
        now=now,
    )
    page = await paginate(session, stmt, Rectification.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.get(
    "/rectifications/{item_id}",
    dependencies=[versions.reads(_ITEM)],
    response_model=RectificationRead,
    operation_id="getRectification",
    responses=NOT_FOUND,
)
async def get_rectification(item_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> RectificationRead:
    """One rectification item, with its SLA state."""
    await access.require_read(session, actor, RectificationSubject.rectification, item_id)
    return (await _read_page(session, [await crud.get_or_404(session, Rectification, item_id)], now))[0]


@router.patch(
    "/rectifications/{item_id}",
    dependencies=[versions.writes(_ITEM)],
    response_model=RectificationRead,
    operation_id="updateRectification",
    responses=NOT_FOUND,
)
async def update_rectification(
    item_id: int, body: RectificationUpdate, session: SessionDep, actor: WriterDep, now: NowDep
) -> RectificationRead:
    """Change the text, owner or due date; the deadline follows."""
    await access.require_write(session, actor, RectificationSubject.rectification, item_id)
    reject_nulls(body.model_dump(exclude_unset=True), ("title", "owner_id"))
    item = await rectifications.update(session, actor=actor, item_id=item_id, changes=body, now=now)
    return (await _read_page(session, [item], now))[0]


@router.post(
    "/rectifications/{item_id}/start",
    response_model=RectificationRead,
    operation_id="startRectification",
    responses={**NOT_FOUND, **CONFLICT},
)
async def start_rectification(item_id: int, session: SessionDep, actor: WriterDep, now: NowDep) -> RectificationRead:
    """The owner (or a manager) is on it: in progress, its deadline keeps running."""
    await access.require_write(session, actor, RectificationSubject.rectification, item_id)
    item = await rectifications.start(session, actor=actor, item_id=item_id, now=now)
    return (await _read_page(session, [item], now))[0]


@router.get(
    "/campaigns/{campaign_id}/rectifications",
    response_model=RectificationCounts,
    operation_id="countCampaignRectifications",
    responses=NOT_FOUND,
)
async def campaign_rectifications(
    campaign_id: int, session: SessionDep, actor: ActorDep, now: NowDep
) -> RectificationCounts:
    """A campaign's rectification items by status (open, in_progress, done, verified) and how many
    are overdue; list them with `GET /rectifications?campaign_id=`."""
    await access.require_read(session, actor, CampaignItem.campaign, campaign_id)
    return await rectifications.campaign_counts(session, campaign_id=campaign_id, now=now)


@router.post(
    "/rectifications/{item_id}/done",
    response_model=RectificationRead,
    operation_id="finishRectification",
    responses={**NOT_FOUND, **CONFLICT},
)
async def finish_rectification(item_id: int, session: SessionDep, actor: WriterDep, now: NowDep) -> RectificationRead:
    """The owner (or a manager) says it is fixed: its deadline is met."""
    await access.require_write(session, actor, RectificationSubject.rectification, item_id)
    item = await rectifications.mark_done(session, actor=actor, item_id=item_id, now=now)
    return (await _read_page(session, [item], now))[0]


@router.post(
    "/rectifications/{item_id}/verify",
    response_model=RectificationRead,
    operation_id="verifyRectification",
    responses={**NOT_FOUND, **CONFLICT},
)
async def verify_rectification(item_id: int, session: SessionDep, actor: WriterDep, now: NowDep) -> RectificationRead:
    """Someone other than the owner confirms the fix."""
    await access.require_write(session, actor, RectificationSubject.rectification, item_id)
    item = await rectifications.verify(session, actor=actor, item_id=item_id, now=now)
    return (await _read_page(session, [item], now))[0]


@router.post(
    "/rectifications/{item_id}/reopen",
    response_model=RectificationRead,
    operation_id="reopenRectification",
    responses={**NOT_FOUND, **CONFLICT},
)
async def reopen_rectification(
    item_id: int, body: RectificationReopen, session: SessionDep, actor: WriterDep, now: NowDep
) -> RectificationRead:
    """Not fixed after all: back to open with a fresh deadline and the reason on its trail."""
    await access.require_write(session, actor, RectificationSubject.rectification, item_id)
    item = await rectifications.reopen(session, actor=actor, item_id=item_id, reason=body.reason, now=now)
    return (await _read_page(session, [item], now))[0]
