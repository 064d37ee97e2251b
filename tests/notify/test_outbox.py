"""Writing to the outbox: COPY when every notification is new, else only the new ones."""

from __future__ import annotations

from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import Notification, NotificationStatus
from shared.notify.outbox import OutboxItem, add_to_outbox
from tests.factories import make_channel


def _item(channel_id: int, n: int) -> OutboxItem:
    return OutboxItem(
        dedupe_key=f"sla:{n}:0:0:ch{channel_id}",
        event_type="sla.breach",
        subject_type="task",
        subject_id=n,
        channel_id=channel_id,
        payload={"kind": "breach", "n": n, "title": f"任务 {n}"},
    )


async def test_a_notification_already_in_the_outbox_is_skipped_and_the_new_ones_written(sessions, clock):
    channel = await make_channel(sessions)
    items = [_item(channel.id, n) for n in range(3)]
    async with unit_of_work(sessions) as s:
        first = await add_to_outbox(s, items[:2], now=clock.now())
    async with unit_of_work(sessions) as s:
        again = await add_to_outbox(s, items, now=clock.now())  # two of the three keys exist already
    async with unit_of_work(sessions) as s:
        rows = list(await s.scalars(select(Notification).order_by(Notification.id)))
    assert [r.id for r in rows[:2]] == first
    assert again == [rows[2].id]
    assert [(r.dedupe_key, r.payload["n"], r.payload["title"], r.status) for r in rows] == [
        (f"sla:{n}:0:0:ch{channel.id}", n, f"任务 {n}", NotificationStatus.pending) for n in range(3)
    ]
    # Each row its own message id (receivers dedupe on it), a random UUID.
    assert len({r.message_id for r in rows}) == 3
    assert {r.message_id.version for r in rows} == {4}
