"""The API request's id travels with the work it causes: the outbox rows a request writes carry
it, and the notifier's log line about each delivery says it (JSON logs)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from services.notifier.main import drain
from shared.db import unit_of_work
from shared.models import ChannelKind, Notification
from shared.observability import logs
from tests.factories import auth, make_channel, make_department, make_user


@contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """Closeloop's logging as `CLOSELOOP_LOG_FORMAT=json` configures it, written to a buffer."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    buffer = io.StringIO()
    config = logs.dict_config("json", "INFO")
    config["handlers"]["default"]["stream"] = buffer
    logging.config.dictConfig(config)
    try:
        yield buffer
    finally:
        for handler in root.handlers:
            if handler not in saved[1]:
                root.removeHandler(handler)
        root.setLevel(saved[0])


async def test_a_complaints_card_is_delivered_under_the_id_of_the_request_that_filed_it(client, sessions, ctx, botsim):
    botsim.add_bots({"fs1": {"kind": "feishu"}})
    dept = await make_department(sessions)
    owner = await make_user(sessions, department_id=dept.id)
    channel = await make_channel(
        sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs1"), department_ids=[dept.id]
    )
    admin = await auth(sessions)
    body = {"kind": "complaint", "channel": "wechat", "department_id": dept.id, "owner_id": owner.id}

    r = await client.post(
        "/api/v1/feedback", headers={**admin, "X-Request-ID": "abc"}, json={**body, "content": "破损"}
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == "abc"
    r = await client.post("/api/v1/feedback", headers=admin, json={**body, "content": "漏发"})
    assert r.status_code == 201, r.text
    made = r.headers["x-request-id"]  # none given: the API made one
    assert made != "abc"
    async with unit_of_work(sessions) as s:
        rows = (await s.execute(select(Notification.request_id, Notification.event_type))).all()
    assert sorted(rows) == sorted([("abc", "work.complaint_received"), (made, "work.complaint_received")])

    with json_logs() as buffer:
        await drain(ctx, channel.id)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    delivered = [line for line in lines if line["logger"] == "shared.notify.delivery"]
    assert sorted((line.get("request_id"), line["outcome"], line["channel_id"]) for line in delivered) == sorted(
        [("abc", "success", channel.id), (made, "success", channel.id)]
    )
    assert len(botsim.messages("fs1")) == 2


async def test_work_the_clock_caused_is_logged_without_a_request_id(client, sessions, ctx, botsim, clock):
    """A breach the worker's sweep fires belongs to no request: its delivery line has no id, and
    the request that created the task long before lends it none."""
    from datetime import timedelta

    from services.worker.main import sweep_once
    from tests.factories import BREACH_ONLY, make_policy

    botsim.add_bots({"fs2": {"kind": "feishu"}})
    dept = await make_department(sessions)
    owner = await make_user(sessions, department_id=dept.id)
    channel = await make_channel(
        sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs2"), department_ids=[dept.id]
    )
    await make_policy(sessions, levels=BREACH_ONLY)
    due = (clock.now() + timedelta(hours=1)).isoformat()
    r = await client.post(
        "/api/v1/tasks",
        headers={**await auth(sessions), "X-Request-ID": "task-made"},
        json={"title": "竞品分析", "assignee_id": owner.id, "due_at": due},
    )
    assert r.status_code == 201, r.text
    clock.advance(timedelta(hours=2))
    await sweep_once(ctx)

    with json_logs() as buffer:
        await drain(ctx, channel.id)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    delivered = [line for line in lines if line["logger"] == "shared.notify.delivery"]
    assert [(line.get("request_id"), line["outcome"]) for line in delivered] == [(None, "success")]
