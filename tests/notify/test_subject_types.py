"""Every kind of item under SLA — task, campaign stage, review, reviewer, approver, collaboration
occurrence, feedback, complaint, rectification item, big-promotion ROI estimate, KPI variance and risk review —
renders natively in every channel kind and is accepted by the vendors' (botsim's) checks:
signatures, keywords, body codes and the published event schema."""

from __future__ import annotations

import base64

from services.notifier.main import drain
from shared.db import unit_of_work
from shared.models import ChannelKind
from shared.notify import delivery, events
from shared.notify.http import Sender
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.sla import registry
from shared.sla.registry import SubjectContext
from tests.factories import make_channel
from tests.notify.helpers import sla_payload

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
SUBJECTS = [
    SubjectContext("task", 1, "提交《活动策划方案》", "in_progress", "/api/v1/tasks/1", priority="high"),
    SubjectContext("campaign_stage", 2, "双十一大促 · 方案策划", "active", "/api/v1/campaigns/1/stages/plan"),
    SubjectContext("review_request", 3, "双十一方案评审", "in_review", "/api/v1/reviews/3"),
    SubjectContext("review_response", 4, "双十一方案评审 · 销售部", "pending", "/api/v1/reviews/3"),
    SubjectContext("approval_assignment", 5, "预算变更 · 双签", "pending", "/api/v1/approvals/5"),
    SubjectContext("collaboration", 6, "线索移交销售 · 2025-09-28", "open", "/api/v1/collaboration-requests/6"),
    SubjectContext(
        "feedback", 7, "王女士: 赠品未收到", "new", "/api/v1/feedback/7", priority="normal", tags=("feedback",)
    ),
    SubjectContext(
        "feedback", 8, "李先生: 价格欺诈投诉", "new", "/api/v1/feedback/8", priority="urgent", tags=("complaint",)
    ),
    SubjectContext("rectification", 9, "投放素材预审清单", "open", "/api/v1/rectifications/9"),
    SubjectContext("roi_estimate", 10, "618大促", "pending", "/api/v1/campaigns/1/roi-estimate"),
    SubjectContext("kpi_variance", 11, "双十一大促 · 线索量 -16%", "open", "/api/v1/campaigns/1/kpis/1"),
    SubjectContext("risk_review", 12, "竞品双十一提前降价", "due", "/api/v1/risks/12", priority="high"),
]
OWNER = {
    "id": 11,
    "name": "张策划",
    "mobile": "13800000000",
    "feishu_open_id": "ou_7d8a6e6df7621556ce0d21922b676706",
    "dingtalk_user_id": "zhangsan",
    "wecom_user_id": "zhang.san",
    "locale": "zh-CN",
}
LABELS = [
    "任务",
    "活动阶段",
    "跨部门评审",
    "评审反馈",
    "审批",
    "跨部门协作",
    "客户反馈",
    "客诉",
    "整改措施",
    "大促 ROI 测算报告",
    "指标偏差",
    "风险复核",
]


def test_the_matrix_covers_every_registered_subject_type():
    assert {s.type for s in SUBJECTS} == set(registry.names())


async def test_every_subject_type_renders_natively_in_every_channel_kind(settings, sessions, clock, arq_redis, botsim):
    botsim.add_bots(
        {
            "fs": {"kind": "feishu", "secret": "fs-secret", "keywords": ["Closeloop"]},
            "dt": {"kind": "dingtalk", "secret": "SECdt", "keywords": ["Closeloop"]},
            "wc": {"kind": "wecom"},
            "gw": {"kind": "generic", "secret": WHSEC},
        }
    )
    # Limits lifted so each item goes as its own message, not a digest.
    unlimited = [{"limit": 100, "per_s": 1}]
    channels = {
        "fs": await make_channel(
            sessions,
            kind=ChannelKind.feishu,
            url=botsim.url("feishu", "fs"),
            secret="fs-secret",
            keywords=["Closeloop"],
            rate_limits=unlimited,
        ),
        "dt": await make_channel(
            sessions,
            kind=ChannelKind.dingtalk,
            url=botsim.url("dingtalk", "dt"),
            secret="SECdt",
            keywords=["Closeloop"],
            rate_limits=unlimited,
        ),
        "wc": await make_channel(
            sessions, kind=ChannelKind.wecom, url=botsim.url("wecom", "wc"), rate_limits=unlimited
        ),
        "gw": await make_channel(
            sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw"), secret=WHSEC, rate_limits=unlimited
        ),
    }
    now = clock.now()
    items = []
    for ctx in SUBJECTS:
        payload = sla_payload(ctx.id, ctx.title, now=now)
        payload["subject"] = ctx.as_payload()
        payload["assignee"], payload["mentions"] = OWNER, [OWNER]
        payload["recipients"] = [{"as": "assignee", "user_id": OWNER["id"], "name": OWNER["name"]}]
        items += [
            OutboxItem(
                dedupe_key=f"t:{ctx.id}:{name}",
                event_type="sla.breach",
                subject_type=ctx.type,
                subject_id=ctx.id,
                channel_id=channel.id,
                payload=payload,
            )
            for name, channel in channels.items()
        ]
    async with unit_of_work(sessions) as s:
        await add_to_outbox(s, items, now=now)
    async with Sender() as http:
        ctx = {
            "settings": settings,
            "sessions": sessions,
            "clock": clock,
            "redis": arq_redis,
            "http": http,
            "policy": delivery.policy_from(settings),
        }
        for channel in channels.values():
            assert (await drain(ctx, channel.id))["outcomes"] == {"success": len(SUBJECTS)}

    stats = botsim.stats()
    assert all(not stats[bot].get("rejected") for bot in channels), stats
    cards = [m["body"]["card"] for m in botsim.messages("fs")]
    feishu_texts = [str(card) for card in cards]
    dingtalk = [m["body"]["markdown"]["text"] for m in botsim.messages("dt")]
    wecom = [m["body"]["markdown"]["content"] for m in botsim.messages("wc")]
    for label, subject in zip(LABELS, SUBJECTS, strict=True):
        line = f"{label} #{subject.id} {subject.title}"
        for bot, texts in (("feishu", feishu_texts), ("dingtalk", dingtalk), ("wecom", wecom)):
            assert sum(line in t for t in texts) == 1, (bot, line)
    assert all(card["header"]["template"] == "red" for card in cards)  # a breach is critical everywhere
    assert all("Closeloop" in t for t in dingtalk)  # the keyword-protected bot's keyword is present
    assert all("<@zhang.san>" in t for t in wecom)  # real mentions, natively
    assert all(m["body"]["at"]["atMobiles"] == ["13800000000"] for m in botsim.messages("dt"))
    assert all("@13800000000" in t for t in dingtalk)
    received = [events.validate_event(m["body"]) for m in botsim.messages("gw")]
    assert sorted((e.data.subject.type, e.data.subject.id) for e in received) == sorted(
        (s.type, s.id) for s in SUBJECTS
    )
    complaint = next(e for e in received if e.data.subject.id == 8)
    assert complaint.data.subject.tags == ["complaint"] and complaint.data.subject.priority == "urgent"
