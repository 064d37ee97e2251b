"""The whole loop the users asked for, on the default template, with an injected clock across the
2025 National Day holiday (Oct 1–8) and its make-up workdays (Sep 28, Oct 11):

research → plan → cross-department review (design answers late: its head is alerted in its own
Feishu group, the requester is not, and the derived "every department answered within 24 h" item
says so until the director waives it) → resource coordination (legal's approval is needed before
execution may be entered) → execution → retrospective. Every gate refuses while a deliverable, a
checklist item, the review or the approval is missing, and the stage cycle times come out right."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import ChannelKind, Department, Role
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.sla.engine import sweep_due_timers
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import make_channel, make_department, make_token, make_user
from tests.notify.helpers import make_dispatcher

T = datetime.fromisoformat
PUBLIC = "http://closeloop.test"
DAY = 86400


class Team:
    def __init__(self, client: Any, sessions: Any, clock: Any) -> None:
        self.client, self.sessions, self.clock = client, sessions, clock
        self.headers: dict[str, dict[str, str]] = {}

    async def person(self, key: str, name: str, department: Department, role: Role = Role.member, **extra: Any) -> Any:
        user = await make_user(self.sessions, name=name, department_id=department.id, role=role, **extra)
        _, token = await make_token(self.sessions, user=user)
        self.headers[key] = {"Authorization": f"Bearer {token}"}
        return user

    async def at(self, iso: str) -> None:
        """Move the clock and let the worker's sweep catch up, as it does every second."""
        self.clock.set(T(iso))
        while True:
            async with unit_of_work(self.sessions) as s:
                if (await sweep_due_timers(s, now=self.clock.now(), batch_size=100)).claimed < 100:
                    return

    async def call(self, who: str, method: str, path: str, expect: int = 200, **body: Any) -> Any:
        r = await self.client.request(method, f"/api/v1{path}", headers=self.headers[who], json=body or None)
        assert r.status_code == expect, r.text
        return r.json()

    async def stages(self, campaign_id: int) -> dict[str, dict[str, Any]]:
        page = await self.call("planner", "GET", f"/campaigns/{campaign_id}/stages")
        return {s["key"]: s for s in page["items"]}

    async def blocked_by(self, campaign_id: int, key: str) -> set[str]:
        problem = await self.call("planner", "POST", f"/campaigns/{campaign_id}/stages/{key}/advance", expect=409)
        return {e["field"] for e in problem["errors"]}

    async def finish(self, campaign_id: int, key: str, who: str, deliverable: str, ticks: list[str]) -> None:
        base = f"/campaigns/{campaign_id}/stages/{key}"
        await self.call(
            who, "POST", f"{base}/deliverables", expect=201, title=f"《{deliverable}》", deliverable_key=deliverable
        )
        for item in ticks:
            await self.call(who, "PUT", f"{base}/checklist/{item}", done=True, note="见附件")


@pytest.fixture
async def team(client, sessions, clock, botsim) -> dict[str, Any]:
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    t = Team(client, sessions, clock)
    market = await make_department(sessions, name="市场部")
    depts = {n: await make_department(sessions, name=n) for n in ("销售部", "产品部", "设计部", "法务部")}
    people = {
        "director": await t.person("director", "王总监", market, Role.manager),
        "researcher": await t.person("researcher", "陈调研", market),
        "planner": await t.person("planner", "张策划", market),
        "executor": await t.person("executor", "赵执行", market),
    }
    for key, dept in (("sales", "销售部"), ("product", "产品部"), ("design", "设计部"), ("legal", "法务部")):
        people[key] = await t.person(key, f"{dept}负责人", depts[dept], feishu_open_id=f"ou_{key:0<20}")
    async with unit_of_work(sessions) as s:
        for key, dept in (("sales", "销售部"), ("product", "产品部"), ("design", "设计部"), ("legal", "法务部")):
            (await s.get_one(Department, depts[dept].id)).head_user_id = people[key].id
        (await s.get_one(Department, market.id)).head_user_id = people["director"].id
    botsim.add_bots({"design": {"kind": "feishu", "secret": "design-secret"}, "market": {"kind": "dingtalk"}})
    channels = {
        "design": await make_channel(
            sessions,
            kind=ChannelKind.feishu,
            url=botsim.url("feishu", "design"),
            secret="design-secret",
            department_ids=[depts["设计部"].id],
        ),
        "market": await make_channel(
            sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "market"), department_ids=[market.id]
        ),
    }
    return {"t": t, "market": market, "depts": depts, "people": people, "channels": channels}


async def test_a_campaign_runs_all_six_stages_across_national_day(team, settings, sessions, arq_redis, botsim):
    t: Team = team["t"]
    people, depts = team["people"], team["depts"]

    # Monday 22 Sep: the campaign starts on the default template; research is due in 3 working days.
    await t.at("2025-09-22T10:00:00+08:00")
    campaign = await t.call(
        "planner",
        "POST",
        "/campaigns",
        expect=201,
        name="双十一大促",
        department_id=team["market"].id,
        budget="300000",
        template_key="campaign_default",
        stage_owners={
            "research": people["researcher"].id,
            "resources": people["executor"].id,
            "execution": people["executor"].id,
        },
    )
    cid = campaign["id"]
    research = (await t.stages(cid))["research"]
    assert T(research["sla"][0]["due_at"]) == T("2025-09-25T10:00:00+08:00")

    # Research: the gate names everything missing, then only what is still missing.
    await t.at("2025-09-23T10:00:00+08:00")
    assert await t.blocked_by(cid, "research") == {
        "deliverables.research_report",
        "checklist.competitors",
        "checklist.pain_point",
    }
    await t.finish(cid, "research", "researcher", "research_report", ["competitors"])
    assert await t.blocked_by(cid, "research") == {"checklist.pain_point"}
    await t.finish(cid, "research", "researcher", "research_report", ["pain_point"])
    await t.at("2025-09-24T10:00:00+08:00")
    await t.call("researcher", "POST", f"/campaigns/{cid}/stages/research/advance")

    # Plan: 5 working days, counting Sunday 28 Sep (a make-up workday) → Tuesday 30 Sep.
    plan = (await t.stages(cid))["plan"]
    assert T(plan["sla"][0]["due_at"]) == T("2025-09-30T10:00:00+08:00")
    await t.finish(cid, "plan", "planner", "campaign_plan", ["smart_goals", "budget_error"])
    await t.at("2025-09-29T15:00:00+08:00")
    await t.call("planner", "POST", f"/campaigns/{cid}/stages/plan/advance")

    # Cross-department review: sales, product and design each have 24 hours.
    review = await t.call(
        "planner",
        "POST",
        "/reviews",
        expect=201,
        title="双十一方案评审",
        campaign_id=cid,
        stage_key="review",
        reviewer_department_ids=[depts["销售部"].id, depts["产品部"].id, depts["设计部"].id],
    )
    responses = {r["department_id"]: r["id"] for r in review["rounds"][0]["responses"]}
    await t.at("2025-09-30T09:00:00+08:00")
    await t.call(
        "sales", "POST", f"/reviews/{review['id']}/responses/{responses[depts['销售部'].id]}", decision="approve"
    )
    await t.at("2025-09-30T11:00:00+08:00")
    await t.call(
        "product", "POST", f"/reviews/{review['id']}/responses/{responses[depts['产品部'].id]}", decision="approve"
    )
    await t.finish(cid, "review", "planner", "review_sheet", ["consensus"])
    await t.at("2025-09-30T12:00:00+08:00")
    # Design has not answered yet; "every department answered within 24 h" is derived, not ticked.
    assert await t.blocked_by(cid, "review") == {"review", "checklist.feedback_24h"}
    await t.call("planner", "PUT", f"/campaigns/{cid}/stages/review/checklist/feedback_24h", expect=409, done=True)

    # 15:00:01 — design is late: its own head is alerted in design's Feishu group, not the requester.
    await t.at("2025-09-30T15:00:01+08:00")
    async with Sender() as http:
        # Delivery signs with real time: vendors (and botsim) refuse signatures minutes off.
        dispatcher = make_dispatcher(settings, sessions, arq_redis, http, SystemClock())
        for channel in team["channels"].values():
            await drain(dispatcher, channel.id)
    # The review request when it arrived, the 80 % warning (due 10:12, seen by the 11:00 sweep), then
    # the breach at 15:00.
    arrived, warning, alert = botsim.messages("design")
    assert arrived["body"]["card"]["header"]["title"]["content"] == "待你评审：双十一方案评审 · 设计部"
    assert warning["body"]["card"]["header"]["template"] == "orange"
    card = str(alert["body"]["card"])
    assert "已超时" in card and "评审反馈" in card and "双十一方案评审 · 设计部" in card and "设计部负责人" in card
    assert alert["body"]["card"]["header"]["template"] == "red"
    assert botsim.stats()["design"].get("rejected", {}) == {}
    assert not any("设计部" in m["body"]["markdown"]["text"] for m in botsim.messages("market"))
    detail = await t.call("planner", "GET", f"/reviews/{review['id']}")
    design = next(r for r in detail["rounds"][0]["responses"] if r["department_id"] == depts["设计部"].id)
    assert design["sla"][0]["breached"] is True

    await t.at("2025-09-30T16:00:00+08:00")
    await t.call(
        "design", "POST", f"/reviews/{review['id']}/responses/{responses[depts['设计部'].id]}", decision="approve"
    )
    assert (await t.call("planner", "GET", f"/reviews/{review['id']}"))["status"] == "approved"
    await t.at("2025-09-30T17:00:00+08:00")
    # The review knows design was late: the gate says so, until the director waives it with a reason.
    problem = await t.call("planner", "POST", f"/campaigns/{cid}/stages/review/advance", expect=409)
    (late,) = problem["errors"]
    assert late["field"] == "checklist.feedback_24h" and "设计部 (round 1)" in late["message"]
    await t.call(
        "director",
        "PUT",
        f"/campaigns/{cid}/stages/review/checklist/feedback_24h",
        waive=True,
        note="设计部国庆前排期冲突，已沟通",
    )
    await t.call("planner", "POST", f"/campaigns/{cid}/stages/review/advance")

    # Resource coordination: 1 working day from Tuesday 17:00 skips the whole National Day week.
    resources = (await t.stages(cid))["resources"]
    assert T(resources["sla"][0]["due_at"]) == T("2025-10-09T17:00:00+08:00")
    await t.finish(cid, "resources", "executor", "resource_allocation", ["design_slot"])

    # Execution may only be entered once its assets are approved (legal review before launch).
    assert await t.blocked_by(cid, "resources") == {"entry_approval.execution"}
    await t.call(
        "director",
        "POST",
        "/approval-rules",
        expect=201,
        name="物料上线前法务审核 Legal review before launch",
        kind="stage",
        priority=10,
        conditions={"stage_keys": ["execution"]},
        steps=[{"name": "法务审核", "mode": "one", "approvers": [f"department:{depts['法务部'].id}"]}],
    )
    await t.at("2025-10-09T09:30:00+08:00")
    approval = await t.call(
        "executor", "POST", "/approvals", expect=201, kind="stage", campaign_id=cid, stage_key="execution"
    )
    assert await t.blocked_by(cid, "resources") == {"entry_approval.execution"}  # still pending
    await t.at("2025-10-09T10:00:00+08:00")
    await t.call("legal", "POST", f"/approvals/{approval['id']}/decision", decision="approve")
    await t.at("2025-10-09T11:00:00+08:00")
    await t.call("executor", "POST", f"/campaigns/{cid}/stages/resources/advance")

    # Execution runs "per plan" (no timer); its assets were approved before it began.
    execution = (await t.stages(cid))["execution"]
    assert execution["sla"] == [] and execution["status"] == "active"
    await t.finish(cid, "execution", "executor", "launch_board", ["legal_review", "channel_test"])
    await t.at("2025-10-17T18:00:00+08:00")
    await t.call("executor", "POST", f"/campaigns/{cid}/stages/execution/advance")

    # Retrospective: 3 working days from Friday 18:00 (rolls to Monday 09:00) → Thursday 09:00.
    retro = (await t.stages(cid))["retrospective"]
    assert T(retro["sla"][0]["due_at"]) == T("2025-10-23T09:00:00+08:00")
    await t.finish(cid, "retrospective", "planner", "retrospective_report", [])
    # ≥ 3 actionable improvements are real rectification items (source retrospective), not a tick box.
    for n, problem in enumerate(("素材审核过慢", "渠道测试样本不足", "复盘数据口径不一")):
        await t.call(
            "planner",
            "POST",
            "/rectifications",
            expect=201,
            title=f"复盘改进 {n + 1}: {problem}",
            source="retrospective",
            campaign_id=cid,
            owner_id=people["executor"].id,
            problem=problem,
        )
        if n == 1:
            problem = await t.call("planner", "POST", f"/campaigns/{cid}/stages/retrospective/advance", expect=409)
            assert [e["field"] for e in problem["errors"]] == ["rectifications"]
            assert "1 more" in problem["errors"][0]["message"]
    await t.at("2025-10-22T10:00:00+08:00")
    done = await t.call("planner", "POST", f"/campaigns/{cid}/stages/retrospective/advance")
    assert done["entered"] is None

    final = await t.call("planner", "GET", f"/campaigns/{cid}")
    assert final["status"] == "completed"
    cycle = {k: s["cycle_s"] for k, s in (await t.stages(cid)).items()}
    assert cycle == {
        "research": 2 * DAY,  # Mon 22 10:00 → Wed 24 10:00
        "plan": 5 * DAY + 5 * 3600,  # Wed 24 10:00 → Mon 29 15:00
        "review": DAY + 2 * 3600,  # Mon 29 15:00 → Tue 30 17:00
        "resources": 8 * DAY + 18 * 3600,  # Tue 30 17:00 → Thu 9 Oct 11:00
        "execution": 8 * DAY + 7 * 3600,  # Thu 9 Oct 11:00 → Fri 17 Oct 18:00
        "retrospective": 4 * DAY + 16 * 3600,  # Fri 17 Oct 18:00 → Wed 22 Oct 10:00
    }
    assert all(
        s["status"] == "done" and s["sla"][0]["state"] == "met"
        for k, s in (await t.stages(cid)).items()
        if k != "execution"
    )
