"""SLA timers, escalations and notifications are read like the items they are about (issue 13): a
member of another department no longer reads department A's task titles on those boards."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import ChannelKind, Role
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.sla.engine import sweep_due_timers
from tests.factories import BREACH_ONLY, make_channel, make_department, make_policy, make_token, make_user
from tests.notify.helpers import make_dispatcher

API = "/api/v1"
T0 = "2025-03-04T10:00:00+08:00"  # in the past: the notifier sends what is due by the wall clock
TITLE = "海报：客户张三的投诉回访"  # a title that carries a customer's name


class Org:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.tokens: dict[str, str] = {}

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def org(sessions) -> Org:
    o = Org()
    a = await make_department(sessions, name="市场部")
    b = await make_department(sessions, name="销售部")
    o.ids |= {"a": a.id, "b": b.id}
    for who, role, dept in (
        ("member_a", Role.member, a.id),
        ("member_b", Role.member, b.id),
        ("manager_b", Role.manager, b.id),
        ("director", Role.director, None),
    ):
        user = await make_user(sessions, role=role, department_id=dept)
        o.ids[who] = user.id
        o.tokens[who] = (await make_token(sessions, user=user))[1]
    await make_policy(sessions, levels=BREACH_ONLY)  # every task: one hour, the breach to its assignee
    return o


@pytest.fixture
async def breached(settings, sessions, client, clock, arq_redis, botsim, org) -> dict[str, Any]:
    """A's task breached, its alert delivered to A's chat group; B's own task still running."""
    botsim.add_bots({"market": {"kind": "dingtalk"}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[org.ids["a"]]
    )
    clock.set(datetime.fromisoformat(T0))
    ids = {}
    for who, title in (("member_a", TITLE), ("member_b", "B 的报价单")):
        body = {"title": title, "assignee_id": org.ids[who]}
        r = await client.post(f"{API}/tasks", headers=org.as_(who), json=body)
        assert r.status_code == 201, r.text
        ids[who] = r.json()["id"]
    clock.advance(timedelta(minutes=61))
    async with unit_of_work(sessions) as s:
        assert (await sweep_due_timers(s, now=clock.now(), batch_size=100)).fired == 2
    async with Sender() as http:
        await drain(make_dispatcher(settings, sessions, arq_redis, http, SystemClock()), channel.id)
    assert TITLE in str(botsim.messages("market")[-1]["body"])  # A's group got it
    return {"task_a": ids["member_a"], "task_b": ids["member_b"], "channel_id": channel.id}


async def _items(client, org: Org, who: str, path: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}{path}", headers=org.as_(who))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_the_timers_board_shows_each_department_its_own_tasks(client, org, breached):
    def tasks(rows: list[dict[str, Any]]) -> list[int]:
        return sorted(row["subject_id"] for row in rows if row["subject_type"] == "task")

    a, b = breached["task_a"], breached["task_b"]
    assert tasks(await _items(client, org, "member_a", "/sla/timers")) == [a]
    for who in ("member_b", "manager_b"):
        rows = await _items(client, org, who, "/sla/timers")
        assert tasks(rows) == [b] and TITLE not in str(rows)
    assert tasks(await _items(client, org, "director", "/sla/timers")) == sorted([a, b])
    # Asking for A's task by name does not get around it.
    assert await _items(client, org, "member_b", f"/sla/timers?subject_type=task&subject_id={a}") == []
    assert len(await _items(client, org, "member_a", f"/sla/timers?subject_type=task&subject_id={a}")) == 1


async def test_escalations_are_read_by_the_tasks_department_only(client, org, breached):
    a, b = breached["task_a"], breached["task_b"]

    def subjects(rows: list[dict[str, Any]]) -> list[int]:
        return sorted(row["subject_id"] for row in rows)

    assert subjects(await _items(client, org, "member_a", "/sla/escalations")) == [a]
    assert subjects(await _items(client, org, "member_b", "/sla/escalations")) == [b]
    assert subjects(await _items(client, org, "director", "/sla/escalations")) == sorted([a, b])
    assert await _items(client, org, "manager_b", f"/sla/escalations?subject_type=task&subject_id={a}") == []


async def test_notifications_follow_their_subject_not_the_reader_role(client, org, breached):
    a = breached["task_a"]
    seen_by_a = await _items(client, org, "member_a", "/notifications")
    # A's task's breach went to A's chat group (B's task has no channel for B: nothing for it).
    assert [(n["subject_type"], n["subject_id"], n["event_type"]) for n in seen_by_a] == [("task", a, "sla.breach")]
    assert await _items(client, org, "director", "/notifications") == seen_by_a
    for who in ("member_b", "manager_b"):
        assert await _items(client, org, who, "/notifications") == []
    notification = f"{API}/notifications/{seen_by_a[0]['id']}"
    for who, status in (("member_a", 200), ("member_b", 404), ("manager_b", 404), ("director", 200)):
        r = await client.get(notification, headers=org.as_(who))
        assert r.status_code == status, (who, r.text)
        r = await client.get(f"{notification}/attempts", headers=org.as_(who))
        assert r.status_code == status, (who, r.text)
        if status == 200:
            assert [x["outcome"] for x in r.json()["items"]] == ["success"]
        else:
            assert TITLE not in r.text and r.json()["detail"] == f"notification {seen_by_a[0]['id']} does not exist"


def test_every_subject_type_belongs_to_an_item_of_the_permission_model():
    """Otherwise its timers, escalations and notifications would be for directors only."""
    from shared import subjects
    from shared.access import policy

    orphans = [
        spec.name for spec in subjects.subject_types() if not any(link.item in policy.RULES for link in spec.trail)
    ]
    assert orphans == []
    assert len(subjects.subject_types()) == 11
