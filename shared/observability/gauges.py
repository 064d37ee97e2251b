"""Gauges of the whole system, read at scrape time from PostgreSQL and Redis (cheap, index-served
queries), so every API process answers the same numbers however many workers run.

- sweep lag: now − the oldest due but unfired level (`ix_sla_timers_next_fire`); 0 when none waits;
- outbox depth per channel: pending notifications (`ix_notifications_channel_pending`);
- dead letters per channel (`ix_notifications_dead`);
- channel health (1 healthy, 0 not) for enabled channels;
- heartbeat age per process kind (seconds since the newest worker/notifier beat; absent: never)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Channel, Notification, NotificationStatus, SlaTimer, TimerState
from shared.observability import heartbeat
from shared.observability.metrics import PREFIX


@dataclass
class SystemState:
    sweep_lag_s: float = 0.0
    outbox_depth: dict[int, int] = field(default_factory=dict)
    dead_letters: dict[int, int] = field(default_factory=dict)
    channel_healthy: dict[int, bool] = field(default_factory=dict)
    heartbeat_age_s: dict[str, float | None] = field(default_factory=dict)


async def read_state(session: AsyncSession, redis: Redis, *, now: datetime) -> SystemState:
    oldest_due = await session.scalar(
        select(func.min(SlaTimer.next_fire_at)).where(
            SlaTimer.state == TimerState.running, SlaTimer.next_fire_at <= now
        )
    )
    by_status = await session.execute(
        select(Notification.status, Notification.channel_id, func.count())
        .where(Notification.status.in_([NotificationStatus.pending, NotificationStatus.dead]))
        .group_by(Notification.status, Notification.channel_id)
    )
    state = SystemState(sweep_lag_s=(now - oldest_due).total_seconds() if oldest_due is not None else 0.0)
    for status, channel_id, n in by_status:
        target = state.outbox_depth if status == NotificationStatus.pending else state.dead_letters
        target[channel_id] = n
    for channel_id, healthy in await session.execute(select(Channel.id, Channel.healthy).where(Channel.enabled)):
        state.channel_healthy[channel_id] = healthy
        state.outbox_depth.setdefault(channel_id, 0)
        state.dead_letters.setdefault(channel_id, 0)
    state.heartbeat_age_s = await heartbeat.ages(redis, now=now)
    return state


class _StateCollector(Collector):
    def __init__(self, state: SystemState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        s = self.state
        lag = GaugeMetricFamily(f"{PREFIX}_sla_sweep_lag_seconds", "Now minus the oldest due but unfired SLA level")
        lag.add_metric([], s.sweep_lag_s)
        yield lag
        for name, doc, values in (
            ("outbox_depth", "Notifications waiting to be delivered", s.outbox_depth),
            ("dead_letters", "Notifications that will not be retried (replayable)", s.dead_letters),
            ("channel_healthy", "1 when the channel's last deliveries succeeded", s.channel_healthy),
        ):
            family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["channel_id"])
            for channel_id, value in sorted(values.items()):
                family.add_metric([str(channel_id)], float(value))
            yield family
        age = GaugeMetricFamily(
            f"{PREFIX}_heartbeat_age_seconds", "Seconds since the newest beat of a process kind", labels=["process"]
        )
        for process, seconds in s.heartbeat_age_s.items():
            if seconds is not None:
                age.add_metric([process], seconds)
        yield age


def exposition(state: SystemState) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(state))
    return generate_latest(registry)
