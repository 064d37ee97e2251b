"""Work-arrival notifications: the event kinds and their subscriptions (per channel, per department)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, status
from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, page_out
from services.api.deps import ActorDep, ManagerDep, SessionDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared.notify import subscriptions
from shared.notify.models import NotificationSubscription
from shared.notify.schemas import SubscriptionRead, SubscriptionSet, WorkEventRead
from shared.notify.work import DEFAULT_ENABLED, DESCRIPTIONS, WorkEvent
from shared.pagination import paginate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["notification-subscriptions"])

EVENTS_DOC = "\n".join(
    f"- `{e.value}` (default {'on' if DEFAULT_ENABLED[e] else 'off'}): {DESCRIPTIONS[e]}" for e in WorkEvent
)


@router.get(
    "/notification-events",
    response_model=list[WorkEventRead],
    operation_id="listNotificationEvents",
    description=f"The work-arrival event kinds a subscription can switch, with their defaults:\n\n{EVENTS_DOC}",
)
async def list_events(actor: ActorDep) -> list[WorkEventRead]:
    return [WorkEventRead(event=e, default_enabled=DEFAULT_ENABLED[e], description=DESCRIPTIONS[e]) for e in WorkEvent]


@router.get(
    "/notification-subscriptions",
    response_model=PageOut[SubscriptionRead],
    operation_id="listNotificationSubscriptions",
)
async def list_subscriptions(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    event: WorkEvent | None = None,
    channel_id: Annotated[int | None, Query(description="switches for this channel (any department)")] = None,
    department_id: Annotated[int | None, Query(description="switches for this department (any channel)")] = None,
) -> dict[str, Any]:
    """The switches set so far; a kind, channel or department with none follows the default (on)."""
    stmt = select(NotificationSubscription)
    if event is not None:
        stmt = stmt.where(NotificationSubscription.event == event.value)
    if channel_id is not None:
        stmt = stmt.where(NotificationSubscription.channel_id == channel_id)
    if department_id is not None:
        stmt = stmt.where(NotificationSubscription.department_id == department_id)
    page = await paginate(session, stmt, NotificationSubscription.id, limit=limit, cursor=cursor)
    return page_out(page, SubscriptionRead)


@router.post(
    "/notification-subscriptions",
    response_model=SubscriptionRead,
    operation_id="setNotificationSubscription",
    description="Switch one event kind on or off for a channel, a department, both, or (neither) everywhere "
    "(manager). The most specific switch wins: channel + department, then channel, then department, then "
    f"everywhere, then the default. Setting a scope again changes its switch (audited).\n\n{EVENTS_DOC}",
)
async def set_subscription(body: SubscriptionSet, session: SessionDep, actor: ManagerDep) -> NotificationSubscription:
    return await subscriptions.set_subscription(session, actor=actor, data=body)


@router.delete(
    "/notification-subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteNotificationSubscription",
    responses=NOT_FOUND,
)
async def delete_subscription(subscription_id: int, session: SessionDep, actor: ManagerDep) -> None:
    """Remove a switch (manager): its scope follows the wider switch again, or the default."""
    await subscriptions.delete_subscription(session, actor=actor, subscription_id=subscription_id)
