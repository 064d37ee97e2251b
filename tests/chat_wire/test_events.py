"""The replay memory of chat callbacks: one answer per vendor event id, forgotten after a while."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.worker.main import prune_chat_events_once
from shared.chat import apps
from shared.chat.models import ChatEvent, ChatVendor
from shared.db import unit_of_work


async def test_an_event_id_is_handled_once_and_a_replay_gets_the_first_answer(sessions, clock):
    handled = []

    async def handle() -> dict:
        handled.append(1)
        return {"toast": {"type": "success", "content": f"第 {len(handled)} 次"}}

    answers = []
    for vendor in (ChatVendor.feishu, ChatVendor.feishu, ChatVendor.dingtalk):
        async with unit_of_work(sessions) as s:
            answers.append(
                await apps.answer_once(
                    s, vendor=vendor, event_id="ev-1", chat_app_id=None, now=clock.now(), handle=handle
                )
            )
    assert answers == [
        ({"toast": {"type": "success", "content": "第 1 次"}}, True),
        ({"toast": {"type": "success", "content": "第 1 次"}}, False),
        ({"toast": {"type": "success", "content": "第 2 次"}}, True),  # another vendor's id space
    ]


async def test_a_failed_handling_is_not_remembered_so_the_redelivery_acts(sessions, clock):
    async def fail() -> dict:
        raise RuntimeError("boom")

    try:
        async with unit_of_work(sessions) as s:
            await apps.answer_once(
                s, vendor=ChatVendor.feishu, event_id="e", chat_app_id=None, now=clock.now(), handle=fail
            )
    except RuntimeError:
        pass
    async with unit_of_work(sessions) as s:
        assert (await s.scalars(select(ChatEvent))).all() == []


async def test_the_worker_forgets_events_older_than_the_retention(sessions, clock, settings):
    now = clock.now()
    async with unit_of_work(sessions) as s:
        for i, age in enumerate((timedelta(days=8), timedelta(days=7, seconds=1), timedelta(days=6, hours=23))):
            s.add(ChatEvent(vendor=ChatVendor.feishu, event_id=f"e{i}", received_at=now - age, response={}))
    assert await prune_chat_events_once({"sessions": sessions, "clock": clock, "settings": settings}) is False
    async with unit_of_work(sessions) as s:
        assert list(await s.scalars(select(ChatEvent.event_id))) == ["e2"]
