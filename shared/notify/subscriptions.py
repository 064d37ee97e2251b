"""Which work-arrival events a channel, or a department's messages, receive.

A subscription switches one event kind on or off for a channel, a department, a channel's messages
for one department, or (neither) everywhere; the most specific row wins, and without any row every
kind is on (`shared.notify.work.DEFAULT_ENABLED`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.models import Channel, Department
from shared.notify.models import NotificationSubscription
from shared.notify.schemas import SubscriptionSet
from shared.notify.work import DEFAULT_ENABLED, WorkEvent

ENTITY = "notification_subscription"


@dataclass(frozen=True)
class Switches:
    """One event kind's subscriptions, read once per emission."""

    event: WorkEvent
    rules: dict[tuple[int | None, int | None], bool] = field(default_factory=dict)  # (channel, department) → on

    def enabled(self, channel_id: int, department_id: int | None) -> bool:
        for scope in ((channel_id, department_id), (channel_id, None), (None, department_id), (None, None)):
            if scope in self.rules:
                return self.rules[scope]
        return DEFAULT_ENABLED[self.event]


async def switches(session: AsyncSession, event: WorkEvent) -> Switches:
    """The subscriptions of one event kind."""
    rows = await session.execute(
        select(
            NotificationSubscription.channel_id,
            NotificationSubscription.department_id,
            NotificationSubscription.enabled,
        ).where(NotificationSubscription.event == event.value)
    )
    return Switches(event, {(r.channel_id, r.department_id): r.enabled for r in rows})


async def set_subscription(session: AsyncSession, *, actor: Actor, data: SubscriptionSet) -> NotificationSubscription:
    """Switch an event kind on or off for a scope: the scope's row is created or changed (audited)."""
    await crud.check_references(
        session, {"channel_id": (Channel, data.channel_id), "department_id": (Department, data.department_id)}
    )
    existing = await session.scalar(
        select(NotificationSubscription)
        .where(
            NotificationSubscription.event == data.event.value,
            NotificationSubscription.channel_id.is_not_distinct_from(data.channel_id),
            NotificationSubscription.department_id.is_not_distinct_from(data.department_id),
        )
        .with_for_update()
    )
    if existing is not None:
        return await crud.update(
            session, actor=actor, obj=existing, changes={"enabled": data.enabled}, entity_type=ENTITY
        )
    row = NotificationSubscription(
        event=data.event.value, channel_id=data.channel_id, department_id=data.department_id, enabled=data.enabled
    )
    return await crud.create(session, actor=actor, obj=row, entity_type=ENTITY)


async def delete_subscription(session: AsyncSession, *, actor: Actor, subscription_id: int) -> None:
    """Remove a subscription: its scope follows the wider rule again (or the default)."""
    row = await crud.get_or_404(session, NotificationSubscription, subscription_id, for_update=True)
    await crud.delete(session, actor=actor, obj=row, entity_type=ENTITY)
