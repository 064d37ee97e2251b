"""bench/seed.py at a tiny scale against the test database: the rows are consistent, so the bench
cannot rot when a model changes."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.seed import DEFAULT_NOW, Copier, Scale, has, seed
from shared.models import CampaignStage, Task
from shared.settings import Settings
from tests.conftest import TABLES

SMALL = Scale(departments=50, members_per_department=3, campaigns=40, tasks=200, timers=60)


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(text(sql), params)


async def test_seed_fills_the_org_and_the_scale_asked(settings: Settings, engine: AsyncEngine) -> None:
    report = await seed(settings.require_database_url(), SMALL, seed=3, analyze=False)

    assert await scalar(engine, "SELECT count(*) FROM departments WHERE head_user_id IS NOT NULL") == 50
    assert await scalar(engine, "SELECT count(*) FROM users") == 2 + 50 + 50 * 3  # admin, director, heads, members
    # Each member reports to their department's head, each head to the director.
    assert (
        await scalar(
            engine,
            """SELECT count(*) FROM users u JOIN departments d ON d.id = u.department_id
               WHERE u.manager_id IS DISTINCT FROM d.head_user_id AND u.id <> d.head_user_id""",
        )
        == 0
    )
    assert await scalar(engine, "SELECT count(DISTINCT department_id) FROM channel_departments") == 50
    assert await scalar(engine, "SELECT count(*) FROM tasks") == 200
    assert await scalar(engine, "SELECT count(*) FROM campaigns") == 40
    assert await scalar(engine, "SELECT count(*) FROM campaign_stages") == 40 * 6  # the default template's stages
    assert 0 < await scalar(engine, "SELECT count(*) FROM sla_timers") <= 60
    assert report.timings["tasks"][0] == 200
    # The product's own reference data came with it: the default calendar and a policy per subject type.
    assert await scalar(engine, "SELECT count(*) FROM calendars WHERE is_default") == 1
    # Sequences moved past the copied ids: the next row the product inserts does not collide.
    assert await scalar(engine, "SELECT nextval(pg_get_serial_sequence('tasks', 'id'))") == 201


async def test_stage_histories_are_ordered_and_match_their_campaign(settings: Settings, engine: AsyncEngine) -> None:
    await seed(settings.require_database_url(), SMALL, seed=3, analyze=False)

    # Each stage is entered when the previous one was left, never before.
    gaps = await rows(
        engine,
        """SELECT s.id FROM campaign_stages s
           JOIN campaign_stages p ON p.campaign_id = s.campaign_id AND p.position = s.position - 1
           WHERE s.entered_at IS NOT NULL AND (p.exited_at IS NULL OR s.entered_at <> p.exited_at)""",
    )
    assert gaps == []
    assert await scalar(engine, "SELECT count(*) FROM campaign_stages WHERE exited_at <= entered_at") == 0
    # Statuses agree with the times: done has left, active has not, pending was never entered.
    bad = await rows(
        engine,
        """SELECT id, status FROM campaign_stages WHERE
             (status = 'done' AND (entered_at IS NULL OR exited_at IS NULL))
          OR (status = 'active' AND (entered_at IS NULL OR exited_at IS NOT NULL))
          OR (status = 'pending' AND entered_at IS NOT NULL)""",
    )
    assert bad == []
    assert (
        await scalar(
            engine,
            "SELECT count(*) FROM (SELECT campaign_id FROM campaign_stages WHERE status = 'active' "
            "GROUP BY campaign_id HAVING count(*) > 1) x",
        )
        == 0
    )
    # A completed campaign has left every stage; an active one is in exactly one.
    assert (
        await scalar(
            engine,
            """SELECT count(*) FROM campaigns c WHERE
                 (c.status = 'completed' AND EXISTS (SELECT 1 FROM campaign_stages s
                                                     WHERE s.campaign_id = c.id AND s.status <> 'done'))
              OR (c.status = 'active' AND NOT EXISTS (SELECT 1 FROM campaign_stages s
                                                      WHERE s.campaign_id = c.id AND s.status = 'active'))""",
        )
        == 0
    )
    # Some stages ran over their limit (the bottleneck ranking has something to rank).
    assert (
        await scalar(
            engine, "SELECT count(*) FROM sla_timers WHERE subject_type = 'campaign_stage' AND met_at > due_at"
        )
        > 0
    )
    if has(CampaignStage, "cycle_wd"):  # the analytics columns, once merged
        assert (
            await scalar(engine, "SELECT count(*) FROM campaign_stages WHERE status = 'done' AND cycle_wd IS NULL") == 0
        )


async def test_timers_point_at_existing_subjects_and_agree_with_them(settings: Settings, engine: AsyncEngine) -> None:
    await seed(settings.require_database_url(), SMALL, seed=3, analyze=False)

    orphans = await rows(
        engine,
        """SELECT t.id, t.subject_type FROM sla_timers t
           LEFT JOIN tasks k ON t.subject_type = 'task' AND k.id = t.subject_id
           LEFT JOIN campaign_stages s ON t.subject_type = 'campaign_stage' AND s.id = t.subject_id
           LEFT JOIN review_responses r ON t.subject_type = 'review_response' AND r.id = t.subject_id
           LEFT JOIN approval_assignments a ON t.subject_type = 'approval_assignment' AND a.id = t.subject_id
           WHERE coalesce(k.id, s.id, r.id, a.id) IS NULL""",
    )
    assert orphans == []
    kinds = {r[0] for r in await rows(engine, "SELECT DISTINCT subject_type FROM sla_timers")}
    assert kinds == {"task", "campaign_stage", "review_response", "approval_assignment"}
    # A task's timer is met when (and only when) the task was done, at its completion.
    assert (
        await scalar(
            engine,
            """SELECT count(*) FROM sla_timers t JOIN tasks k ON k.id = t.subject_id AND t.subject_type = 'task'
               WHERE (t.state = 'met') <> (k.status = 'done') OR t.met_at IS DISTINCT FROM k.completed_at
                  OR t.due_at <> k.due_at""",
        )
        == 0
    )
    # Breached exactly when the deadline passed before the timer stopped (or before "now").
    inconsistent = await rows(
        engine,
        """SELECT id FROM sla_timers WHERE state <> 'cancelled'
           AND (breached_at IS NOT NULL) <> (due_at <= coalesce(met_at, :now))""",
        now=DEFAULT_NOW,
    )
    assert inconsistent == []
    # Every outcome the SLA compliance report distinguishes is there.
    outcomes = {
        r[0]
        for r in await rows(
            engine,
            """SELECT CASE WHEN state = 'met' AND breached_at IS NULL THEN 'met on time'
                           WHEN state = 'met' THEN 'met late'
                           WHEN state = 'running' AND breached_at IS NOT NULL THEN 'breached'
                           ELSE state END FROM sla_timers""",
        )
    }
    assert {"met on time", "met late", "breached", "running"} <= outcomes


async def test_tasks_mix_on_time_late_overdue_and_cancelled(settings: Settings, engine: AsyncEngine) -> None:
    await seed(settings.require_database_url(), SMALL, seed=3, analyze=False)

    mix = dict(
        await rows(
            engine,
            """SELECT CASE WHEN status = 'cancelled' THEN 'cancelled'
                           WHEN status = 'done' AND completed_at <= due_at THEN 'done on time'
                           WHEN status = 'done' THEN 'done late'
                           WHEN due_at < :now THEN 'open overdue' ELSE 'open' END AS k, count(*)
               FROM tasks GROUP BY k""",
            now=DEFAULT_NOW,
        )
    )
    assert set(mix) == {"cancelled", "done on time", "done late", "open overdue", "open"}
    assert await scalar(engine, "SELECT count(*) FROM tasks WHERE (status = 'done') <> (completed_at IS NOT NULL)") == 0
    assert await scalar(engine, "SELECT count(*) FROM tasks WHERE completed_at > :now", now=DEFAULT_NOW) == 0
    # Review answers, feedback first responses and collaboration rounds are there for the analytics.
    assert await scalar(engine, "SELECT count(*) FROM review_responses WHERE answered_at IS NOT NULL") > 0
    assert await scalar(engine, "SELECT count(*) FROM feedback WHERE first_response_at IS NOT NULL") > 0
    assert await scalar(engine, "SELECT count(*) FROM collaboration_occurrences") > 0


async def test_approvals_agree_with_their_steps_approvers_and_timers(settings: Settings, engine: AsyncEngine) -> None:
    await seed(settings.require_database_url(), SMALL, seed=3, analyze=False)

    # A campaign approval per campaign asked by "now", a stage sign-off per campaign that coordinated
    # resources, a dual-signed budget change for some: all three kinds are there.
    kinds = {r[0] for r in await rows(engine, "SELECT DISTINCT kind FROM approvals")}
    assert kinds == {"campaign", "stage", "budget_change"}
    # One step each; its status, and every approver's, follow the approval's.
    mismatched = await rows(
        engine,
        """SELECT a.id FROM approvals a JOIN approval_steps s ON s.approval_id = a.id
           JOIN approval_assignments x ON x.step_id = s.id
           WHERE (a.status = 'pending') <> (s.status = 'active' AND x.status = 'pending')
              OR (a.status = 'approved') <> (s.status = 'approved' AND x.status = 'approved')
              OR x.approval_id <> a.id OR NOT (x.approver_id = ANY (s.approver_ids))""",
    )
    assert mismatched == []
    # A dual sign has two approvers, a department head's approval one.
    assert (
        await scalar(
            engine,
            "SELECT count(*) FROM approval_steps s JOIN approvals a ON a.id = s.approval_id "
            "WHERE cardinality(s.approver_ids) <> CASE WHEN a.kind = 'budget_change' THEN 2 ELSE 1 END",
        )
        == 0
    )
    # Pending approvals exist (the approvers' board has something to show), decided ones are decided.
    assert await scalar(engine, "SELECT count(*) FROM approvals WHERE status = 'pending'") > 0
    assert (
        await scalar(engine, "SELECT count(*) FROM approvals WHERE (status = 'pending') = (decided_at IS NOT NULL)")
        == 0
    )
    # An approver's timer runs while the assignment is pending and was met at its decision.
    assert (
        await scalar(
            engine,
            """SELECT count(*) FROM sla_timers t JOIN approval_assignments x
                 ON t.subject_type = 'approval_assignment' AND x.id = t.subject_id
               WHERE (t.state = 'running') <> (x.status = 'pending') OR t.met_at IS DISTINCT FROM x.decided_at""",
        )
        == 0
    )


async def test_the_same_seed_gives_the_same_rows(settings: Settings, engine: AsyncEngine) -> None:
    digest = """SELECT md5(string_agg(concat_ws('|', id, assignee_id, campaign_id, status, due_at, completed_at), ','
                                     ORDER BY id)) FROM tasks"""
    await seed(settings.require_database_url(), SMALL, seed=3, analyze=False)
    first = await scalar(engine, digest)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    await seed(settings.require_database_url(), SMALL, seed=3, analyze=False)
    assert await scalar(engine, digest) == first


async def test_copier_fills_python_defaults_and_names_an_unknown_column(
    settings: Settings, engine: AsyncEngine
) -> None:
    conn = await asyncpg.connect(settings.require_database_url().replace("postgresql+asyncpg://", "postgresql://"))
    try:
        copier = Copier(conn)
        # status and priority are NOT NULL with only a Python-side default: the copier supplies it.
        assert await copier.copy(Task, [{"id": 7, "title": "写周报"}]) == 1
        with pytest.raises(KeyError, match="titel"):
            await copier.copy(Task, [{"id": 8, "titel": "typo"}])
    finally:
        await conn.close()
    assert (await rows(engine, "SELECT title, status, priority, tags FROM tasks")) == [("写周报", "todo", "normal", [])]
