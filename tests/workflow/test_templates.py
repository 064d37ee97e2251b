"""Workflow templates: the seeded default, validation naming stage and field, versions."""

from __future__ import annotations

import copy

import pytest

from shared.db import unit_of_work
from shared.models import Role
from shared.workflow.defaults import DEFAULT_TEMPLATE
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import auth


@pytest.fixture
async def manager(sessions):
    return await auth(sessions, role=Role.manager)


async def test_the_default_template_has_the_six_stages_of_the_requirements(sessions, client, manager):
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
        await ensure_workflow_defaults(s)  # idempotent
    r = await client.get("/api/v1/workflow-templates/campaign_default", headers=manager)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 1 and body["is_current"]
    assert [s["key"] for s in body["stages"]] == [
        "research",
        "plan",
        "review",
        "resources",
        "execution",
        "retrospective",
    ]
    research, plan, review = body["stages"][:3]
    assert research["time_limit"] == {"kind": "working_days", "value": "3"}
    assert plan["time_limit"] == {"kind": "working_days", "value": "5"}
    assert review["requires"] == "review" and review["time_limit"] == {"kind": "working_days", "value": "2"}
    assert body["stages"][4]["time_limit"] is None  # execution runs per plan milestones
    assert "《需求调研报告》" in research["deliverables"][0]["name"]
    # "every department answered within 24 h" is computed from the review, not ticked by hand
    assert {"key": "feedback_24h", "derived": "review_on_time"}.items() <= review["checklist"][0].items()
    # assets are approved before execution begins, not before it may be left
    execution = body["stages"][4]
    assert execution["requires_approval_to_enter"] is True and execution["requires"] is None
    assert body["open_tasks_at_completion"] == "wait"
    assert len((await client.get("/api/v1/workflow-templates", headers=manager)).json()["items"]) == 1


def _template(**changes):
    t = copy.deepcopy(DEFAULT_TEMPLATE) | {"key": "spring"}
    for path, value in changes.items():
        i, field = path.split(".", 1)
        t["stages"][int(i)][field] = value
    return t


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"2.time_limit": {"kind": "working_days", "value": "soon"}}, "body.stages[2].time_limit.value"),
        ({"1.time_limit": {"kind": "fortnights", "value": "1"}}, "body.stages[1].time_limit.kind"),
        ({"1.key": "research"}, "body.stages[1].key"),
        ({"0.key": "Research Stage"}, "body.stages[0].key"),
        ({"3.requires": "blessing"}, "body.stages[3].requires"),
        (
            {"0.deliverables": [{"key": "r", "name": "a"}, {"key": "r", "name": "b"}]},
            "body.stages[0].deliverables[1].key",
        ),
        ({"5.checklist": [{"key": "x"}]}, "body.stages[5].checklist[0].text"),
        ({"4.colour": "red"}, "body.stages[4].colour"),
        ({"0.name": ""}, "body.stages[0].name"),
        ({"2.checklist": [{"key": "x", "text": "t", "derived": "vibes"}]}, "body.stages[2].checklist[0].derived"),
        ({"4.requires_approval_to_enter": "yes"}, "body.stages[4].requires_approval_to_enter"),
        ({"0.requires_approval_to_enter": True}, "body.stages[0].requires_approval_to_enter"),
        ({"1.requires_roi_estimate": "yes"}, "body.stages[1].requires_roi_estimate"),
        ({"5.min_rectifications": "three"}, "body.stages[5].min_rectifications"),
        ({"5.min_rectifications": -1}, "body.stages[5].min_rectifications"),
    ],
)
async def test_a_bad_stage_is_422_naming_the_stage_and_field(client, manager, changes, field):
    r = await client.post("/api/v1/workflow-templates", headers=manager, json=_template(**changes))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert (await client.get("/api/v1/workflow-templates", headers=manager)).json()["items"] == []  # nothing written


async def test_editing_publishes_a_new_version_and_keeps_the_old(client, manager):
    r = await client.post("/api/v1/workflow-templates", headers=manager, json=_template())
    assert r.status_code == 201
    assert (await client.post("/api/v1/workflow-templates", headers=manager, json=_template())).status_code == 409
    stages = _template()["stages"]
    stages[0]["time_limit"] = {"kind": "working_hours", "value": "PT16H"}
    r = await client.put("/api/v1/workflow-templates/spring", headers=manager, json={"stages": stages})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["name"] == DEFAULT_TEMPLATE["name"]
    v1 = (await client.get("/api/v1/workflow-templates/spring?version=1", headers=manager)).json()
    assert v1["stages"][0]["time_limit"] == {"kind": "working_days", "value": "3"} and not v1["is_current"]
    assert len((await client.get("/api/v1/workflow-templates?all_versions=true", headers=manager)).json()["items"]) == 2


async def test_members_cannot_write_templates(sessions, client):
    member = await auth(sessions, role=Role.member)
    assert (await client.post("/api/v1/workflow-templates", headers=member, json=_template())).status_code == 403


async def test_a_template_chooses_what_its_last_gate_does_with_open_tasks(client, manager):
    r = await client.post(
        "/api/v1/workflow-templates", headers=manager, json=_template() | {"open_tasks_at_completion": "sometimes"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.open_tasks_at_completion"
    r = await client.post("/api/v1/workflow-templates", headers=manager, json=_template())
    assert r.json()["open_tasks_at_completion"] == "wait"
    r = await client.put(
        "/api/v1/workflow-templates/spring", headers=manager, json={"open_tasks_at_completion": "cancel"}
    )
    assert r.status_code == 200 and r.json()["open_tasks_at_completion"] == "cancel"
    r = await client.put("/api/v1/workflow-templates/spring", headers=manager, json={"name": "春季"})
    assert r.json()["open_tasks_at_completion"] == "cancel"  # kept when left out
