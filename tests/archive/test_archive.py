"""DELETE erases nothing with history: a campaign that was worked on is cancelled and archived —
hidden from the boards, still read by id, in its trail and the audit log, and nothing of it
escalates afterwards; only a bare draft is really deleted (`shared.archive`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AuditLog, Escalation, Notification, SlaTimer, TimerState
from tests.approvals.conftest import add_rule, make_campaign, request, sweep
from tests.factories import make_channel


async def _audit_actions(sessions, entity_type: str, entity_id: int) -> list[str]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(
                select(AuditLog.action)
                .where(AuditLog.entity_type == entity_type, AuditLog.entity_id == entity_id)
                .order_by(AuditLog.id)
            )
        )


async def _board(client, headers, path: str, **params) -> list[int]:
    r = await client.get(path, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def test_deleting_a_campaign_with_history_archives_it_and_nothing_escalates_afterwards(
    client, sessions, org, clock
):
    planner = org.headers(org.planner)
    r = await client.post(
        "/api/v1/campaigns",
        headers=planner,
        json={"name": "618 大促", "department_id": org.marketing.id, "template_key": "campaign_default"},
    )
    assert r.status_code == 201, r.text
    campaign = r.json()
    now = clock.now()
    r = await client.post(
        "/api/v1/tasks",
        headers=planner,
        json={
            "title": "竞品调研",
            "campaign_id": campaign["id"],
            "assignee_id": org.planner.id,
            "due_at": (now + timedelta(hours=2)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    task = r.json()
    r = await client.post(
        "/api/v1/reviews",
        headers=planner,
        json={
            "title": "调研结论评审",
            "campaign_id": campaign["id"],
            "stage_key": "research",
            "reviewer_department_ids": [org.finance.id],
        },
    )
    assert r.status_code == 201, r.text
    review = r.json()
    approval = await request(client, org, kind="campaign", campaign_id=campaign["id"])
    async with unit_of_work(sessions) as s:
        running = await s.scalar(select(func.count()).select_from(SlaTimer).where(SlaTimer.state == TimerState.running))
    assert running >= 4  # the stage, the task, the review and its reviewer, the approver

    r = await client.delete(f"/api/v1/campaigns/{campaign['id']}", headers=planner)
    assert r.status_code == 204, r.text

    # Still readable by id, cancelled, and saying it is archived.
    got = (await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=planner)).json()
    assert got["status"] == "cancelled" and got["archived_at"] is not None and got["archived_by"] == org.planner.id
    got_task = (await client.get(f"/api/v1/tasks/{task['id']}", headers=planner)).json()
    assert (got_task["status"], got_task["archived_at"] is not None) == ("cancelled", True)
    assert (await client.get(f"/api/v1/reviews/{review['id']}", headers=planner)).json()["status"] == "cancelled"
    assert (await client.get(f"/api/v1/approvals/{approval['id']}", headers=planner)).json()["status"] == "cancelled"
    trail = await client.get(f"/api/v1/trail/campaign/{campaign['id']}", headers=planner)
    assert trail.status_code == 200

    # Gone from the boards; `archived=true` lists them.
    assert campaign["id"] not in await _board(client, planner, "/api/v1/campaigns")
    assert await _board(client, planner, "/api/v1/campaigns", archived="true") == [campaign["id"]]
    assert await _board(client, planner, "/api/v1/tasks", campaign_id=campaign["id"]) == []
    assert await _board(client, planner, "/api/v1/tasks", archived="true") == [task["id"]]

    # No timer runs on, so a week later nothing has escalated.
    async with unit_of_work(sessions) as s:
        running = await s.scalar(select(func.count()).select_from(SlaTimer).where(SlaTimer.state == TimerState.running))
    assert running == 0
    await sweep(sessions, now + timedelta(days=7))
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Escalation)) == 0

    actions = await _audit_actions(sessions, "campaign", campaign["id"])
    assert actions[0] == "create" and actions[-2:] == ["update", "archive"]  # cancelled, then archived
    assert "delete" not in actions
    async with unit_of_work(sessions) as s:
        row = await s.scalar(select(AuditLog).where(AuditLog.entity_type == "campaign", AuditLog.action == "archive"))
        assert row is not None and row.after["history"] == ["left draft", "tasks", "reviews", "approvals"]

    # Read-only until a manager restores it; then it (and its task) is back on the boards.
    r = await client.patch(f"/api/v1/campaigns/{campaign['id']}", headers=planner, json={"name": "改名"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "archived_at"
    r = await client.patch(f"/api/v1/tasks/{task['id']}", headers=planner, json={"title": "改名"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "archived_at"
    r = await client.post("/api/v1/tasks", headers=planner, json={"title": "补一个", "campaign_id": campaign["id"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.campaign_id"
    r = await client.post(f"/api/v1/campaigns/{campaign['id']}/restore", headers=planner)
    assert r.status_code == 403
    r = await client.post(f"/api/v1/campaigns/{campaign['id']}/restore", headers=org.headers(org.marketing_director))
    assert r.status_code == 200, r.text
    assert (r.json()["archived_at"], r.json()["status"]) == (None, "cancelled")
    assert campaign["id"] in await _board(client, planner, "/api/v1/campaigns")
    assert await _board(client, planner, "/api/v1/tasks", campaign_id=campaign["id"]) == [task["id"]]
    assert (await _audit_actions(sessions, "campaign", campaign["id"]))[-1] == "restore"


async def test_deleting_a_bare_draft_campaign_really_deletes_it(client, sessions, org):
    campaign = await make_campaign(sessions, org)
    planner = org.headers(org.planner)
    assert (await client.delete(f"/api/v1/campaigns/{campaign.id}", headers=planner)).status_code == 204
    assert (await client.get(f"/api/v1/campaigns/{campaign.id}", headers=planner)).status_code == 404
    assert await _board(client, planner, "/api/v1/campaigns", archived="true") == []
    assert await _audit_actions(sessions, "campaign", campaign.id) == ["create", "delete"]


async def test_a_task_never_worked_on_is_deleted_and_one_with_a_comment_is_archived(client, sessions, org):
    planner = org.headers(org.planner)
    fresh = (await client.post("/api/v1/tasks", headers=planner, json={"title": "草稿"})).json()
    talked = (await client.post("/api/v1/tasks", headers=planner, json={"title": "做海报"})).json()
    r = await client.post(f"/api/v1/trail/task/{talked['id']}/comments", headers=planner, json={"body": "初稿已发"})
    assert r.status_code == 201, r.text

    assert (await client.delete(f"/api/v1/tasks/{fresh['id']}", headers=planner)).status_code == 204
    assert (await client.delete(f"/api/v1/tasks/{talked['id']}", headers=planner)).status_code == 204
    assert (await client.get(f"/api/v1/tasks/{fresh['id']}", headers=planner)).status_code == 404
    kept = (await client.get(f"/api/v1/tasks/{talked['id']}", headers=planner)).json()
    assert (kept["status"], kept["archived_at"] is not None) == ("cancelled", True)
    assert await _board(client, planner, "/api/v1/tasks") == []
    assert await _audit_actions(sessions, "task", talked["id"]) == ["create", "comment", "update", "archive"]
    # Deleting it again changes nothing.
    assert (await client.delete(f"/api/v1/tasks/{talked['id']}", headers=planner)).status_code == 204
    assert await _audit_actions(sessions, "task", talked["id"]) == ["create", "comment", "update", "archive"]


async def test_configuration_with_history_is_archived_or_kept(client, sessions, org):
    admin = org.headers(org.admin)
    used = await make_channel(sessions, name="用过的群")
    unused = await make_channel(sessions, name="没用过的群")
    async with unit_of_work(sessions) as s:
        s.add(
            Notification(
                dedupe_key="x:1",
                event_type="sla.breach",
                subject_type="task",
                subject_id=1,
                channel_id=used.id,
                payload={},
                next_attempt_at=org.admin.created_at,
            )
        )
    assert (await client.delete(f"/api/v1/channels/{unused.id}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/v1/channels/{unused.id}", headers=admin)).status_code == 404
    assert (await client.delete(f"/api/v1/channels/{used.id}", headers=admin)).status_code == 204
    kept = (await client.get(f"/api/v1/channels/{used.id}", headers=admin)).json()
    assert (kept["enabled"], kept["archived_at"] is not None) == (False, True)
    async with unit_of_work(sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Notification)) == 1
    assert used.id not in await _board(client, admin, "/api/v1/channels")
    assert await _board(client, admin, "/api/v1/channels", archived="true") == [used.id]

    # A rule that chose an approval is archived and disabled; the approval still names it.
    campaign = await make_campaign(sessions, org)
    rule = await add_rule(
        client,
        org,
        name="领导小组",
        kind="campaign",
        priority=1,
        steps=[{"mode": "one", "approvers": [f"user:{org.cmo.id}"]}],
    )
    approval = await request(client, org, kind="campaign", campaign_id=campaign.id)
    ceo = org.headers(org.ceo)
    assert (await client.delete(f"/api/v1/approval-rules/{rule['id']}", headers=ceo)).status_code == 204
    kept_rule = (await client.get(f"/api/v1/approval-rules/{rule['id']}", headers=ceo)).json()
    assert (kept_rule["enabled"], kept_rule["archived_at"] is not None) == (False, True)
    assert (await client.get(f"/api/v1/approvals/{approval['id']}", headers=ceo)).json()["rule_id"] == rule["id"]
    r = await client.patch(f"/api/v1/approval-rules/{rule['id']}", headers=ceo, json={"enabled": True})
    assert r.status_code == 409  # archived: on record as it was

    # A department people belong to is kept (its goals would go with it): 409 naming what points at it.
    r = await client.delete(f"/api/v1/departments/{org.marketing.id}", headers=admin)
    assert r.status_code == 409, r.text
    assert {"field": "department", "message": "has users", "type": "history"} in r.json()["errors"]


async def test_a_calendar_a_report_schedule_runs_on_is_kept_and_an_unused_one_deleted(client, sessions, org):
    ceo = org.headers(org.ceo)
    used = (await client.post("/api/v1/calendars", headers=ceo, json={"name": "华南日历"})).json()
    unused = (await client.post("/api/v1/calendars", headers=ceo, json={"name": "备用日历"})).json()
    channel = await make_channel(sessions, name="周报群")
    r = await client.post(
        "/api/v1/report-schedules",
        headers=ceo,
        json={
            "name": "周报",
            "kind": "weekly",
            "scope": "company",
            "channel_ids": [channel.id],
            "calendar_id": used["id"],
        },
    )
    assert r.status_code == 201, r.text
    r = await client.delete(f"/api/v1/calendars/{used['id']}", headers=ceo)
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == [{"field": "calendar", "message": "has report_schedules", "type": "history"}]
    assert (await client.get(f"/api/v1/calendars/{used['id']}", headers=ceo)).status_code == 200
    assert (await client.delete(f"/api/v1/calendars/{unused['id']}", headers=ceo)).status_code == 204
    assert (await client.get(f"/api/v1/calendars/{unused['id']}", headers=ceo)).status_code == 404
