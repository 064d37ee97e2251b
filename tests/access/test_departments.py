"""Departments see and change only their own work (issue 13): the defects the security review found,
each shown by what a user would notice."""

from __future__ import annotations

from typing import Any

import pytest

from shared.db import unit_of_work
from shared.models import Approval, ApprovalStatus, Department, Role
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import make_department, make_token, make_user

API = "/api/v1"


class Org:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.tokens: dict[str, str] = {}

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def org(sessions) -> Org:
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    o = Org()
    a = await make_department(sessions, name="市场部")
    b = await make_department(sessions, name="销售部")
    o.ids |= {"a": a.id, "b": b.id}
    for who, role, dept in (
        ("viewer_a", Role.viewer, a.id),
        ("member_a", Role.member, a.id),
        ("manager_a", Role.manager, a.id),
        ("member_b", Role.member, b.id),
        ("manager_b", Role.manager, b.id),
        ("director", Role.director, None),
    ):
        user = await make_user(sessions, role=role, department_id=dept)
        o.ids[who] = user.id
        o.tokens[who] = (await make_token(sessions, user=user))[1]
    async with unit_of_work(sessions) as s:  # A's manager heads A: routine campaign approvals go to them
        (await s.get_one(Department, a.id)).head_user_id = o.ids["manager_a"]
    return o


async def _post(client, org: Org, who: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = await client.post(f"{API}{path}", headers=org.as_(who), json=body or {})
    assert r.status_code == 201, r.text
    return r.json()


async def test_another_departments_member_neither_sees_nor_changes_its_work(client, org):
    campaign = await _post(
        client, org, "member_a", "/campaigns", {"name": "双十一", "template_key": "campaign_default"}
    )
    assert campaign["department_id"] == org.ids["a"]  # the creator's department by default
    task = await _post(client, org, "member_a", "/tasks", {"title": "海报", "campaign_id": campaign["id"]})
    feedback = await _post(
        client,
        org,
        "member_a",
        "/feedback",
        {"kind": "complaint", "channel": "phone", "content": "慢", "department_id": org.ids["a"]},
    )
    stage = f"{API}/campaigns/{campaign['id']}/stages/research"
    b = org.as_("member_b")
    # Before: any member could rename, re-own or delete them. Now they do not exist for B: 404.
    for method, path, body in (
        ("GET", f"{API}/campaigns/{campaign['id']}", None),
        ("PATCH", f"{API}/campaigns/{campaign['id']}", {"name": "mine"}),
        ("DELETE", f"{API}/campaigns/{campaign['id']}", None),
        ("PATCH", f"{API}/tasks/{task['id']}", {"title": "mine"}),
        ("DELETE", f"{API}/tasks/{task['id']}", None),
        ("PATCH", stage, {"owner_id": org.ids["member_b"]}),
        ("POST", f"{stage}/deliverables", {"title": "x"}),
        ("PATCH", f"{API}/feedback/{feedback['id']}", {"severity": "high"}),
        ("GET", f"{API}/trail/campaign/{campaign['id']}", None),
    ):
        r = await client.request(method, path, headers=b, json=body)
        assert r.status_code == 404, (method, path, r.text)
    # Boards list only what the caller may see: one query, nothing of A's for B.
    for board in ("campaigns", "tasks", "feedback"):
        assert (await client.get(f"{API}/{board}", headers=b)).json()["items"] == []
        mine = (await client.get(f"{API}/{board}", headers=org.as_("viewer_a"))).json()["items"]
        assert len(mine) == 1, board
    # A's viewer sees it and may not change it: 403. A's member changes it.
    r = await client.patch(f"{API}/tasks/{task['id']}", headers=org.as_("viewer_a"), json={"title": "x"})
    assert r.status_code == 403
    r = await client.patch(f"{API}/tasks/{task['id']}", headers=org.as_("member_a"), json={"title": "海报 v2"})
    assert (r.status_code, r.json()["title"]) == (200, "海报 v2")
    # Naming A's campaign in B's command reads as naming nothing.
    r = await client.post(f"{API}/tasks", headers=b, json={"title": "x", "campaign_id": campaign["id"]})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "body.campaign_id")


async def test_department_owner_and_major_flag_change_only_by_its_manager_or_a_director(client, org):
    campaign = await _post(client, org, "member_a", "/campaigns", {"name": "双十一"})
    path = f"{API}/campaigns/{campaign['id']}"
    for who, body, status in (
        ("member_a", {"department_id": org.ids["b"]}, 403),  # a member does not move it
        ("member_a", {"owner_id": org.ids["manager_a"]}, 403),
        ("member_a", {"is_major": True}, 403),
        ("manager_a", {"department_id": org.ids["b"]}, 403),  # A's manager does not manage B
        ("manager_a", {"owner_id": org.ids["manager_a"], "is_major": True}, 200),
        ("director", {"department_id": org.ids["b"]}, 200),
    ):
        r = await client.patch(path, headers=org.as_(who), json=body)
        assert r.status_code == status, (who, body, r.text)
    final = (await client.get(path, headers=org.as_("manager_b"))).json()
    assert (final["department_id"], final["owner_id"], final["is_major"]) == (org.ids["b"], org.ids["manager_a"], True)
    feedback = await _post(
        client,
        org,
        "member_a",
        "/feedback",
        {"kind": "feedback", "channel": "web", "content": "好", "department_id": org.ids["a"]},
    )
    r = await client.patch(
        f"{API}/feedback/{feedback['id']}", headers=org.as_("member_a"), json={"owner_id": org.ids["manager_a"]}
    )
    assert r.status_code == 403


async def test_patching_status_cannot_skip_the_cancel_cascade(client, sessions, org):
    campaign = await _post(client, org, "member_a", "/campaigns", {"name": "双十一", "budget": "100000"})
    approval = await _post(client, org, "member_a", "/approvals", {"kind": "campaign", "campaign_id": campaign["id"]})
    path = f"{API}/campaigns/{campaign['id']}"
    # Before: 200, the campaign cancelled and its approval still pending — escalating for nothing.
    r = await client.patch(path, headers=org.as_("member_a"), json={"status": "cancelled"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.status"
    assert "changeCampaignState" in r.json()["errors"][0]["message"]
    r = await client.post(f"{path}/cancel", headers=org.as_("member_a"))
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Approval, approval["id"])).status == ApprovalStatus.cancelled


async def test_a_draft_leaves_draft_only_once_its_campaign_approval_is_approved(client, org):
    campaign = await _post(client, org, "member_a", "/campaigns", {"name": "双十一", "budget": "100000"})
    path = f"{API}/campaigns/{campaign['id']}"
    r = await client.post(f"{path}/start", headers=org.as_("member_a"))
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "approval"
    approval = await _post(client, org, "member_a", "/approvals", {"kind": "campaign", "campaign_id": campaign["id"]})
    r = await client.post(
        f"{API}/approvals/{approval['id']}/decision", headers=org.as_("manager_a"), json={"decision": "approve"}
    )
    assert r.status_code == 200, r.text
    assert (await client.get(path, headers=org.as_("member_a"))).json()["status"] == "planned"
    # Out of draft, the budget changes only through its budget_change approval (双签).
    r = await client.patch(path, headers=org.as_("member_a"), json={"budget": "200000"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.budget"
    r = await client.post(f"{path}/start", headers=org.as_("member_a"))
    assert (r.status_code, r.json()["status"]) == (200, "active")


async def test_figures_are_of_ones_own_department_unless_a_director(client, org):
    for who, params, status in (
        ("member_a", {}, 200),
        ("member_a", {"department_id": org.ids["a"]}, 200),
        ("member_a", {"department_id": org.ids["b"]}, 403),
        ("manager_b", {"department_id": org.ids["a"]}, 403),
        ("director", {}, 200),
    ):
        for path in ("/analytics/task-timeliness", "/money", "/risks/matrix"):
            r = await client.get(
                f"{API}{path}",
                headers=org.as_(who),
                params={"period": "2026"} | params if path.startswith("/analytics") else params,
            )
            assert r.status_code == status, (who, path, params, r.text)


async def test_the_audit_log_shows_the_rows_of_items_one_may_read(client, org):
    a = await _post(client, org, "member_a", "/campaigns", {"name": "A 的活动"})
    b = await _post(client, org, "member_b", "/campaigns", {"name": "B 的活动"})
    seen = await client.get(f"{API}/audit", headers=org.as_("member_b"), params={"entity_type": "campaign"})
    assert [row["entity_id"] for row in seen.json()["items"]] == [b["id"]]
    everything = await client.get(f"{API}/audit", headers=org.as_("director"), params={"entity_type": "campaign"})
    assert [row["entity_id"] for row in everything.json()["items"]] == [a["id"], b["id"]]
