"""Work-arrival notifications: each kind reaches the right group once, @mentioning the right
person natively on every vendor, validates against the published webhook schema, and is written
once however often the producing path runs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from shared.db import unit_of_work
from shared.models import (
    Approval,
    ApprovalAssignment,
    Campaign,
    CampaignStage,
    CollaborationOccurrence,
    CollaborationRequest,
    Feedback,
    ReviewRequest,
    ReviewResponse,
    Role,
)
from shared.notify import arrival, events
from shared.notify.work import WorkEvent
from tests.approvals.conftest import Org, decide, make_campaign, request
from tests.arrival.conftest import Bots, deliver, rows
from tests.factories import auth


async def call(client, org: Org, user, method: str, path: str, expect: int = 201, **body: Any) -> dict[str, Any]:
    r = await client.request(method, f"/api/v1{path}", headers=org.headers(user), json=body or None)
    assert r.status_code == expect, r.text
    return r.json() if r.content else {}


async def run_the_month(client, sessions, org: Org) -> dict[str, Any]:
    """A review for finance, a campaign approval, a collaboration request to finance, a complaint
    and a praise, and a two-stage campaign run to its end."""
    review = await call(
        client, org, org.planner, "POST", "/reviews", title="双十一方案评审", reviewer_department_ids=[org.finance.id]
    )
    (response,) = review["rounds"][0]["responses"]
    await call(
        client,
        org,
        org.finance_director,
        "POST",
        f"/reviews/{review['id']}/responses/{response['id']}",
        200,
        decision="approve",
    )

    campaign = await make_campaign(sessions, org)
    approval = await request(client, org, kind="campaign", campaign_id=campaign.id, reason="Q4 主推")
    await decide(client, org, approval["id"], org.marketing_director)

    await call(
        client,
        org,
        org.planner,
        "POST",
        "/collaboration-requests",
        matter="双十一预算口径确认",
        content="请财务 24 小时内确认",
        collaborating_department_ids=[org.finance.id],
        owner_id=org.planner.id,
        deadline={"kind": "calendar", "value": "PT24H"},
    )
    complaint = await call(
        client,
        org,
        org.planner,
        "POST",
        "/feedback",
        kind="complaint",
        channel="wechat",
        content="包装破损",
        department_id=org.marketing.id,
        owner_id=org.planner.id,
    )
    await call(
        client,
        org,
        org.planner,
        "POST",
        "/feedback",
        kind="feedback",
        channel="wechat",
        content="很好",
        department_id=org.marketing.id,
    )

    r = await client.post(
        "/api/v1/workflow-templates",
        headers=await auth(sessions, role=Role.manager),
        json={
            "key": "mini",
            "name": "mini",
            "stages": [{"key": "prepare", "name": "准备"}, {"key": "launch", "name": "上线"}],
        },
    )
    assert r.status_code == 201, r.text
    flow = await call(
        client,
        org,
        org.planner,
        "POST",
        "/campaigns",
        name="618 快闪",
        owner_id=org.planner.id,
        department_id=org.marketing.id,
        template_key="mini",
        stage_owners={"launch": org.manager.id},
    )
    await call(client, org, org.planner, "POST", f"/campaigns/{flow['id']}/stages/prepare/advance", 200)
    await call(client, org, org.planner, "POST", f"/campaigns/{flow['id']}/stages/launch/advance", 200)
    return {"review": review, "approval": approval, "complaint": complaint, "flow": flow}


# event → (the bots it reaches, the person @mentioned)
EXPECTED = {
    WorkEvent.review_requested: ({"finance", "finance_wecom", "hook"}, "钱总监"),
    WorkEvent.approval_waiting: ({"market", "hook"}, "王总监"),
    WorkEvent.collaboration_received: ({"finance", "finance_wecom", "hook"}, "钱总监"),
    WorkEvent.complaint_received: ({"market", "hook"}, "张策划"),
    WorkEvent.stage_advanced: ({"market", "hook"}, "李经理"),
    WorkEvent.campaign_completed: ({"market", "hook"}, "张策划"),
}


async def test_each_kind_reaches_its_group_once_with_the_person_mentioned(
    client, sessions, settings, arq_redis, botsim, org, bots: Bots
):
    await run_the_month(client, sessions, org)
    names = {
        bots.market.id: "market",
        bots.finance.id: "finance",
        bots.finance_wecom.id: "finance_wecom",
        bots.hook.id: "hook",
    }
    for event, (where, person) in EXPECTED.items():
        written = [r for r in await rows(sessions, event) if r.channel_id in names]
        assert sorted(names[r.channel_id] for r in written) == sorted(where), event
        assert all([m["name"] for m in r.payload["mentions"]] == [person] for r in written), event
    # Two decisions, both told to the requester 张策划 in 市场部: the approval and the review.
    decisions = [r for r in await rows(sessions, WorkEvent.decision_made) if r.channel_id in names]
    assert Counter((names[r.channel_id], r.payload["outcome"]) for r in decisions) == {
        ("market", "approved"): 2,
        ("hook", "approved"): 2,
    }
    assert {r.payload["by"]["name"] for r in decisions} == {"王总监", "钱总监"}

    await deliver(settings, sessions, arq_redis, bots)
    # Feishu: one card per event for 市场部, the person @mentioned natively.
    cards = [m["body"]["card"] for m in botsim.messages("market")]
    titles = sorted(c["header"]["title"]["content"].split("：")[0] for c in cards)
    assert titles == sorted(["待你审批", "已有结果", "已有结果", "新客诉", "阶段推进", "活动完成"])
    approval_card = next(c for c in cards if c["header"]["title"]["content"].startswith("待你审批"))
    assert "<at id=ou_wang></at>" in approval_card["elements"][0]["text"]["content"]
    complaint_card = next(c for c in cards if c["header"]["title"]["content"].startswith("新客诉"))
    assert complaint_card["header"]["template"] == "orange" and "<at id=ou_zhang></at>" in str(complaint_card)
    # DingTalk: the review and the collaboration request for 财务部, 钱总监 @-mentioned by user id.
    dingtalk = [m["body"] for m in botsim.messages("finance")]
    assert sorted(b["markdown"]["title"].split("：")[0] for b in dingtalk) == ["待你评审", "新协作请求"]
    assert all(b["at"]["atUserIds"] == ["qian"] and "@qian" in b["markdown"]["text"] for b in dingtalk)
    # WeCom: the same two, with <@userid>.
    wecom = [m["body"]["markdown"]["content"] for m in botsim.messages("finwc")]
    assert len(wecom) == 2 and all("<@qian.zj>" in c for c in wecom)
    # The generic webhook: every event once, each valid against the published schema (unknown fields forbidden).
    bodies = [m["body"] for m in botsim.messages("hook")]
    validated = [events.validate_event(b) for b in bodies]
    assert Counter(e.type for e in validated) == {**{e: 1 for e in EXPECTED}, WorkEvent.decision_made: 2}
    assert all(type(e) is events.EVENT_MODELS[e.type] for e in validated)
    review = next(b["data"] for b in bodies if b["type"] == WorkEvent.review_requested)
    assert review["subject"]["type"] == "review_response" and review["departments"] == [
        {"id": org.finance.id, "name": "财务部"}
    ]
    assert review["by"]["name"] == "张策划" and review["due_at"] is not None


async def test_running_the_producing_path_again_sends_nothing_more(client, sessions, settings, org, bots: Bots):
    await run_the_month(client, sessions, org)
    before = {e: len(await rows(sessions, e)) for e in WorkEvent}
    async with unit_of_work(sessions) as s:
        at = (await s.scalars(select(Campaign.created_at))).first()
        review = (await s.scalars(select(ReviewRequest))).one()
        responses = list(await s.scalars(select(ReviewResponse.id)))
        approval = (await s.scalars(select(Approval))).one()
        assignments = list(await s.scalars(select(ApprovalAssignment.id)))
        request_ = (await s.scalars(select(CollaborationRequest))).one()
        occurrence = (await s.scalars(select(CollaborationOccurrence.id))).one()
        complaint = (await s.scalars(select(Feedback).where(Feedback.kind == "complaint"))).one()
        flow = (await s.scalars(select(Campaign).where(Campaign.template_id.is_not(None)))).one()
        prepare, launch = list(
            await s.scalars(
                select(CampaignStage).where(CampaignStage.campaign_id == flow.id).order_by(CampaignStage.position)
            )
        )
        assert at is not None
        again = [
            *await arrival.review_round_opened(s, responses, by=org.planner.id, now=at),
            *await arrival.review_concluded(s, review, by=org.finance_director.id, comment=None, now=at),
            *await arrival.approvers_assigned(s, assignments, by=org.planner.id, now=at),
            *await arrival.approval_decided(s, approval, assignments[0], by=org.marketing_director.id, now=at),
            *await arrival.collaboration_created(s, request_, occurrence, now=at),
            *await arrival.feedback_received(s, complaint, now=at),
            *await arrival.stage_left(s, flow, prepare, launch, by=org.planner.id, now=at),
            *await arrival.stage_left(s, flow, launch, None, by=org.planner.id, now=at),
        ]
    assert again == []
    assert {e: len(await rows(sessions, e)) for e in WorkEvent} == before
