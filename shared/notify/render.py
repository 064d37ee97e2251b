"""What a notification says, in the recipient's language, independent of the channel's format."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared import subjects  # noqa: F401 — every subject type is registered: labels come from its domain
from shared.notify.work import WorkEvent
from shared.sla import registry

SEVERITY_BY_EVENT: dict[str, str] = {
    "sla.warning": "warning",
    "sla.breach": "critical",
    "sla.escalation": "critical",
    "sla.resolved": "info",
    "channel.test": "info",
    "ops.channel_unhealthy": "critical",
    "budget.deviation": "warning",
    "budget.deviation_resolved": "info",
    "risk.raised_high": "critical",
    "report.ready": "info",
    **dict.fromkeys(WorkEvent, "info"),
    WorkEvent.complaint_received: "warning",
}
WORK_EVENTS = frozenset(WorkEvent)
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "sla.warning.title": "即将超时：{title}",
        "sla.breach.title": "已超时：{title}",
        "sla.escalation.title": "超时升级：{title}",
        "sla.resolved.title": "已解决：{title}",
        "item": "事项",
        "remaining": "剩余",
        "level": "升级级别",
        "notify": "通知",
        "late": "补发",
        "late_note": "服务中断期间到期，晚 {late} 发出",
        "past_when_set.created": "{overdue}（创建时已逾期）",
        "past_when_set.rescheduled": "{overdue}（改期时已逾期）",
        "resolved_after": "已完成，用时",
        "repeat": "第 {n} 次提醒",
        "fallback": "（代：{via}）",
        "channel.test.title": "Closeloop 测试消息",
        "channel.test.body": "这是一条来自 Closeloop 的测试消息。",
        "digest.title": "Closeloop 汇总：{n} 条提醒",
        "digest.critical": "（{n} 条已超时或升级）",
        "digest.open": "查看全部",
        "digest.count": "条",
        "budget.deviation.title": "预算偏离超过 5%：{what}",
        "budget.deviation_resolved.title": "预算偏离已回到 5% 以内：{what}",
        "budget.campaign": "全部预算",
        "budget.planned": "预算",
        "budget.committed": "已批准 + 已支付",
        "budget.deviation": "偏离",
        "risk.raised_high.title": "风险升为高：{title}",
        "risk.level": "等级",
        "risk.assessment": "可能性 × 影响",
        "risk.grade.high": "高",
        "risk.grade.medium": "中",
        "risk.grade.low": "低",
        "report.due_today": "今日到期",
        "report.overdue": "已逾期",
        "report.newly_breached": "新超时",
        "report.kpis_met": "KPI 达成",
        "report.budget_burn": "预算执行",
        "report.rectifications_opened": "新开整改",
        "report.rectifications_verified": "整改已验证",
        "report.risks_high": "高风险",
        "report.risks_open": "未关闭风险",
        "report.tasks_overdue_rate": "任务逾期率",
        "report.open": "查看报告",
        "ops.channel_unhealthy.title": "通知渠道异常：{name}",
        "ops.reason": "原因",
        "ops.since": "自",
        "ops.kind": "类型",
        "ops.held": "该渠道的消息已暂停发送，修复配置后自动恢复（或调用渠道测试接口）。",
        "owner": "负责人",
        "deadline": "截止时间",
        "overdue_by": "已逾期",
        "priority": "优先级",
        "campaign": "所属活动",
        "open": "查看详情",
        "unassigned": "未指派",
        "work.review_requested.title": "待你评审：{title}",
        "work.approval_waiting.title": "待你审批：{title}",
        "work.collaboration_received.title": "新协作请求：{title}",
        "work.complaint_received.title": "新客诉：{title}",
        "work.stage_advanced.title": "阶段推进：{title}",
        "work.campaign_completed.title": "活动完成：{title}",
        "work.decision_made.title": "已有结果：{title}",
        "work.by": "发起人",
        "work.decided_by": "决定人",
        "work.outcome": "结论",
        "work.outcome.approved": "通过",
        "work.outcome.rejected": "驳回",
        "work.outcome.changes_requested": "需修改",
        "work.reason": "理由",
        "work.stage": "阶段",
        "work.departments": "部门",
        "d": "天",
        "h": "小时",
        "m": "分钟",
        "s": "秒",
    },
    "en-US": {
        "sla.warning.title": "Due soon: {title}",
        "sla.breach.title": "Overdue: {title}",
        "sla.escalation.title": "Escalated: {title}",
        "sla.resolved.title": "Resolved: {title}",
        "item": "Item",
        "remaining": "Time left",
        "level": "Escalation level",
        "notify": "Notified",
        "late": "Late",
        "late_note": "fell due while the service was down; sent {late} late",
        "past_when_set.created": "{overdue} (already overdue when created)",
        "past_when_set.rescheduled": "{overdue} (already overdue when its due date was changed)",
        "resolved_after": "Done after",
        "repeat": "reminder #{n}",
        "fallback": " (standing in: {via})",
        "channel.test.title": "Closeloop test message",
        "channel.test.body": "This is a test message from Closeloop.",
        "digest.title": "Closeloop digest: {n} alerts",
        "digest.critical": " ({n} overdue or escalated)",
        "digest.open": "Open the full list",
        "digest.count": "",
        "budget.deviation.title": "Spend more than 5 % over budget: {what}",
        "budget.deviation_resolved.title": "Spend back within 5 % of budget: {what}",
        "budget.campaign": "whole budget",
        "budget.planned": "Planned",
        "budget.committed": "Approved + paid",
        "budget.deviation": "Deviation",
        "risk.raised_high.title": "Risk raised to high: {title}",
        "risk.level": "Level",
        "risk.assessment": "Likelihood × impact",
        "risk.grade.high": "high",
        "risk.grade.medium": "medium",
        "risk.grade.low": "low",
        "report.due_today": "Due today",
        "report.overdue": "Overdue",
        "report.newly_breached": "Newly breached",
        "report.kpis_met": "KPIs met",
        "report.budget_burn": "Budget spent",
        "report.rectifications_opened": "Rectifications opened",
        "report.rectifications_verified": "Rectifications verified",
        "report.risks_high": "High risks",
        "report.risks_open": "Open risks",
        "report.tasks_overdue_rate": "Tasks overdue",
        "report.open": "Open the report",
        "ops.channel_unhealthy.title": "Notification channel failing: {name}",
        "ops.reason": "Reason",
        "ops.since": "Since",
        "ops.kind": "Kind",
        "ops.held": "Messages to this channel are held until its configuration is fixed or a channel test succeeds.",
        "owner": "Owner",
        "deadline": "Deadline",
        "overdue_by": "Overdue by",
        "priority": "Priority",
        "campaign": "Campaign",
        "open": "Open",
        "unassigned": "unassigned",
        "work.review_requested.title": "Review requested: {title}",
        "work.approval_waiting.title": "Approval waiting: {title}",
        "work.collaboration_received.title": "Collaboration request: {title}",
        "work.complaint_received.title": "Complaint received: {title}",
        "work.stage_advanced.title": "Stage advanced: {title}",
        "work.campaign_completed.title": "Campaign completed: {title}",
        "work.decision_made.title": "Decided: {title}",
        "work.by": "Requested by",
        "work.decided_by": "Decided by",
        "work.outcome": "Outcome",
        "work.outcome.approved": "approved",
        "work.outcome.rejected": "rejected",
        "work.outcome.changes_requested": "changes requested",
        "work.reason": "Reason",
        "work.stage": "Stage",
        "work.departments": "Departments",
        "d": "d ",
        "h": "h ",
        "m": "m ",
        "s": "s",
    },
}
DEFAULT_LOCALE = "zh-CN"
# A sweep every second fires within a second or so of the moment; later than this, the worker
# really missed it (it was down or backed up) and the message says so.
LATE_NOTE_AFTER_S = 2.0
log = logging.getLogger(__name__)


@dataclass
class Mention:
    name: str
    feishu_open_id: str | None = None
    dingtalk_user_id: str | None = None
    mobile: str | None = None
    wecom_user_id: str | None = None


@dataclass
class Message:
    """A channel-neutral message: adapters turn it into each vendor's native format."""

    title: str
    severity: str  # info | warning | critical
    fields: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    url: str | None = None
    url_label: str | None = None
    mentions: list[Mention] = field(default_factory=list)


def humanize_seconds(seconds: float, locale: str) -> str:
    t = TEXTS.get(locale, TEXTS[DEFAULT_LOCALE])
    seconds = max(0, int(seconds))
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    parts = [f"{v}{t[u]}" for v, u in ((d, "d"), (h, "h"), (m, "m")) if v]
    if not parts or (not d and not h and s):
        parts.append(f"{s}{t['s']}")
    return "".join(parts).strip()


def format_local(iso: str | None, tz: ZoneInfo) -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def render(event_type: str, payload: dict[str, Any], *, locale: str | None, tz: ZoneInfo, sent_at: datetime) -> Message:
    """Turn an outbox payload into a Message in the given locale."""
    return _one_line(_render(event_type, payload, locale=locale, tz=tz, sent_at=sent_at))


def _one_line(message: Message) -> Message:
    """A title or field is one line whatever the user typed into it, so a digest's line per item
    stays one line and user text can never start one (where markdown reads headings and quotes)."""
    message.title = " ".join(message.title.splitlines())
    message.fields = [(k, " ".join(v.splitlines())) for k, v in message.fields]
    return message


def _render(
    event_type: str, payload: dict[str, Any], *, locale: str | None, tz: ZoneInfo, sent_at: datetime
) -> Message:
    loc = locale if locale in TEXTS else DEFAULT_LOCALE
    t = TEXTS[loc]
    severity = SEVERITY_BY_EVENT.get(event_type, "info")
    if event_type.startswith("sla."):
        return _render_sla(event_type, payload, t, loc, tz, sent_at, severity)
    if event_type == "channel.test":
        return Message(title=t["channel.test.title"], severity=severity, body=t["channel.test.body"])
    if event_type == "ops.channel_unhealthy":
        ch = payload["channel"]
        return Message(
            title=t["ops.channel_unhealthy.title"].format(name=ch["name"]),
            severity=severity,
            fields=[
                (t["ops.kind"], ch["kind"]),
                (t["ops.reason"], payload["reason"]),
                (t["ops.since"], format_local(payload["since"], tz)),
            ],
            body=t["ops.held"],
            url=payload.get("url"),
            url_label=t["open"],
        )
    if event_type.startswith("budget."):
        return _render_budget(event_type, payload, t, severity)
    if event_type == "risk.raised_high":
        return _render_risk(payload, t, severity)
    if event_type == "report.ready":
        return _render_report(payload, t, severity)
    if event_type in WORK_EVENTS:
        return _render_work(WorkEvent(event_type), payload, t, loc, tz, severity)
    return Message(title=event_type, severity=severity, body=str(payload)[:500])


def _mention(m: dict[str, Any]) -> Mention:
    return Mention(
        name=m["name"],
        feishu_open_id=m.get("feishu_open_id"),
        dingtalk_user_id=m.get("dingtalk_user_id"),
        mobile=m.get("mobile"),
        wecom_user_id=m.get("wecom_user_id"),
    )


def _render_budget(event_type: str, payload: dict[str, Any], t: dict[str, str], severity: str) -> Message:
    line = payload.get("line")
    part = (line.get("name") or line["category"]) if line else t["budget.campaign"]
    what = f"{payload['campaign']['name']} · {part}"
    deviation = payload.get("deviation")
    return Message(
        title=t[f"{event_type}.title"].format(what=what),
        severity=severity,
        fields=[
            (t["budget.planned"], f"{payload['currency']} {payload['planned']}"),
            (t["budget.committed"], f"{payload['currency']} {payload['committed']}"),
            (t["budget.deviation"], f"{Decimal(deviation) * 100:+.2f} %" if deviation is not None else "—"),
        ],
        mentions=[_mention(m) for m in payload.get("mentions", [])],
    )


def _render_risk(payload: dict[str, Any], t: dict[str, str], severity: str) -> Message:
    def grade(value: str | None) -> str:
        return t[f"risk.grade.{value}"] if value else "—"

    return Message(
        title=t["risk.raised_high.title"].format(title=payload["risk"]["title"]),
        severity=severity,
        fields=[
            (t["risk.level"], f"{grade(payload.get('from_level'))} → {grade(payload['level'])}"),
            (t["risk.assessment"], f"{grade(payload['likelihood'])} × {grade(payload['impact'])}"),
        ],
        mentions=[_mention(m) for m in payload.get("mentions", [])],
    )


def _render_report(payload: dict[str, Any], t: dict[str, str], severity: str) -> Message:
    """A report's chat card: its headline numbers and a button to its (signed) page."""
    subject = payload["subject"]
    fields = []
    for key, value in payload.get("headline", {}).items():
        if key in ("budget_burn", "tasks_overdue_rate"):
            value = "—" if value is None else f"{value * 100:.1f} %"
        fields.append((t.get(f"report.{key}", key), str(value)))
    return Message(
        title=subject["title"], severity=severity, fields=fields, url=subject.get("url"), url_label=t["report.open"]
    )


def _subject_link(subject: dict[str, Any]) -> str | None:
    """The page for people when the notifier added one (`page_url`), else the API's URL."""
    return subject.get("page_url") or subject.get("url")


def _render_work(
    event: WorkEvent, payload: dict[str, Any], t: dict[str, str], loc: str, tz: ZoneInfo, severity: str
) -> Message:
    """A work-arrival card: what arrived, for whom, by when, and a button to its page."""
    subject, campaign, by = payload["subject"], payload.get("campaign"), payload.get("by")
    title = campaign["name"] if event == WorkEvent.campaign_completed and campaign else subject["title"]
    fields = [(t["item"], f"{_type_label(subject, loc)}#{subject['id']} {subject['title']}")]
    if by:
        fields.append((t["work.decided_by" if event == WorkEvent.decision_made else "work.by"], by["name"]))
    if payload.get("outcome"):
        outcome = payload["outcome"]
        fields.append((t["work.outcome"], t.get(f"work.outcome.{outcome}", outcome)))
    if payload.get("reason"):
        fields.append((t["work.reason"], payload["reason"]))
    if payload.get("stage_from") or payload.get("stage_to"):
        stages = [s for s in (payload.get("stage_from"), payload.get("stage_to")) if s]
        fields.append((t["work.stage"], " → ".join(stages)))
    if payload.get("due_at"):
        fields.append((t["deadline"], format_local(payload["due_at"], tz)))
    if campaign and event != WorkEvent.campaign_completed:
        fields.append((t["campaign"], campaign["name"]))
    return Message(
        title=t[f"{event.value}.title"].format(title=title),
        severity=severity,
        fields=fields,
        url=_subject_link(subject),
        url_label=t["open"],
        mentions=[_mention(m) for m in payload.get("mentions", [])],
    )


def render_safely(
    event_type: str, payload: dict[str, Any], *, locale: str | None, tz: ZoneInfo, sent_at: datetime
) -> Message:
    """render(), but a payload it cannot read still goes out as a plain message: an odd payload
    must never cost the alert (the error is logged for us to fix)."""
    try:
        return render(event_type, payload, locale=locale, tz=tz, sent_at=sent_at)
    except Exception:
        log.exception("cannot render %s; sending it plain", event_type)
        text = json.dumps(payload, ensure_ascii=False, default=str)
        return Message(title=f"Closeloop: {event_type}", severity=SEVERITY_BY_EVENT.get(event_type, "info"), body=text)


def _render_sla(
    event_type: str,
    payload: dict[str, Any],
    t: dict[str, str],
    loc: str,
    tz: ZoneInfo,
    sent_at: datetime,
    severity: str,
) -> Message:
    subject = payload["subject"]
    due = datetime.fromisoformat(payload["timer"]["due_at"])
    assignee = payload.get("assignee")
    campaign = payload.get("campaign")
    # The level's moment had passed when its timer was set (created overdue, or moved into the
    # past): the worker missed nothing — no catch-up wording, no reminder number.
    past_when_set = payload.get("past_when_set")
    fields = [
        (t["item"], f"{_type_label(subject, loc)}#{subject['id']} {subject['title']}"),
        (t["owner"], assignee["name"] if assignee else t["unassigned"]),
        (t["deadline"], format_local(payload["timer"]["due_at"], tz)),
    ]
    if event_type == "sla.resolved":
        started = datetime.fromisoformat(payload["timer"]["started_at"])
        fields.append((t["resolved_after"], humanize_seconds((sent_at - started).total_seconds(), loc)))
    elif sent_at < due:
        fields.append((t["remaining"], humanize_seconds((due - sent_at).total_seconds(), loc)))
    else:
        overdue = humanize_seconds((sent_at - due).total_seconds(), loc)
        if past_when_set:
            overdue = t[f"past_when_set.{past_when_set}"].format(overdue=overdue)
        fields.append((t["overdue_by"], overdue))
    if subject.get("priority"):
        fields.append((t["priority"], subject["priority"]))
    if campaign:
        fields.append((t["campaign"], campaign["name"]))
    if event_type == "sla.escalation":
        fields.append((t["level"], str(payload["level"] + 1)))
    if payload.get("repeat") and not past_when_set:
        fields.append(("↻", t["repeat"].format(n=payload["repeat"])))
    names = []
    for r in payload.get("recipients", []):
        if "user_id" in r:
            names.append(r["name"] + (t["fallback"].format(via=r["via"]) if r.get("via") else ""))
    if names:
        fields.append((t["notify"], "、".join(names) if loc == "zh-CN" else ", ".join(names)))
    if payload.get("late_by_s", 0) >= LATE_NOTE_AFTER_S and not past_when_set:
        fields.append((t["late"], t["late_note"].format(late=humanize_seconds(payload["late_by_s"], loc))))
    mentions = [_mention(m) for m in payload.get("mentions", [])]
    return Message(
        title=t[f"{event_type}.title"].format(title=subject["title"]),
        severity=severity,
        fields=fields,
        url=_subject_link(subject),
        url_label=t["open"],
        mentions=mentions,
    )


def _type_label(subject: dict[str, Any], loc: str) -> str:
    """What kind of item it is, in the reader's language ("跨部门评审 #3 …"), as its domain
    registered it (a complaint says so). An unknown type is an error: render_safely sends it plain."""
    return f"{registry.get(subject['type']).label(loc, subject.get('tags') or ())} "


def ensure_keyword(text: str, keywords: list[str]) -> str:
    """Keyword-protected bots drop messages without one of their keywords: prefix the first."""
    if not keywords or any(k in text for k in keywords):
        return text
    return f"[{keywords[0]}] {text}"
