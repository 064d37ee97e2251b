"""Every operation in the OpenAPI document, as every kind of caller, against one table.

One world — departments A and B; a viewer, a member and the manager of A; a member and the manager
of B; a member of B asked to review, approve and collaborate on A's items; a director; an admin —
and one item of every kind in department A. Each cell (operation × caller) runs in a savepoint
rolled back afterwards, so every cell sees that same world. An operation without a row fails the
test: a new route cannot forget to say who may call it.

A row is one line: the operation id and one character per caller, in `CALLERS` order —
`2` a 2xx answer, `3` 403 (sees it, may not do it), `4` 404 (may not know it exists), `V` 422 (a
command naming an item the caller may not see reads as naming nothing), `C` 409 (allowed, but the
domain refuses: nobody approves their own request) — or a profile's name; `P` for a public route:
called once without a token (with its signature or signed link: 2xx) and once without those either
(`UNSIGNED`: refused).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import links
from shared.actor import Actor
from shared.models import Role
from shared.org.tokens import create_token
from shared.pages.links import page_path
from shared.workflow.templates import ensure_workflow_defaults

CALLERS = ("viewer_a", "member_a", "manager_a", "member_b", "manager_b", "asked_b", "director", "admin")

# The permission model, as a table (see README "Who may do what").
A_READ = "22244422"  # department A and the people above departments
A_WRITE = "32244422"  # ... and the viewer only reads
A_MANAGE = "33244422"  # A's manager (and directors, admins)
ANYONE = "22222222"
MEMBERS = "32222222"
MANAGERS = "33232322"
DIRECTORS = "33333322"
ADMINS = "33333332"
A_FIGURES = "22233322"  # figures of department A: another department's people are refused
A_CONFIG = "33234322"  # configuration bound to department A: its manager (B's: not found), directors, admins
PUBLIC = "PPPPPPPP"
# Public routes that need a signature or a signed link instead of a token: refused without it.
UNSIGNED = {
    "receiveFeedbackWebhook": 401,
    "getReportPage": 401,
    "getItemPage": 401,
    "receiveFeishuEvent": 401,
    "receiveDingtalkMessage": 401,
}

TABLE: dict[str, str] = {}
_ROWS = """
createDepartment ADMINS
listDepartments ANYONE
getDepartment ANYONE
updateDepartment ADMINS
deleteDepartment ADMINS
createUser ADMINS
listUsers ANYONE
getMe ANYONE
getUser ANYONE
updateUser ADMINS
createToken ADMINS
listTokens ADMINS
revokeToken ADMINS
listMetrics ANYONE
createMetric MANAGERS
getMetric ANYONE
updateMetric MANAGERS
listCampaignKpis A_READ
createCampaignKpi A_WRITE
getCampaignKpi A_READ
updateCampaignKpi A_WRITE
addKpiReading A_WRITE
listKpiReadings A_READ
createCampaign MEMBERS
listCampaigns ANYONE
getCampaign A_READ
updateCampaign A_WRITE
deleteCampaign A_WRITE
restoreCampaign 33234322
createBudgetLine A_WRITE
listBudgetLines A_READ
updateBudgetLine A_WRITE
getCampaignBudget A_READ
createExpense 32CVVV22
listExpenses ANYONE
getExpense A_READ
payExpense A_MANAGE
cancelExpense A_WRITE
getCampaignMoney A_READ
getMoney A_FIGURES
createWorkflowTemplate MANAGERS
listWorkflowTemplates ANYONE
getWorkflowTemplate ANYONE
publishWorkflowTemplateVersion MANAGERS
listCampaignStages A_READ
updateCampaignStage A_WRITE
addStageDeliverable A_WRITE
tickStageChecklistItem A_WRITE
advanceCampaignStage A_WRITE
changeCampaignState A_WRITE
createReview MEMBERS
listReviews ANYONE
getReview 22244222
answerReview 33344232
resubmitReview 32244322
cancelReview 32244322
createApprovalRule MANAGERS
listApprovalRules ANYONE
getApprovalRule ANYONE
updateApprovalRule MANAGERS
deleteApprovalRule MANAGERS
requestApproval 322VVV22
listApprovals ANYONE
getApproval 22244222
decideApproval 33344233
cancelApproval 32244322
createExtensionRequest A_WRITE
createCollaborationRequest MEMBERS
listCollaborationRequests ANYONE
getCollaborationRequest ANYONE
updateCollaborationRequest 32233222
listCollaborationOccurrences ANYONE
completeCollaborationOccurrence 33222222
closeCollaborationRequest 32233222
cancelCollaborationRequest 32233222
createFeedback MEMBERS
listFeedback ANYONE
getFeedback A_READ
updateFeedback A_WRITE
respondToFeedback A_WRITE
receiveFeedbackWebhook PUBLIC
createTask MEMBERS
listTasks ANYONE
getTask A_READ
updateTask A_WRITE
deleteTask A_WRITE
createRectification MEMBERS
listRectifications ANYONE
getRectification A_READ
updateRectification A_WRITE
startRectification A_WRITE
countCampaignRectifications A_READ
finishRectification A_WRITE
verifyRectification 33244422
reopenRectification A_WRITE
createRisk MEMBERS
listRisks ANYONE
getRiskMatrix A_FIGURES
getRisk A_READ
updateRisk A_WRITE
getRiskLevelHistory A_READ
listRiskReviews A_READ
reviewRisk A_WRITE
createReportSchedule 33233322
listReportSchedules ANYONE
getReportSchedule A_READ
updateReportSchedule 33234322
deleteReportSchedule 33234322
runReportSchedule ADMINS
listReports ANYONE
getReportPage PUBLIC
getItemPage PUBLIC
listNotificationEvents ANYONE
listNotificationSubscriptions ANYONE
setNotificationSubscription 33233322
deleteNotificationSubscription 33233322
getReport A_READ
getRoiEstimate A_READ
submitRoiEstimate A_WRITE
listRoiEstimates ANYONE
createGoal 32233322
listGoals ANYONE
getGoal A_READ
updateGoal A_WRITE
deleteGoal A_WRITE
requestGoalApproval 32C44422
requestGoalAdjustment 32C44422
listGoalAdjustments A_READ
reportGoalActual A_WRITE
listGoalActuals A_READ
getGoalProgress A_READ
getStageCycleTimes A_FIGURES
getStageBottlenecks A_FIGURES
getCampaignCycleTimes A_FIGURES
getTaskTimeliness A_FIGURES
getReviewDelay A_FIGURES
getCrossDepartmentCommunications A_FIGURES
getSlaCompliance A_FIGURES
getFeedbackFirstResponse A_FIGURES
createCalendar MANAGERS
listCalendars ANYONE
getCalendar ANYONE
updateCalendar MANAGERS
deleteCalendar MANAGERS
previewDeadline ANYONE
listCalendarDays ANYONE
importCalendarSchedule MANAGERS
exportCalendarSchedule ANYONE
createEscalationPolicy MANAGERS
listEscalationPolicies ANYONE
getEscalationPolicy ANYONE
updateEscalationPolicy MANAGERS
deleteEscalationPolicy MANAGERS
createSlaPolicy MANAGERS
listSlaPolicies ANYONE
getSlaPolicy ANYONE
updateSlaPolicy MANAGERS
listSlaTimers ANYONE
listEscalations ANYONE
createChannel 33233322
listChannels MANAGERS
getChannel A_CONFIG
updateChannel A_CONFIG
deleteChannel A_CONFIG
listNotifications ANYONE
getNotification 22244222
listNotificationAttempts 22244222
replayNotification 33234322
listChannelAttempts A_CONFIG
testChannel A_CONFIG
createChatApp MANAGERS
listChatApps MANAGERS
getChatApp MANAGERS
updateChatApp 33233322
deleteChatApp 33233322
testChatApp 33233322
receiveFeishuEvent PUBLIC
receiveDingtalkMessage PUBLIC
addComment A_WRITE
getTrail A_READ
listAuditLog ANYONE
healthz PUBLIC
readyz PUBLIC
metrics PUBLIC
"""
for _line in _ROWS.strip().splitlines():
    _op, _profile = _line.split()
    TABLE[_op] = globals().get(_profile, _profile)


@dataclass
class World:
    ids: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


_seq = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix} {next(_seq)}"


# The request each operation makes: path parameters (by name, from the world unless given), a JSON
# body, query parameters. Operations not listed take their path parameters from the world and no body.
Call = Callable[[World], dict[str, Any]]
CALLS: dict[str, Call] = {
    "createDepartment": lambda w: {"json": {"name": _unique("Dept")}},
    "updateDepartment": lambda w: {"json": {"name": _unique("Dept")}, "path": {"department_id": w.ids["dept_spare"]}},
    "deleteDepartment": lambda w: {"path": {"department_id": w.ids["dept_spare"]}},
    "createUser": lambda w: {"json": {"name": "New", "email": f"new{next(_seq)}@example.com"}},
    "updateUser": lambda w: {"json": {"name": "Renamed"}, "path": {"user_id": w.ids["member_a"]}},
    "getUser": lambda w: {"path": {"user_id": w.ids["member_a"]}},
    "createToken": lambda w: {"json": {"user_id": w.ids["member_a"], "name": "t"}},
    "revokeToken": lambda w: {"path": {"token_id": w.ids["spare_token"]}},
    "createMetric": lambda w: {
        "json": {
            "key": f"m_{next(_seq)}",
            "name_zh": "指标",
            "name_en": "Metric",
            "unit": "count",
            "higher_is_better": True,
            "aggregation": "latest",
        }
    },
    "getMetric": lambda w: {"path": {"key": "leads"}},
    "updateMetric": lambda w: {"path": {"key": "leads"}, "json": {"name_en": "Leads!"}},
    "createCampaignKpi": lambda w: {"json": {"metric_key": "revenue", "target": "1000", "owner_id": w.ids["member_a"]}},
    "updateCampaignKpi": lambda w: {"json": {"target": "6000"}},
    "addKpiReading": lambda w: {"json": {"value": "4000"}},
    "createCampaign": lambda w: {"json": {"name": _unique("Campaign")}},
    "updateCampaign": lambda w: {"json": {"name": "Renamed"}},
    "createBudgetLine": lambda w: {"json": {"category": "design", "planned": "1000"}},
    "updateBudgetLine": lambda w: {"json": {"planned": "12000"}},
    "createExpense": lambda w: {"json": {"line_id": w.ids["line_id"], "amount": "100"}},
    "payExpense": lambda w: {"path": {"expense_id": w.ids["approved_expense_id"]}},
    "getMoney": lambda w: {"params": {"department_id": w.ids["dept_a"]}},
    "createWorkflowTemplate": lambda w: {"json": w.ids["template_body"] | {"key": f"tpl_{next(_seq)}"}},
    "getWorkflowTemplate": lambda w: {"path": {"key": "campaign_default"}},
    "publishWorkflowTemplateVersion": lambda w: {"path": {"key": "campaign_default"}, "json": {"name": "New name"}},
    "listCampaignStages": lambda w: {"path": {"campaign_id": w.ids["workflow_campaign_id"]}},
    "updateCampaignStage": lambda w: {
        "path": {"campaign_id": w.ids["workflow_campaign_id"], "key": w.ids["stage_key"]},
        "json": {"owner_id": w.ids["member_a"]},
    },
    "addStageDeliverable": lambda w: {
        "path": {"campaign_id": w.ids["workflow_campaign_id"], "key": w.ids["stage_key"]},
        "json": {"title": "《活动策划方案》"},
    },
    "tickStageChecklistItem": lambda w: {
        "path": {
            "campaign_id": w.ids["workflow_campaign_id"],
            "key": w.ids["stage_key"],
            "item_key": w.ids["item_key"],
        },
        "json": {"done": True, "note": "ok"},
    },
    "advanceCampaignStage": lambda w: {
        "path": {"campaign_id": w.ids["advanceable_campaign_id"], "key": w.ids["stage_key"]},
    },
    "changeCampaignState": lambda w: {"path": {"action": "cancel"}},
    "createReview": lambda w: {"json": {"title": "看稿", "reviewer_user_ids": [w.ids["viewer_a"]]}},
    "answerReview": lambda w: {"json": {"decision": "approve"}},
    "resubmitReview": lambda w: {"path": {"review_id": w.ids["changes_review_id"]}},
    "createApprovalRule": lambda w: {"json": w.ids["rule_body"] | {"name": _unique("Rule")}},
    "updateApprovalRule": lambda w: {"json": {"description": "changed"}},
    "requestApproval": lambda w: {"json": {"kind": "campaign", "campaign_id": w.ids["promotion_id"]}},
    "decideApproval": lambda w: {"json": {"decision": "approve"}},
    "createExtensionRequest": lambda w: {
        "json": {"subject_type": "task", "subject_id": w.ids["task_id"], "extend_by": "1d", "reason": "素材未到"}
    },
    "createCollaborationRequest": lambda w: {
        "json": {
            "matter": "协作",
            "collaborating_department_ids": [w.ids["dept_a"]],
            "owner_id": w.ids["member_a"],
            "deadline": {"kind": "calendar", "value": "PT24H"},
        }
    },
    "updateCollaborationRequest": lambda w: {"json": {"matter": "改了"}},
    "completeCollaborationOccurrence": lambda w: {"json": {"note": "done"}},
    "createFeedback": lambda w: {"json": {"kind": "feedback", "channel": "phone", "content": "好"}},
    "updateFeedback": lambda w: {"json": {"severity": "high"}},
    "respondToFeedback": lambda w: {"json": {"message": "已收到"}},
    "receiveFeedbackWebhook": lambda w: _signed({"kind": "feedback", "channel": "web", "content": "好"}, w),
    "createTask": lambda w: {"json": {"title": "海报"}},
    "updateTask": lambda w: {"json": {"title": "海报 v2"}},
    "createRectification": lambda w: {"json": {"title": "整改", "owner_id": w.ids["member_a"]}},
    "updateRectification": lambda w: {"json": {"title": "整改 v2"}},
    "finishRectification": lambda w: {"path": {"item_id": w.ids["started_rectification_id"]}},
    "verifyRectification": lambda w: {"path": {"item_id": w.ids["done_rectification_id"]}},
    "reopenRectification": lambda w: {"path": {"item_id": w.ids["done_rectification_id"]}, "json": {"reason": "no"}},
    "createRisk": lambda w: {"json": w.ids["risk_body"]},
    "getRiskMatrix": lambda w: {"params": {"department_id": w.ids["dept_a"]}},
    "updateRisk": lambda w: {"json": {"title": "风险 v2"}},
    "reviewRisk": lambda w: {"json": {"note": "看过"}},
    "createReportSchedule": lambda w: {"json": w.ids["schedule_body"]},
    "updateReportSchedule": lambda w: {"json": {"send_at": "10:00"}},
    "getReportPage": lambda w: {"path": {"report_id": w.ids["report_id"]}, "params": w.ids["report_link"]},
    "getItemPage": lambda w: {
        "path": {"subject_type": "task", "subject_id": w.ids["task_id"]},
        "params": w.ids["item_link"],
    },
    "setNotificationSubscription": lambda w: {
        "json": {"event": "work.campaign_completed", "enabled": False, "department_id": w.ids["dept_a"]}
    },
    "submitRoiEstimate": lambda w: {
        "path": {"campaign_id": w.ids["promotion_id"]},
        "json": {"document_url": "https://docs.example.com/roi", "expected_revenue": "200", "expected_cost": "100"},
    },
    "getRoiEstimate": lambda w: {"path": {"campaign_id": w.ids["promotion_id"]}},
    "createGoal": lambda w: {
        "json": {
            "title": "目标",
            "metric": "leads",
            "target": "100",
            "period": "2027",
            "department_id": w.ids["dept_a"],
        }
    },
    "updateGoal": lambda w: {"json": {"title": "目标 v2"}},
    "requestGoalApproval": lambda w: {"json": {}},
    "requestGoalAdjustment": lambda w: {
        "path": {"goal_id": w.ids["approved_goal_id"]},
        "json": {"target": "900", "reason": "市场变化"},
    },
    "reportGoalActual": lambda w: {"json": {"value": "10"}},
    "createCalendar": lambda w: {"json": {"name": _unique("Calendar")}},
    "updateCalendar": lambda w: {"json": {"name": _unique("Calendar")}},
    "deleteCalendar": lambda w: {"path": {"calendar_id": w.ids["spare_calendar_id"]}},
    "previewDeadline": lambda w: {
        "params": {"start": "2026-12-01T09:00:00+08:00", "kind": "calendar", "value": "PT24H"}
    },
    "listCalendarDays": lambda w: {"params": {"from": "2026-12-01", "to": "2026-12-07"}},
    "importCalendarSchedule": lambda w: {"json": [{"date": "2027-01-04", "working": False, "name": "调休"}]},
    "createEscalationPolicy": lambda w: {"json": w.ids["escalation_body"] | {"name": _unique("Escalation")}},
    "updateEscalationPolicy": lambda w: {"json": {"description": "changed"}},
    "deleteEscalationPolicy": lambda w: {"path": {"policy_id": w.ids["spare_escalation_id"]}},
    "getEscalationPolicy": lambda w: {"path": {"policy_id": w.ids["escalation_id"]}},
    "createSlaPolicy": lambda w: {
        "json": {"name": _unique("SLA"), "target_kind": "calendar", "target_value": "PT24H", "enabled": False}
    },
    "updateSlaPolicy": lambda w: {"json": {"description": "changed"}},
    "createChannel": lambda w: {
        "json": {
            "name": _unique("Channel"),
            "kind": "webhook",
            "url": "http://127.0.0.1:9/x",
            "department_ids": [w.ids["dept_a"]],
        }
    },
    "updateChannel": lambda w: {"json": {"name": _unique("Channel")}},
    "deleteChannel": lambda w: {"path": {"channel_id": w.ids["spare_channel_id"]}},
    "testChannel": lambda w: {"json": {}},
    "createChatApp": lambda w: {
        "json": {"name": _unique("App"), "vendor": "dingtalk", "app_id": "dingkey", "app_secret": "s"}
    },
    "updateChatApp": lambda w: {"json": {"name": _unique("App")}},
    "deleteChatApp": lambda w: {"path": {"app_id": w.ids["spare_app_id"]}},
    "receiveFeishuEvent": lambda w: _feishu_challenge(w),
    "receiveDingtalkMessage": lambda w: _dingtalk_said(w),
    **{
        op: (lambda w: {"params": {"department_id": w.ids["dept_a"]}})
        for op in (
            "getStageCycleTimes",
            "getStageBottlenecks",
            "getCampaignCycleTimes",
            "getTaskTimeliness",
            "getReviewDelay",
            "getCrossDepartmentCommunications",
            "getSlaCompliance",
            "getFeedbackFirstResponse",
        )
    },
    "addComment": lambda w: {"path": {"subject_type": "campaign"}, "json": {"body": "好"}},
    "getTrail": lambda w: {"path": {"subject_type": "campaign"}},
}


INBOUND_KEY = b"closeloop-permission-table-key-32"
INBOUND_SECRET = "whsec_" + base64.b64encode(INBOUND_KEY).decode()


def _signed(body: dict[str, Any], w: World) -> dict[str, Any]:
    """A Standard Webhooks delivery, signed as any sender would."""
    raw = json.dumps(body).encode()
    msg_id, ts = f"msg_{next(_seq)}", w.ids["now"]
    mac = hmac.new(INBOUND_KEY, f"{msg_id}.{ts}.".encode() + raw, hashlib.sha256).digest()
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    return {"content": raw, "headers": {"content-type": "application/json", **headers}}


FEISHU_APP = {"app_id": "cli_0123456789abcdef", "verification_token": "vt", "encrypt_key": "ek"}
DINGTALK_SECRET = "ding-secret"


def _feishu_challenge(w: World) -> dict[str, Any]:
    """The console's url_verification, encrypted with the app's key as Feishu sends it."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    plain = json.dumps({"challenge": "c", "token": FEISHU_APP["verification_token"], "type": "url_verification"})
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain.encode()) + padder.finalize()
    iv = bytes(16)
    key = hashlib.sha256(FEISHU_APP["encrypt_key"].encode()).digest()
    sealed = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    data = base64.b64encode(iv + sealed.update(padded) + sealed.finalize()).decode()
    return {"content": json.dumps({"encrypt": data}).encode(), "headers": {"content-type": "application/json"}}


def _dingtalk_said(w: World) -> dict[str, Any]:
    """An outgoing robot's message, signed with the app secret (no sessionWebhook: answered in the body)."""
    ts = str(w.ids["now"] * 1000)
    sign = base64.b64encode(
        hmac.new(DINGTALK_SECRET.encode(), f"{ts}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    body = {"msgtype": "text", "text": {"content": "?"}, "msgId": f"m{next(_seq)}", "senderStaffId": "nobody"}
    return {
        "path": {"chat_app_id": w.ids["dingtalk_app_id"]},
        "content": json.dumps(body).encode(),
        "headers": {"content-type": "application/json", "timestamp": ts, "sign": sign},
    }


async def _build(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], clock: Any, settings: Any
) -> World:
    """The world every cell sees, written through the API as its people would."""
    w = World()
    system = Actor.system("tests")
    async with sessions() as s:
        await ensure_workflow_defaults(s)
        from shared.models import User

        admin = User(name="Admin", email="admin@example.com", role=Role.admin)
        s.add(admin)
        await s.flush()
        _, w.tokens["admin"] = await create_token(s, actor=system, user_id=admin.id, name="admin")
        await s.commit()

    async def call(method: str, path: str, who: str = "admin", **kw: Any) -> Any:
        r = await client.request(method, f"/api/v1{path}", headers=w.headers(who), **kw)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    ids = w.ids
    ids["now"] = int(clock.now().timestamp())
    ids["dept_a"] = (await call("POST", "/departments", json={"name": "A 市场部"}))["id"]
    ids["dept_b"] = (await call("POST", "/departments", json={"name": "B 销售部"}))["id"]
    ids["dept_spare"] = (await call("POST", "/departments", json={"name": "Spare"}))["id"]
    people = {
        "viewer_a": ("viewer", "dept_a"),
        "member_a": ("member", "dept_a"),
        "manager_a": ("manager", "dept_a"),
        "member_b": ("member", "dept_b"),
        "manager_b": ("manager", "dept_b"),
        "asked_b": ("member", "dept_b"),
        "director": ("director", None),
    }
    async with sessions() as s:
        for who, (role, dept) in people.items():
            body = {"name": who, "email": f"{who}@example.com", "role": role}
            if dept:
                body["department_id"] = ids[dept]
            ids[who] = (await call("POST", "/users", json=body))["id"]
            _, w.tokens[who] = await create_token(s, actor=system, user_id=ids[who], name=who)
        spare, _ = await create_token(s, actor=system, user_id=ids["member_a"], name="spare")
        ids["spare_token"] = spare.id
        await s.commit()
    await call("PATCH", f"/departments/{ids['dept_a']}", json={"head_user_id": ids["manager_a"]})
    await call("PATCH", f"/departments/{ids['dept_b']}", json={"head_user_id": ids["manager_b"]})

    company = {"name": "全公司群", "kind": "webhook", "url": "http://127.0.0.1:9/all"}  # every department's alerts
    ids["company_channel_id"] = (await call("POST", "/channels", json=company))["id"]
    in_a = {"kind": "webhook", "department_ids": [ids["dept_a"]]}
    channel = await call("POST", "/channels", json={"name": "A 群", "url": "http://127.0.0.1:9/a", **in_a})
    ids["channel_id"] = channel["id"]
    ids["spare_channel_id"] = (
        await call("POST", "/channels", json={"name": "spare", "url": "http://127.0.0.1:9/b", **in_a})
    )["id"]
    app = {"vendor": "feishu", "app_secret": "s", "department_id": ids["dept_a"], **FEISHU_APP}
    ids["app_id"] = ids["chat_app_id"] = (await call("POST", "/chat-apps", json={"name": "A 应用", **app}))["id"]
    ids["spare_app_id"] = (await call("POST", "/chat-apps", json={"name": "spare 应用", **app}))["id"]
    ding = {"name": "A 钉钉", "vendor": "dingtalk", "app_id": "dingkey", "app_secret": DINGTALK_SECRET}
    ids["dingtalk_app_id"] = (await call("POST", "/chat-apps", json=ding))["id"]
    calendars = (await call("GET", "/calendars"))["items"]
    ids["calendar_id"] = calendars[0]["id"]
    ids["spare_calendar_id"] = (await call("POST", "/calendars", json={"name": "spare"}))["id"]
    ids["policy_id"] = (await call("GET", "/sla/policies"))["items"][0]["id"]
    escalation = (await call("GET", "/escalation-policies"))["items"][0]
    ids["escalation_id"] = escalation["id"]
    ids["escalation_body"] = {"levels": escalation["levels"]}
    ids["spare_escalation_id"] = (
        await call("POST", "/escalation-policies", json={"name": "spare", "levels": escalation["levels"]})
    )["id"]
    template = await call("GET", "/workflow-templates/campaign_default")
    ids["template_body"] = {"name": "T", "stages": template["stages"]}
    first = template["stages"][0]
    ids["stage_key"] = first["key"]
    ids["item_key"] = next(iter(first.get("checklist") or [{"key": "x"}]))["key"]

    # A's items, made by A's member (the requester, owner or reporter) — the manager signs off.
    ids["campaign_id"] = (await call("POST", "/campaigns", "member_a", json={"name": "双十一", "budget": "100000"}))[
        "id"
    ]
    ids["rule_body"] = {
        "kind": "campaign",
        "priority": 1,
        "conditions": {"department_ids": [ids["dept_a"]]},
        "steps": [{"name": "asked", "mode": "one", "approvers": [f"user:{ids['asked_b']}"]}],
    }
    ids["rule_id"] = (await call("POST", "/approval-rules", json=ids["rule_body"] | {"name": "B asked"}))["id"]
    ids["approval_id"] = (
        await call("POST", "/approvals", "member_a", json={"kind": "campaign", "campaign_id": ids["campaign_id"]})
    )["id"]
    ids["workflow_campaign_id"] = (
        await call("POST", "/campaigns", "member_a", json={"name": "新品", "template_key": "campaign_default"})
    )["id"]
    ids["advanceable_campaign_id"] = await _advanceable(call, ids["stage_key"])
    ids["promotion_id"] = (
        await call(
            "POST",
            "/campaigns",
            "member_a",
            json={"name": "大促", "is_big_promotion": True, "start_date": "2027-06-01"},
        )
    )["id"]
    ids["task_id"] = (
        await call(
            "POST",
            "/tasks",
            "member_a",
            json={"title": "海报", "campaign_id": ids["campaign_id"], "assignee_id": ids["member_a"]},
        )
    )["id"]
    ids["feedback_id"] = (
        await call(
            "POST",
            "/feedback",
            "member_a",
            json={"kind": "complaint", "channel": "phone", "content": "慢", "owner_id": ids["member_a"]},
        )
    )["id"]
    review = await call("POST", "/reviews", "member_a", json={"title": "看稿", "reviewer_user_ids": [ids["asked_b"]]})
    ids["review_id"] = review["id"]
    ids["response_id"] = review["rounds"][0]["responses"][0]["id"]
    changes = await call("POST", "/reviews", "member_a", json={"title": "改稿", "reviewer_user_ids": [ids["asked_b"]]})
    ids["changes_review_id"] = changes["id"]
    await call(
        "POST",
        f"/reviews/{changes['id']}/responses/{changes['rounds'][0]['responses'][0]['id']}",
        "asked_b",
        json={"decision": "request_changes", "comment": "改一下"},
    )
    request = await call(
        "POST",
        "/collaboration-requests",
        "member_a",
        json={
            "matter": "数据支持",
            "collaborating_department_ids": [ids["dept_b"]],
            "owner_id": ids["asked_b"],
            "deadline": {"kind": "calendar", "value": "PT24H"},
        },
    )
    ids["request_id"] = request["id"]
    ids["occurrence_id"] = request["occurrences"][0]["id"]
    rect = {"title": "整改", "owner_id": ids["member_a"], "campaign_id": ids["campaign_id"]}
    ids["item_id"] = (await call("POST", "/rectifications", "member_a", json=rect))["id"]
    ids["started_rectification_id"] = (await call("POST", "/rectifications", "member_a", json=rect))["id"]
    await call("POST", f"/rectifications/{ids['started_rectification_id']}/start", "member_a")
    ids["done_rectification_id"] = (await call("POST", "/rectifications", "member_a", json=rect))["id"]
    await call("POST", f"/rectifications/{ids['done_rectification_id']}/start", "member_a")
    await call("POST", f"/rectifications/{ids['done_rectification_id']}/done", "member_a")
    ids["risk_body"] = {
        "title": "风险",
        "category": "market",
        "likelihood": "medium",
        "impact": "high",
        "owner_id": ids["member_a"],
        "strategy": "mitigate",
    }
    ids["risk_id"] = (
        await call("POST", "/risks", "member_a", json=ids["risk_body"] | {"campaign_id": ids["campaign_id"]})
    )["id"]
    kpi = {"metric_key": "leads", "target": "5000", "owner_id": ids["member_a"]}
    ids["kpi_id"] = (await call("POST", f"/campaigns/{ids['campaign_id']}/kpis", "member_a", json=kpi))["id"]
    await call(
        "POST", f"/campaigns/{ids['campaign_id']}/kpis/{ids['kpi_id']}/readings", "member_a", json={"value": "1"}
    )
    line = {"category": "media", "planned": "10000"}
    ids["line_id"] = (await call("POST", f"/campaigns/{ids['campaign_id']}/budget-lines", "member_a", json=line))["id"]
    ids["expense_id"] = (
        await call("POST", "/expenses", "member_a", json={"line_id": ids["line_id"], "amount": "500"})
    )["id"]
    approved = await call("POST", "/expenses", "member_a", json={"line_id": ids["line_id"], "amount": "600"})
    ids["approved_expense_id"] = approved["id"]
    await call("POST", f"/approvals/{approved['approval_id']}/decision", "manager_a", json={"decision": "approve"})
    goal = {"title": "线索", "metric": "leads", "target": "1000", "period": "2027", "department_id": ids["dept_a"]}
    ids["goal_id"] = (await call("POST", "/goals", "member_a", json=goal))["id"]
    approved_goal = (await call("POST", "/goals", "member_a", json=goal | {"title": "已批"}))["id"]
    ids["approved_goal_id"] = approved_goal
    goal_approval = await call("POST", f"/goals/{approved_goal}/approval", "member_a", json={})
    await call("POST", f"/approvals/{goal_approval['approval_id']}/decision", "manager_a", json={"decision": "approve"})
    ids["schedule_body"] = {
        "name": "A 周报",
        "kind": "weekly",
        "scope": "department",
        "department_id": ids["dept_a"],
        "channel_ids": [ids["channel_id"]],
    }
    ids["schedule_id"] = (await call("POST", "/report-schedules", "manager_a", json=ids["schedule_body"]))["id"]
    report = await call("POST", f"/report-schedules/{ids['schedule_id']}/run")
    report = report["report"]
    ids["report_id"] = report["id"]
    page = f"/api/v1/reports/{report['id']}.html"
    query = links.sign(page, expires_at=clock.now() + timedelta(days=1), secret=settings.secret_keys[0])
    ids["report_link"] = dict(part.split("=") for part in query.split("&"))
    query = links.sign(
        page_path("task", ids["task_id"]), expires_at=clock.now() + timedelta(days=1), secret=settings.secret_keys[0]
    )
    ids["item_link"] = dict(part.split("=") for part in query.split("&"))
    switch = {"event": "work.stage_advanced", "enabled": False, "channel_id": ids["channel_id"]}
    ids["subscription_id"] = (await call("POST", "/notification-subscriptions", json=switch))["id"]
    notifications = (await call("GET", "/notifications"))["items"]
    # The first: A's approval waiting for asked_b — read as its approval is (getApproval's row).
    assert (notifications[0]["subject_type"], notifications[0]["event_type"]) == (
        "approval_assignment",
        "work.approval_waiting",
    )
    ids["notification_id"] = notifications[0]["id"]
    async with sessions() as s:  # a dead letter, so that replaying it is possible
        await s.execute(text("UPDATE notifications SET status = 'dead' WHERE id = :id"), {"id": ids["notification_id"]})
        await s.commit()
    return w


async def _advanceable(call: Callable[..., Any], key: str) -> int:
    """A campaign whose first stage's gate is met: every deliverable attached, every item ticked."""
    campaign = await call("POST", "/campaigns", "member_a", json={"name": "可推进", "template_key": "campaign_default"})
    stages = (await call("GET", f"/campaigns/{campaign['id']}/stages", "member_a"))["items"]
    stage = next(s for s in stages if s["key"] == key)
    base = f"/campaigns/{campaign['id']}/stages/{key}"
    for unmet in stage["gate_unmet"]:
        kind, _, name = unmet["field"].partition(".")
        if kind == "deliverables":
            await call("POST", f"{base}/deliverables", "member_a", json={"title": name, "deliverable_key": name})
        elif kind == "checklist":
            await call("PUT", f"{base}/checklist/{name}", "member_a", json={"done": True, "note": "ok"})
    return int(campaign["id"])


PARAMS = {
    "department_id": "dept_a",
    "user_id": "member_a",
    "token_id": "spare_token",
    "campaign_id": "campaign_id",
    "kpi_id": "kpi_id",
    "line_id": "line_id",
    "expense_id": "expense_id",
    "review_id": "review_id",
    "response_id": "response_id",
    "rule_id": "rule_id",
    "approval_id": "approval_id",
    "request_id": "request_id",
    "occurrence_id": "occurrence_id",
    "feedback_id": "feedback_id",
    "task_id": "task_id",
    "item_id": "item_id",
    "risk_id": "risk_id",
    "schedule_id": "schedule_id",
    "report_id": "report_id",
    "goal_id": "goal_id",
    "calendar_id": "calendar_id",
    "policy_id": "policy_id",
    "channel_id": "channel_id",
    "notification_id": "notification_id",
    "subject_id": "campaign_id",
}


def _outcome(status: int) -> str:
    if 200 <= status < 300:
        return "2"
    return {401: "1", 403: "3", 404: "4", 409: "C", 422: "V"}.get(status, f"[{status}]")


@pytest.fixture
async def bound(app: Any, engine: Any) -> Any:
    """The app's sessions joined to one connection's transaction: every cell rolls back to a savepoint."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        original, settings = app.state.sessions, app.state.settings
        app.state.settings = settings.model_copy(
            update={
                "inbound_webhook_secret": SecretStr(INBOUND_SECRET),
                # testChatApp's vendor call is refused at once, never waits on the internet
                "feishu_api_base": "http://127.0.0.1:9",
                "dingtalk_api_base": "http://127.0.0.1:9",
            }
        )
        app.state.sessions = async_sessionmaker(
            bind=conn, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield conn
        finally:
            app.state.sessions, app.state.settings = original, settings
            await outer.rollback()


async def test_every_operation_as_every_caller_matches_the_permission_table(app, client, bound, clock):
    world = await _build(client, app.state.sessions, clock, app.state.settings)
    operations = [
        (method.upper(), path, op["operationId"])
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
    ]
    missing = [op_id for _, _, op_id in operations if op_id not in TABLE]
    assert not missing, f"operations without a row in the permission table: {missing}"

    got: dict[str, str] = {}
    details: dict[str, list[str]] = {}
    for method, path, op_id in operations:
        spec = CALLS.get(op_id, lambda w: {})(world)
        names = spec.get("path", {})
        url = path.format(**{k: names.get(k, world.ids.get(PARAMS.get(k, k))) for k in _params(path)})
        public = TABLE[op_id][0] == "P"
        row = ""
        for who in ("anonymous",) if public else CALLERS:
            nested = await bound.begin_nested()
            try:
                r = await client.request(
                    method,
                    url,
                    headers={**spec.get("headers", {}), **({} if public else world.headers(who))},
                    json=spec.get("json"),
                    content=spec.get("content"),
                    params=spec.get("params"),
                )
            finally:
                await nested.rollback()
            row += _outcome(r.status_code)
            details.setdefault(op_id, []).append(f"{who}: {r.status_code} {r.text[:160]}")
        if public and op_id in UNSIGNED:
            r = await client.request(method, url)
            if r.status_code != UNSIGNED[op_id]:
                row += f" unsigned: {r.status_code}"
        got[op_id] = "P" * len(CALLERS) if public and row == "2" else row
    wrong = {op: (TABLE[op], got[op]) for op in got if got[op] != TABLE[op]}
    report = "\n".join(
        f"{op}: want {want} got {have}\n  " + "\n  ".join(details[op]) for op, (want, have) in wrong.items()
    )
    assert not wrong, f"{len(wrong)} operations differ from the table:\n{report}"


def _params(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)
