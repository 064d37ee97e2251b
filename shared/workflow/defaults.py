"""The default campaign template (requirements §1) and the SLA set for campaign stages."""

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
                {"key": "feedback_24h", "text": "各部门 24 小时内反馈 every department answered within 24 h"},
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
            "requires": "approval",
        },
        {
            "key": "retrospective",
            "name": "效果复盘",
            "name_en": "Retrospective",
            "owner_role": "planning lead",
            "inputs": ["活动数据 campaign data", "用户反馈 user feedback"],
            "deliverables": [{"key": "retrospective_report", "name": "《活动复盘报告》 retrospective report"}],
            "time_limit": {"kind": "working_days", "value": "3"},
            "checklist": [{"key": "improvements", "text": "≥ 3 条可落地的改进建议 ≥ 3 actionable improvements"}],
        },
    ],
}

# Stages: warn at 80 %, breach → stage owner + manager, +1 working day → director.
DEFAULT_STAGE_ESCALATION: dict[str, Any] = {
    "name": "阶段默认升级 Campaign stage default escalation",
    "description": "warn at 80 %; breach → stage owner + manager; +8 working hours → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
        {"offset": "+PT8H", "recipients": ["director", "campaign_owner"]},
    ],
}

DEFAULT_STAGE_POLICY: dict[str, Any] = {
    "name": "活动阶段时限 Campaign stage time limit",
    "description": "the active stage of every campaign, against its template's time limit; on hold pauses",
    "subject_type": "campaign_stage",
    "conditions": {},
    "target_kind": "working_days",
    "target_value": "3",
    "start_statuses": ["active"],
    "pause_statuses": ["on_hold"],
    "stop_statuses": ["done"],
    "cancel_statuses": ["cancelled"],
}

# ---- reviews, approvals, collaboration and customer feedback (requirements §2–3) -------------------
# Each entry: an escalation policy and the SLA policy that uses it, seeded once by name.
REVIEW_ESCALATION: dict[str, Any] = {
    "name": "评审默认升级 Review default escalation",
    "description": "warn the requester at 80 %; breach → requester + manager; +8 working hours → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
        {"offset": "+PT8H", "recipients": ["director"]},
    ],
}
REVIEW_RESPONSE_ESCALATION: dict[str, Any] = {
    "name": "评审反馈升级 Reviewer feedback escalation",
    "description": "warn the reviewer at 80 %; breach → reviewer + the reviewing department's head, "
    "reminded every 4 hours (max 2)",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {
            "offset": "0",
            "recipients": ["assignee", "department_head"],
            "repeat_every": "PT4H",
            "max_repeats": 2,
        },
    ],
}
APPROVAL_ESCALATION: dict[str, Any] = {
    "name": "审批升级 Approval escalation",
    "description": "warn the approver at 80 %; breach → approver + their manager",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"]},
    ],
}
COLLABORATION_ESCALATION: dict[str, Any] = {
    "name": "协作升级 Collaboration escalation",
    "description": "warn the owner at 80 %; breach → owner + their department head; +4 working hours → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "department_head"]},
        {"offset": "+PT4H", "recipients": ["director"]},
    ],
}
FEEDBACK_ESCALATION: dict[str, Any] = {
    "name": "客户反馈升级 Customer feedback escalation",
    "description": "warn the handler at 80 %; breach → handler, their manager and the department head; +2 h → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager", "department_head"]},
        {"offset": "+PT2H", "calendar": True, "recipients": ["director"]},
    ],
}

SLA_SETS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (DEFAULT_STAGE_ESCALATION, DEFAULT_STAGE_POLICY),
    (
        REVIEW_ESCALATION,
        {
            "name": "跨部门评审 2 个工作日 Review closes within 2 working days",
            "description": "the whole review, from request to consensus; paused while it is back with the requester",
            "subject_type": "review_request",
            "target_kind": "working_days",
            "target_value": "2",
            "start_statuses": ["in_review"],
            "pause_statuses": ["changes_requested"],
            "stop_statuses": ["approved", "rejected"],
            "cancel_statuses": ["cancelled"],
        },
    ),
    (
        REVIEW_ESCALATION,
        {
            "name": "评审修改重提 Resubmission within 1 working day",
            "description": "after changes are requested, the requester resubmits within 1 working day",
            "subject_type": "review_request",
            "target_kind": "working_days",
            "target_value": "1",
            "start_statuses": ["changes_requested"],
            "pause_statuses": [],
            "stop_statuses": ["in_review", "approved", "rejected"],
            "cancel_statuses": ["cancelled"],
        },
    ),
    (
        REVIEW_RESPONSE_ESCALATION,
        {
            "name": "评审部门 24 小时反馈 Reviewer answers within 24 h",
            "description": "each reviewing department (or person) answers within the review's response target "
            "(default 24 h calendar time)",
            "subject_type": "review_response",
            "target_kind": "calendar",
            "target_value": "PT24H",
            "start_statuses": ["pending"],
            "stop_statuses": ["answered"],
            "cancel_statuses": ["cancelled"],
        },
    ),
    (
        APPROVAL_ESCALATION,
        {
            "name": "审批 1 个工作日 Approver decides within 1 working day",
            "description": "each approver of the active step, unless the step sets its own limit",
            "subject_type": "approval_assignment",
            "target_kind": "working_days",
            "target_value": "1",
            "start_statuses": ["pending"],
            "stop_statuses": ["approved", "rejected"],
            "cancel_statuses": ["withdrawn"],
        },
    ),
    (
        COLLABORATION_ESCALATION,
        {
            "name": "跨部门协作反馈 Collaboration feedback deadline",
            "description": "each occurrence of a collaboration request, against the request's own deadline",
            "subject_type": "collaboration",
            "target_kind": "working_days",
            "target_value": "2",
            "start_statuses": ["open"],
            "stop_statuses": ["done"],
            "cancel_statuses": ["cancelled"],
        },
    ),
    (
        FEEDBACK_ESCALATION,
        {
            "name": "客户反馈 24 小时响应 Feedback first response in 24 h",
            "description": "customer feedback gets its first response within 24 hours",
            "subject_type": "feedback",
            "conditions": {"tags": ["feedback"]},
            "target_kind": "calendar",
            "target_value": "PT24H",
            "start_statuses": ["new"],
            "stop_statuses": ["responded", "resolved", "closed"],
        },
    ),
    (
        FEEDBACK_ESCALATION,
        {
            "name": "客诉 2 小时首次响应 Complaint first response in 2 h",
            "description": "a customer complaint gets its first response within 2 hours",
            "subject_type": "feedback",
            "conditions": {"tags": ["complaint"]},
            "target_kind": "calendar",
            "target_value": "PT2H",
            "start_statuses": ["new"],
            "stop_statuses": ["responded", "resolved", "closed"],
        },
    ),
]

# Routine campaigns, and stage gates that require an approval (e.g. execution's sign-off before
# launch), are approved by the campaign department's head (分级审批); organisations add their
# leadership-group, legal-review and dual-sign rules with a lower priority number (see README).
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
]
