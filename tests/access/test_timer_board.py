"""A member's timers board (issue 14): below director each timer the page reads is checked against
its item's visibility by primary key, instead of building the set of every item the caller may see
first. The rows are exactly the ones `policy.condition` of each timer's item admits — through every
way a member comes to see an item — and the page is read from indexes, never a sequential scan."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from shared import subjects  # noqa: F401 — every subject type is registered
from shared.access import policy
from shared.actor import Actor
from shared.db import unit_of_work
from shared.models import (
    Approval,
    ApprovalAssignment,
    ApprovalStep,
    Campaign,
    CampaignStage,
    CollaborationOccurrence,
    CollaborationRequest,
    ReviewRequest,
    ReviewResponse,
    Role,
    SlaTimer,
    Task,
    TimerState,
)
from shared.sla import registry
from tests.factories import make_department, make_token, make_user
from tests.sql import index_scans, plans, scanned_tables, statements

API = "/api/v1"
NOW = datetime.fromisoformat("2026-11-23T10:00:00+08:00")

# Each item of department B that member A1 sees, and the one way they see it; B's own items, A's
# items and a company-wide task complete the picture.
A1_SEES_IN_B = (
    "task assigned to A1",
    "task reported by A1",
    "task on a campaign A1 owns",
    "task on a campaign with a stage A1 owns",
    "stage A1 owns",
    "stage of a campaign A1 owns",
    "review A1 answers",
    "review A's department answers",
    "approval A1 approves",
    "collaboration with A",
)


class World:
    def __init__(self) -> None:
        self.users: dict[str, int] = {}
        self.departments: dict[str, int] = {}
        self.tokens: dict[str, str] = {}
        self.timers: dict[str, int] = {}  # what the timer is about → its id

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def names(self, timer_ids: list[int]) -> list[str]:
        by_id = {v: k for k, v in self.timers.items()}
        return [by_id[i] for i in timer_ids]


@pytest.fixture
async def world(sessions, clock) -> World:
    clock.set(NOW)
    w = World()
    for name in ("A", "B"):
        w.departments[name] = (await make_department(sessions, name=f"部门{name}")).id
    for who, role, dept in (
        ("A1", Role.member, "A"),
        ("A2", Role.member, "A"),
        ("B1", Role.member, "B"),
        ("B manager", Role.manager, "B"),
    ):
        user = await make_user(sessions, role=role, department_id=w.departments[dept])
        w.users[who] = user.id
        w.tokens[who] = (await make_token(sessions, user=user))[1]
    a, b, a1, b1 = w.departments["A"], w.departments["B"], w.users["A1"], w.users["B1"]
    async with unit_of_work(sessions) as s:
        plain_b = Campaign(name="B 的活动", department_id=b, owner_id=b1)
        owned_by_a1 = Campaign(name="A1 负责的 B 活动", department_id=b, owner_id=a1)
        staged_by_a1 = Campaign(name="A1 负责一个阶段的 B 活动", department_id=b, owner_id=b1)
        s.add_all([plain_b, owned_by_a1, staged_by_a1])
        await s.flush()

        def stage(campaign: Campaign, owner: int, key: str) -> CampaignStage:
            return CampaignStage(campaign_id=campaign.id, key=key, position=1, name=key, spec={}, owner_id=owner)

        stages = {
            "stage A1 owns": stage(staged_by_a1, a1, "research"),
            "stage of a campaign A1 owns": stage(owned_by_a1, b1, "research"),
            "stage of B": stage(plain_b, b1, "research"),
        }
        tasks = {
            "task of A": Task(title="A 的任务", reporter_id=w.users["A2"]),
            "company-wide task": Task(title="全公司的任务"),
            "task of B": Task(title="B 的任务", reporter_id=b1, assignee_id=b1),
            "task assigned to A1": Task(title="派给 A1", reporter_id=b1, assignee_id=a1),
            "task reported by A1": Task(title="A1 报的 B 任务", reporter_id=a1, campaign_id=plain_b.id),
            "task on a campaign A1 owns": Task(title="A1 的活动", reporter_id=b1, campaign_id=owned_by_a1.id),
            "task on a campaign with a stage A1 owns": Task(
                title="A1 的阶段", reporter_id=b1, campaign_id=staged_by_a1.id
            ),
        }
        reviews = {
            "review A1 answers": ReviewRequest(title="A1 审", department_id=b, reviewers=[], response_target={}),
            "review A's department answers": ReviewRequest(
                title="A 部门审", department_id=b, reviewers=[], response_target={}
            ),
            "review of B": ReviewRequest(title="B 审", department_id=b, reviewers=[], response_target={}),
        }
        approvals = {
            "approval A1 approves": Approval(kind="campaign", title="A1 批", department_id=b),
            "approval of B": Approval(kind="campaign", title="B 批", department_id=b),
        }
        collaborations = {
            "collaboration with A": CollaborationRequest(
                matter="与 A 协作",
                initiating_department_id=b,
                collaborating_department_ids=[a],
                deadline_kind="calendar",
                deadline_value="PT8H",
            ),
            "collaboration of B": CollaborationRequest(
                matter="B 自己",
                initiating_department_id=b,
                collaborating_department_ids=[],
                deadline_kind="calendar",
                deadline_value="PT8H",
            ),
        }
        s.add_all([*stages.values(), *tasks.values(), *reviews.values(), *approvals.values()])
        s.add_all(collaborations.values())
        await s.flush()
        responders = {
            "review A1 answers": {"user_id": a1},
            "review A's department answers": {"department_id": a},
            "review of B": {"user_id": b1, "department_id": b},
        }
        responses = {
            name: ReviewResponse(review_id=reviews[name].id, round=1, requested_at=NOW, **responders[name])
            for name in reviews
        }
        steps = {
            name: ApprovalStep(approval_id=a.id, position=1, name="审批", mode="any", approver_ids=[], status="active")
            for name, a in approvals.items()
        }
        occurrences = {
            name: CollaborationOccurrence(request_id=r.id, occurrence_date=NOW.date(), opened_at=NOW, due_at=NOW)
            for name, r in collaborations.items()
        }
        s.add_all([*responses.values(), *steps.values(), *occurrences.values()])
        await s.flush()
        approvers = {"approval A1 approves": a1, "approval of B": b1}
        assignments = {
            name: ApprovalAssignment(
                step_id=steps[name].id, approval_id=approvals[name].id, approver_id=approvers[name], assigned_at=NOW
            )
            for name in approvals
        }
        s.add_all(assignments.values())
        await s.flush()
        subjects_of: dict[str, tuple[str, int]] = {
            **{n: ("task", t.id) for n, t in tasks.items()},
            **{n: ("campaign_stage", x.id) for n, x in stages.items()},
            **{n: ("review_response", x.id) for n, x in responses.items()},
            **{n: ("approval_assignment", x.id) for n, x in assignments.items()},
            **{n: ("collaboration", x.id) for n, x in occurrences.items()},
        }
        timers = {}
        for i, (name, (subject_type, subject_id)) in enumerate(subjects_of.items()):
            # Every other timer has breached; the board's department is B's for all but A's task.
            due = NOW + timedelta(hours=-1 if i % 2 else 1)
            timers[name] = SlaTimer(
                subject_type=subject_type,
                subject_id=subject_id,
                department_id=a if name == "task of A" else b,
                target_kind="calendar",
                target_value="PT1H",
                target_s=3600.0,
                state=TimerState.running,
                started_at=due - timedelta(hours=1),
                due_at=due,
            )
        s.add_all(timers.values())
        await s.flush()
        w.timers = {name: t.id for name, t in timers.items()}
    return w


async def _board(client, world: World, who: str, **params: Any) -> list[int]:
    """Every timer id the caller's board lists, page after page (two rows a page: the cursor too)."""
    ids: list[int] = []
    params = {"limit": 2, **params}
    while True:
        r = await client.get(f"{API}/sla/timers", headers=world.as_(who), params=params)
        assert r.status_code == 200, r.text
        ids += [row["id"] for row in r.json()["items"]]
        if not (cursor := r.json()["next_cursor"]):
            return ids
        params["cursor"] = cursor


async def _admitted(sessions, world: World, who: str, role: Role, department: str) -> list[int]:
    """The timers whose item `policy.condition` admits for the caller, item by item."""
    actor = Actor.user(world.users[who], role, world.departments[department])
    found = []
    async with unit_of_work(sessions) as s:
        for timer in await s.scalars(select(SlaTimer).order_by(SlaTimer.id)):
            link = next(link for link in registry.get(timer.subject_type).trail if link.item in policy.RULES)
            subject = link.column.class_
            item_id = await s.scalar(select(link.column).where(subject.id == timer.subject_id))
            model = policy.RULES[link.item].model
            if await s.scalar(select(model.id).where(model.id == item_id, policy.condition(link.item, actor))):
                found.append(timer.id)
    return found


async def test_a_member_sees_the_timers_of_exactly_the_items_they_may_read(client, sessions, world):
    a1 = await _board(client, world, "A1")
    assert sorted(world.names(a1)) == sorted(["task of A", "company-wide task", *A1_SEES_IN_B])
    assert a1 == await _admitted(sessions, world, "A1", Role.member, "A")
    # A2 is a party to nothing of B's: their department's items, the company's and what A answers.
    a2 = await _board(client, world, "A2")
    assert sorted(world.names(a2)) == sorted(
        ["task of A", "company-wide task", "review A's department answers", "collaboration with A"]
    )
    assert a2 == await _admitted(sessions, world, "A2", Role.member, "A")
    # B sees all of B's and the company's task, not A's.
    for who, role in (("B1", Role.member), ("B manager", Role.manager)):
        ids = await _board(client, world, who)
        assert sorted(world.names(ids)) == sorted(set(world.timers) - {"task of A"}), who
        assert ids == await _admitted(sessions, world, who, role, "B")


async def test_the_filters_narrow_the_same_visible_rows(client, world):
    b = world.departments["B"]
    by_department = world.names(await _board(client, world, "A1", department_id=b))
    assert sorted(by_department) == sorted(["company-wide task", *A1_SEES_IN_B])
    tasks = world.names(await _board(client, world, "A2", subject_type="task", state="running"))
    assert sorted(tasks) == ["company-wide task", "task of A"]
    breached = world.names(await _board(client, world, "A2", breached="true"))
    # The fixture breached every other timer, in the order the timers were created.
    assert sorted(breached) == ["collaboration with A", "company-wide task", "review A's department answers"]
    assert await _board(client, world, "A2", department_id=b, state="met") == []


async def test_a_members_timers_page_is_read_from_indexes(client, sessions, world):
    """The board's statements for a member, planned by PostgreSQL with sequential scans off (the
    test's tables are tiny): neither `sla_timers` nor any item table is scanned, and each timer read
    probes its item by primary key (`id = sla_timers.subject_id`)."""
    b = world.departments["B"]
    with statements() as sent:
        for params in ({}, {"department_id": b, "state": "running"}, {"state": "running"}, {"subject_type": "task"}):
            r = await client.get(f"{API}/sla/timers", headers=world.as_("A1"), params={"limit": 2, **params})
            assert r.status_code == 200, r.text
    captured = [
        (sql, parameters)
        for sql, parameters in sent.with_parameters()
        if sql.startswith("SELECT") and "FROM sla_timers" in sql and "EXISTS" in sql
    ]
    assert len(captured) == 4
    for plan in await plans(sessions, captured):
        assert scanned_tables(plan) == [], scanned_tables(plan)
        probes = {name for name, cond in index_scans(plan) if "subject_id" in cond}
        assert {"pk_tasks", "pk_campaign_stages", "pk_review_responses"} <= probes, index_scans(plan)
