"""Which work-arrival events a channel, or a department's messages, receive.

A subscription switches one event kind on or off for a channel, a department, a channel's messages
for one department, or (neither) everywhere; the most specific row wins, and without any row every
kind is on (`shared.notify.work.DEFAULT_ENABLED`).

Who may switch what follows the channels' model (`shared.notify.channels.managed`): directors and
admins any scope; a manager only scopes inside their own department — their department (with or
without a channel: only their department's messages), or a channel they configure (bound to their
department alone). A switch for every department, another department, or a channel other
departments share would silence (or wake) people the manager has no say over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.errors import Forbidden
from shared.models import Channel, Department
from shared.notify.channels import managed
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
    await _require_scope(session, actor, channel_id=data.channel_id, department_id=data.department_id)
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
    await _require_scope(session, actor, channel_id=row.channel_id, department_id=row.department_id)
    await crud.delete(session, actor=actor, obj=row, entity_type=ENTITY)


async def _require_scope(
    session: AsyncSession, actor: Actor, *, channel_id: int | None, department_id: int | None
) -> None:
    """403 naming the field unless the caller may switch this scope (see the module's docstring)."""
    if actor.sees_everything:
        return
    if department_id is not None:  # their own department's messages, on any channel or all
        if department_id != actor.department_id:
            message = f"you switch your own department's events only (department {department_id} is not yours)"
            raise Forbidden.for_field("department_id", message)
        return
    if channel_id is None:
        message = "a switch for every department is for directors and admins: name your department"
        raise Forbidden.for_field("department_id", message)
    if await session.scalar(select(Channel.id).where(Channel.id == channel_id, managed(actor))) is None:
        message = f"channel {channel_id} is not your department's alone: name your department_id too"
        raise Forbidden.for_field("channel_id", message)
