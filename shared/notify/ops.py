"""Operator alerts: a channel that the vendor refuses (bad token, signature, keyword, IP) raises
one alert per episode to the channels marked `ops_alerts`, through the outbox like any other."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Channel
from shared.notify.outbox import OutboxItem, add_to_outbox

log = logging.getLogger(__name__)
EVENT = "ops.channel_unhealthy"


async def channel_unhealthy(session: AsyncSession, channel: Channel, *, now: datetime) -> list[int]:
    log.warning("channel %s (%s) is unhealthy: %s", channel.id, channel.name, channel.unhealthy_reason)
    ops = await session.scalars(
        select(Channel.id).where(
            Channel.ops_alerts.is_(True),
            Channel.enabled.is_(True),
            Channel.healthy.is_(True),
            Channel.id != channel.id,
        )
    )
    episode = int(now.timestamp())
    payload = {
        "channel": {"id": channel.id, "name": channel.name, "kind": channel.kind.value},
        "reason": channel.unhealthy_reason,
        "since": now.isoformat(),
        "url": None,
    }
    return await add_to_outbox(
        session,
        [
            OutboxItem(
                dedupe_key=f"ops:channel-unhealthy:{channel.id}:{episode}:ch{ops_id}",
                event_type=EVENT,
                subject_type="channel",
                subject_id=channel.id,
                channel_id=ops_id,
                payload=payload,
            )
            for ops_id in ops
        ],
        now=now,
    )
