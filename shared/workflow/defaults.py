"""The default campaign template (requirements §1) and the routine approval rules. (Each timed
item's default SLA policy is declared with its subject type, in its domain's `sla.py`.)"""

from __future__ import annotations

from typing import Any

DEFAULT_TEMPLATE: dict[str, Any] = {
    "key": "campaign_default",
    "name": "营销活动全流程",
    "name_en": "Campaign end to end",
    "description": "research → plan → cross-department review → resources → execution → retrospective",
    "stages": [
        {
            "key": "research",
            "name": "需求调研",
            "name_en": "Research",
            "owner_role": "research specialist",
            "inputs": ["历史活动数据 past campaign data", "客户反馈 customer feedback"],
            "deliverables": [{"key": "research_report", "name": "《需求调研报告》 research report"}],
            "time_limit": {"kind": "working_days", "value": "3"},
            "checklist": [
                {"key": "competitors", "text": "覆盖 ≥ 3 个竞品 covers ≥ 3 competitors"},
                {"key": "pain_point", "text": "明确客户核心痛点 names the customer's core pain point"},
            ],
        },
        {
            "key": "plan",
            "name": "方案策划",
            "name_en": "Planning",
            "owner_role": "planning lead",
            "inputs": ["《需求调研报告》 research report"],
            "deliverables": [{"key": "campaign_plan", "name": "《活动策划方案》 campaign plan"}],
            "time_limit": {"kind": "working_days", "value": "5"},
            "checklist": [
                {"key": "smart_goals", "text": "目标符合 SMART 原则 goals follow SMART"},
                {"key": "budget_error", "text": "预算误差 ≤ 5% budget error ≤ 5 %"},
            ],
            # 大促活动需提前15天提交ROI测算报告 (seed 003): a big promotion's plan waits for its ROI estimate.
            "requires_roi_estimate": True,
        },
        {
            "key": "review",
            "name": "跨部门评审",
            "name_en": "Cross-department review",
            "owner_role": "planning lead",
            "inputs": ["《活动策划方案》 campaign plan"],
            "deliverables": [{"key": "review_sheet", "name": "《评审意见表》 review sheet"}],
            "time_limit": {"kind": "working_days", "value": "2"},
            "checklist": [
                {
                    "key": "feedback_24h",
                    "text": "各部门 24 小时内反馈 every department answered within 24 h",
                    # Computed from the review's own feedback timers, never ticked by hand.
                    "derived": "review_on_time",
                },
                {"key": "consensus", "text": "达成共识 consensus reached"},
            ],
            "requires": "review",
        },
        {
            "key": "resources",
            "name": "资源协调",
            "name_en": "Resource coordination",
            "owner_role": "execution specialist",
            "inputs": ["通过评审的方案 approved plan"],
            "deliverables": [{"key": "resource_allocation", "name": "《资源分配表》 resource allocation"}],
            "time_limit": {"kind": "working_days", "value": "1"},
            "checklist": [
                {"key": "design_slot", "text": "设计资源 3 天内确认排期 design confirmed its slot within 3 days"}
            ],
        },
        {
            "key": "execution",
            "name": "活动执行",
            "name_en": "Execution",
            "owner_role": "execution specialist",
            "inputs": ["《资源分配表》 resource allocation"],
            "deliverables": [{"key": "launch_board", "name": "上线与实时数据看板 launch and live data board"}],
            "checklist": [
                {"key": "legal_review", "text": "物料上线前通过法务审核 assets passed legal review before launch"},
                {"key": "channel_test", "text": "投放前完成渠道测试 channels tested before spend"},
            ],
            # Assets are signed off before launch: resources cannot hand over to execution until the
            # execution stage's approval (legal / ad review) is given.
            "requires_approval_to_enter": True,
        },
        {
            "key": "retrospective",
            "name": "效果复盘",
            "name_en": "Retrospective",
            "owner_role": "planning lead",
            "inputs": ["活动数据 campaign data", "用户反馈 user feedback"],
            "deliverables": [{"key": "retrospective_report", "name": "《活动复盘报告》 retrospective report"}],
            "time_limit": {"kind": "working_days", "value": "3"},
            # ≥ 3 条可落地的改进建议: counted from real rectification items (source retrospective).
            "min_rectifications": 3,
        },
    ],
}

# Routine campaigns, and stages that require an approval (e.g. execution's sign-off before
# launch, asked while resources are coordinated), are approved by the campaign department's head
# (分级审批); organisations add their leadership-group, legal-review and dual-sign rules with a lower
# priority number (see README).
BUDGET_CHANGE_RULE = "预算变更 双签 Budget change: marketing + finance directors"
LINE_OVERRUN_RULE = "单项超预算15% 专项审批 Line over 115 %: marketing + finance directors"
DUAL_SIGN_STEP = "市场总监 + 财务总监 双签 Marketing + finance directors"
DEFAULT_APPROVAL_RULES: list[dict[str, Any]] = [
    {
        "name": "阶段审批 部门负责人 Stage sign-off: department head",
        "kind": "stage",
        "priority": 1000,
        "conditions": {},
        "steps": [{"name": "部门负责人 Department head", "mode": "one", "approvers": ["department_head"]}],
    },
    {
        "name": "常规活动 部门负责人审批 Routine campaign: department head",
        "kind": "campaign",
        "priority": 1000,
        "conditions": {},
        "steps": [{"name": "部门负责人 Department head", "mode": "one", "approvers": ["department_head"]}],
    },
    # Goals (目标分解) bind once approved, and change only through an approved adjustment (seed 002:
    # 目标调整…报公司管理层审批): a department's goal by its head, a company goal by the director.
    *(
        rule
        for kind, zh, en in (("goal", "目标", "Goal"), ("goal_adjustment", "目标调整", "Goal adjustment"))
        for rule in (
            {
                "name": f"公司{zh} 总监审批 Company {en.lower()}: director",
                "kind": kind,
                "priority": 900,
                "conditions": {"company_wide": True},
                "steps": [{"name": "总监 Director", "mode": "one", "approvers": ["director"]}],
            },
            {
                "name": f"部门{zh} 部门负责人审批 Department {en.lower()}: department head",
                "kind": kind,
                "priority": 1000,
                "conditions": {},
                "steps": [{"name": "部门负责人 Department head", "mode": "one", "approvers": ["department_head"]}],
            },
        )
    ),
    # Seed 004 (双签): a budget change needs the marketing director and the finance director, both.
    # A new install has no departments to name yet, so the seeded chain is the campaign
    # department's head and the requester's director; point it at the two heads once the org
    # exists (steps: `department:<marketing id>` + `department:<finance id>`, as the demo does).
    {
        "name": BUDGET_CHANGE_RULE,
        "kind": "budget_change",
        "priority": 1000,
        "conditions": {},
        "steps": [{"name": DUAL_SIGN_STEP, "mode": "all", "approvers": ["department_head", "director"]}],
    },
    # More time for a timed item (申请延期) is the item's department head's call; without a head
    # (or when the head asks for themself) shared.sla.extensions falls back to a director, then an
    # admin. A rule of kind extension with a lower priority number overrides the chain.
    {
        "name": "延期申请 部门负责人审批 Extension: department head",
        "kind": "extension",
        "priority": 1000,
        "conditions": {},
        "steps": [{"name": "部门负责人 Department head", "mode": "one", "approvers": ["department_head"]}],
    },
    # An expense is approved by the campaign department's head …
    {
        "name": "常规费用 部门负责人审批 Routine expense: department head",
        "kind": "expense",
        "priority": 1000,
        "conditions": {},
        "steps": [{"name": "部门负责人 Department head", "mode": "one", "approvers": ["department_head"]}],
    },
    # … unless it takes its budget line beyond 115 % of plan (seed 004: "单项投入超出预算15%需经过专项
    # 审批流程"): then the same two directors as a budget change, both.
    {
        "name": LINE_OVERRUN_RULE,
        "kind": "expense",
        "priority": 10,
        "conditions": {"line_overrun_pct_over": 15},
        "steps": [{"name": DUAL_SIGN_STEP, "mode": "all", "approvers": ["department_head", "director"]}],
    },
]
