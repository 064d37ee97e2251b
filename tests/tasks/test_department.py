"""A task's departments kept on its row (migration 0031): the department board and what a member
sees answer as the rules computed from users and campaigns did, after every kind of change, and
the board's department filter is read from an index."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import ColumnElement, and_, delete, or_, select, text

from shared.access import policy
from shared.actor import Actor
from shared.db import unit_of_work
from shared.models import Campaign, Role, Task, User
from tests.factories import auth, make_department, make_task, make_token, make_user
from tests.sql import index_scans, plans, scanned_tables, statements


def filter_before(department_id: int) -> ColumnElement[bool]:
    """`/tasks?department_id=` as it was computed before the column: the assignee's department or
    the campaign's department, read from users and campaigns."""
    return or_(
        Task.assignee_id.in_(select(User.id).where(User.department_id == department_id)),
        Task.campaign_id.in_(select(Campaign.id).where(Campaign.department_id == department_id)),
    )


def visible_before(actor: Actor) -> ColumnElement[bool]:
    """What a member saw before the column: its campaign's department (or party to the campaign),
    a standalone task's reporter's department, or a party to the task."""
    return or_(
        Task.assignee_id == actor.user_id,
        Task.reporter_id == actor.user_id,
        and_(Task.campaign_id.is_not(None), policy._in_campaigns(Task.campaign_id, actor)),
        and_(Task.campaign_id.is_(None), policy._users_at_home(Task.reporter_id, actor)),
    )


class Org:
    """Three departments, a person in each (plus one in none), two campaigns, six tasks:
    t1 standalone, assigned in M, reported in M
    t2 on campaign C (M), assigned and reported in S — lent to M's campaign
    t3 standalone, assigned in S, reported in M
    t4 standalone, unassigned, reported in P
    t5 on campaign C2 (S), assigned in P, reported in M
    t6 standalone, unassigned, no reporter — company-wide
    """

    departments: dict[str, int]
    users: dict[str, User]
    members: dict[str, tuple[Actor, dict[str, str]]]  # a member of M, S, P and of none
    campaigns: dict[str, int]
    tasks: dict[str, int]


@pytest.fixture
async def org(sessions, client) -> Org:
    o = Org()
    o.departments = {k: (await make_department(sessions, name=f"部门 {k}")).id for k in ("M", "S", "P")}
    o.users = {
        "m1": await make_user(sessions, department_id=o.departments["M"]),
        "s1": await make_user(sessions, department_id=o.departments["S"]),
        "p1": await make_user(sessions, department_id=o.departments["P"]),
    }
    o.members = {}
    for key in ("M", "S", "P", None):
        user = await make_user(sessions, department_id=o.departments[key] if key else None)
        _, token = await make_token(sessions, user=user)
        actor = Actor.user(user.id, Role.member, user.department_id)
        o.members[key or "none"] = (actor, {"Authorization": f"Bearer {token}"})
    o.campaigns = {}
    for key, dept, owner in (("C", "M", "m1"), ("C2", "S", "s1")):
        async with unit_of_work(sessions) as s:
            campaign = Campaign(name=f"活动 {key}", department_id=o.departments[dept], owner_id=o.users[owner].id)
            s.add(campaign)
            await s.flush()
            o.campaigns[key] = campaign.id
    u = {k: v.id for k, v in o.users.items()}
    o.tasks = {}
    for key, fields in (
        ("t1", {"assignee_id": u["m1"], "reporter_id": u["m1"]}),
        ("t2", {"campaign_id": o.campaigns["C"], "assignee_id": u["s1"], "reporter_id": u["s1"]}),
        ("t3", {"assignee_id": u["s1"], "reporter_id": u["m1"]}),
        ("t4", {"reporter_id": u["p1"]}),
        ("t5", {"campaign_id": o.campaigns["C2"], "assignee_id": u["p1"], "reporter_id": u["m1"]}),
        ("t6", {}),
    ):
        o.tasks[key] = (await make_task(sessions, title=key, **fields)).id
    return o


async def board(client, headers, **params: Any) -> list[str]:
    r = await client.get("/api/v1/tasks", headers=headers, params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    return [item["title"] for item in r.json()["items"]]


async def answers(client, sessions, org: Org) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The department board per department (as a director) and the board each member sees; each
    checked against the rules as they were computed before the column."""
    director = await auth(sessions, Role.director)
    by_department, by_member = {}, {}
    async with unit_of_work(sessions) as s:
        titles = {t.id: t.title for t in await s.scalars(select(Task))}

        async def before(condition: ColumnElement[bool]) -> list[str]:
            return [titles[i] for i in await s.scalars(select(Task.id).where(condition).order_by(Task.id))]

        for key, department_id in org.departments.items():
            by_department[key] = await board(client, director, department_id=department_id)
            assert by_department[key] == await before(filter_before(department_id)), key
        for key, (actor, headers) in org.members.items():
            by_member[key] = await board(client, headers)
            assert by_member[key] == await before(visible_before(actor)), key
            # a member's own department board: both rules at once
            if actor.department_id is not None:
                mine = await board(client, headers, department_id=actor.department_id)
                assert mine == await before(and_(visible_before(actor), filter_before(actor.department_id)))
    return by_department, by_member


async def patch(client, sessions, path: str, body: dict[str, Any]) -> None:
    r = await client.patch(path, headers=await auth(sessions, Role.admin), json=body)
    assert r.status_code == 200, r.text


async def test_the_department_board_and_a_members_board_follow_every_change(client, sessions, org):
    t, u, c, d = org.tasks, {k: v.id for k, v in org.users.items()}, org.campaigns, org.departments

    boards, members = await answers(client, sessions, org)
    assert boards == {"M": ["t1", "t2"], "S": ["t2", "t3", "t5"], "P": ["t5"]}
    assert members == {"M": ["t1", "t2", "t3", "t6"], "S": ["t5", "t6"], "P": ["t4", "t6"], "none": ["t6"]}

    # a task's assignee changes
    await patch(client, sessions, f"/api/v1/tasks/{t['t3']}", {"assignee_id": u["p1"]})
    boards, members = await answers(client, sessions, org)
    assert boards == {"M": ["t1", "t2"], "S": ["t2", "t5"], "P": ["t3", "t5"]}

    # a standalone task goes into S's campaign, a campaign task leaves its campaign
    await patch(client, sessions, f"/api/v1/tasks/{t['t1']}", {"campaign_id": c["C2"]})
    await patch(client, sessions, f"/api/v1/tasks/{t['t2']}", {"campaign_id": None})
    boards, members = await answers(client, sessions, org)
    assert boards == {"M": ["t1"], "S": ["t1", "t2", "t5"], "P": ["t3", "t5"]}
    assert members == {"M": ["t3", "t6"], "S": ["t1", "t2", "t5", "t6"], "P": ["t4", "t6"], "none": ["t6"]}

    # a person moves to another department: their assigned tasks and the standalone ones they reported
    await patch(client, sessions, f"/api/v1/users/{u['s1']}", {"department_id": d["P"]})
    boards, members = await answers(client, sessions, org)
    assert boards == {"M": ["t1"], "S": ["t1", "t5"], "P": ["t2", "t3", "t5"]}
    assert members == {"M": ["t3", "t6"], "S": ["t1", "t5", "t6"], "P": ["t2", "t4", "t6"], "none": ["t6"]}

    # a campaign moves to another department
    await patch(client, sessions, f"/api/v1/campaigns/{c['C2']}", {"department_id": d["M"]})
    boards, members = await answers(client, sessions, org)
    assert boards == {"M": ["t1", "t5"], "S": [], "P": ["t2", "t3", "t5"]}
    assert members == {"M": ["t1", "t3", "t5", "t6"], "S": ["t6"], "P": ["t2", "t4", "t6"], "none": ["t6"]}

    # a person is deleted: the foreign keys empty assignee and reporter, the trigger follows
    async with unit_of_work(sessions) as s:
        await s.execute(delete(User).where(User.id == u["p1"]))
    boards, members = await answers(client, sessions, org)
    assert boards == {"M": ["t1", "t5"], "S": [], "P": ["t2"]}
    assert members == {
        "M": ["t1", "t3", "t4", "t5", "t6"],
        "S": ["t4", "t6"],
        "P": ["t2", "t4", "t6"],
        "none": ["t4", "t6"],
    }


async def test_the_department_columns_cannot_be_written_by_hand(sessions, org):
    async with unit_of_work(sessions) as s:
        await s.execute(text("UPDATE tasks SET department_id = NULL, assignee_department_id = NULL"))
        rows = dict((await s.execute(select(Task.title, Task.department_id))).all())
    assert rows == {
        "t1": org.departments["M"],
        "t2": org.departments["M"],
        "t3": org.departments["M"],
        "t4": org.departments["P"],
        "t5": org.departments["S"],
        "t6": None,
    }


async def test_the_page_after_a_cursor_continues_in_id_order_across_both_ways_in(client, sessions, org):
    director = await auth(sessions, Role.director)
    r = await client.get("/api/v1/tasks", headers=director, params={"department_id": org.departments["S"], "limit": 1})
    pages = [[i["title"] for i in r.json()["items"]]]
    while cursor := r.json()["next_cursor"]:
        params = {"department_id": org.departments["S"], "limit": 1, "cursor": cursor}
        r = await client.get("/api/v1/tasks", headers=director, params=params)
        pages.append([i["title"] for i in r.json()["items"]])
    assert pages == [["t2"], ["t3"], ["t5"]]


# ---- the plan ------------------------------------------------------------------------------------------
async def test_the_department_board_reads_each_way_in_from_its_index(sessions, org, client):
    """The statements the board runs (a director's and a member's, a first page and the next),
    planned by PostgreSQL with sequential scans off (the test's tables are tiny): each way into the
    department is the index condition of its own index — department and cursor both — never a
    filter over a walk of the primary key."""
    director = await auth(sessions, Role.director)
    s_id = org.departments["S"]
    with statements() as sent:
        for headers in (director, org.members["S"][1]):
            first = await client.get("/api/v1/tasks", headers=headers, params={"department_id": s_id, "limit": 1})
            cursor = first.json()["next_cursor"]
            params = {"department_id": s_id, "limit": 1, "cursor": cursor}
            assert (await client.get("/api/v1/tasks", headers=headers, params=params)).status_code == 200
    captured = [(sql, parameters) for sql, parameters in sent.with_parameters() if "assignee_department_id" in sql]
    assert len(captured) == 4
    for (statement, _), plan in zip(captured, await plans(sessions, captured), strict=True):
        scans = index_scans(plan)
        board = [c for n, c in scans if n == "ix_tasks_board"]
        assignee = [c for n, c in scans if n == "ix_tasks_assignee_department"]
        assert len(board) == 1 and "department_id = " in board[0], scans
        assert len(assignee) == 1 and "assignee_department_id = " in assignee[0], scans
        if "id > " in statement:  # the next page starts in the index, not at its beginning
            assert "(id > " in board[0] and "(id > " in assignee[0], scans
        assert "tasks" not in scanned_tables(plan)


async def test_a_person_changing_department_finds_their_reported_tasks_through_an_index(sessions):
    """The statement the users trigger runs for the tasks a person reported (read from the trigger
    itself), and the plain lookup the foreign key's SET NULL makes, are index scans on reporter_id,
    not walks of every task (sequential scans off: the test's table is tiny)."""
    async with unit_of_work(sessions) as s:
        source = await s.scalar(text("SELECT prosrc FROM pg_proc WHERE proname = 'users_task_departments'"))
    (reported,) = [part for part in source.split(";") if "reporter_id = NEW.id" in part]
    statement = reported.replace("NEW.id", "7").replace("NEW.department_id", "3").strip()
    queries = (statement, "SELECT id FROM tasks WHERE reporter_id = 7")
    for query, plan in zip(queries, await plans(sessions, [(q, ()) for q in queries]), strict=True):
        assert ("ix_tasks_reporter", "(reporter_id = 7)") in index_scans(plan), (query, plan)
        assert "tasks" not in scanned_tables(plan)
