"""What a notification says, in the recipient's language, independent of the channel's format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SEVERITY_BY_EVENT = {"task.overdue": "critical", "channel.test": "info"}

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "task.overdue.title": "任务逾期：{title}",
        "channel.test.title": "Closeloop 测试消息",
        "channel.test.body": "这是一条来自 Closeloop 的测试消息。",
        "task": "任务",
        "owner": "负责人",
        "deadline": "截止时间",
        "overdue_by": "已逾期",
        "priority": "优先级",
        "campaign": "所属活动",
        "open": "查看任务",
        "unassigned": "未指派",
        "d": "天",
        "h": "小时",
        "m": "分钟",
        "s": "秒",
    },
    "en-US": {
        "task.overdue.title": "Task overdue: {title}",
        "channel.test.title": "Closeloop test message",
        "channel.test.body": "This is a test message from Closeloop.",
        "task": "Task",
        "owner": "Owner",
        "deadline": "Deadline",
        "overdue_by": "Overdue by",
        "priority": "Priority",
        "campaign": "Campaign",
        "open": "Open task",
        "unassigned": "unassigned",
        "d": "d ",
        "h": "h ",
        "m": "m ",
        "s": "s",
    },
}
DEFAULT_LOCALE = "zh-CN"


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
    loc = locale if locale in TEXTS else DEFAULT_LOCALE
    t = TEXTS[loc]
    severity = SEVERITY_BY_EVENT.get(event_type, "info")
    if event_type == "task.overdue":
        task = payload["task"]
        assignee = payload.get("assignee")
        campaign = payload.get("campaign")
        due = datetime.fromisoformat(task["due_at"])
        fields = [
            (t["task"], f"#{task['id']} {task['title']}"),
            (t["owner"], assignee["name"] if assignee else t["unassigned"]),
            (t["deadline"], format_local(task["due_at"], tz)),
            (t["overdue_by"], humanize_seconds((sent_at - due).total_seconds(), loc)),
            (t["priority"], task["priority"]),
        ]
        if campaign:
            fields.append((t["campaign"], campaign["name"]))
        mentions = (
            [
                Mention(
                    name=assignee["name"],
                    feishu_open_id=assignee.get("feishu_open_id"),
                    dingtalk_user_id=assignee.get("dingtalk_user_id"),
                    mobile=assignee.get("mobile"),
                    wecom_user_id=assignee.get("wecom_user_id"),
                )
            ]
            if assignee
            else []
        )
        return Message(
            title=t["task.overdue.title"].format(title=task["title"]),
            severity=severity,
            fields=fields,
            url=task.get("url"),
            url_label=t["open"],
            mentions=mentions,
        )
    if event_type == "channel.test":
        return Message(title=t["channel.test.title"], severity=severity, body=t["channel.test.body"])
    return Message(title=event_type, severity=severity, body=str(payload)[:500])


def ensure_keyword(text: str, keywords: list[str]) -> str:
    """Keyword-protected bots drop messages without one of their keywords: prefix the first."""
    if not keywords or any(k in text for k in keywords):
        return text
    return f"[{keywords[0]}] {text}"
