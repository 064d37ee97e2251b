"""An item's page: server-rendered HTML, no JavaScript, no external resources, readable on a phone
inside Feishu or DingTalk (viewport meta, one narrow column, inline CSS). Every value is escaped."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from shared.notify.render import humanize_seconds
from shared.pages.service import ItemView
from shared.trail.service import TrailEntry

CSS = """
body{font-family:-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;
padding:12px;color:#1f2328;background:#f6f8fa;line-height:1.5}
main{max-width:640px;margin:0 auto}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px;margin:12px 0}
h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.05em;margin:.2em 0 .5em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}dt{color:#656d76}dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{padding:4px 6px;border-bottom:1px solid #eee;text-align:left}
ol{padding-left:1.2em;margin:0}li{margin:.3em 0}.muted{color:#656d76;font-size:.85em}
.late{color:#cf222e;font-weight:600}.ok{color:#1a7f37}
"""
STATES = {"running": "进行中 running", "paused": "已暂停 paused", "met": "已完成 met", "cancelled": "已取消 cancelled"}


def _e(v: Any) -> str:
    return escape("—" if v is None or v == "" else str(v))


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if at is not None else "—"


def _timer_row(t: dict[str, Any], tz: ZoneInfo) -> str:
    state = STATES.get(t["state"], t["state"])
    if t["state"] in ("running", "paused") and t["seconds_to_due"] is not None:
        left = t["seconds_to_due"]
        if left < 0:
            when = f'<span class="late">已逾期 overdue {escape(humanize_seconds(-left, "zh-CN"))}</span>'
        else:
            when = f'<span class="ok">剩余 left {escape(humanize_seconds(left, "zh-CN"))}</span>'
    elif t["breached"]:
        when = '<span class="late">曾超时 was late</span>'
    else:
        when = ""
    return f"<tr><td>{_e(state)}</td><td>{_e(_local(t['due_at'], tz))}</td><td>{when}</td></tr>"


def _trail_line(entry: TrailEntry, tz: ZoneInfo) -> str:
    who = entry.actor_name or entry.actor or "system"
    text = ""
    if entry.kind == "comment":
        text = f": {_e(entry.details.get('body'))}"
    elif entry.kind == "escalation":
        text = f" ({_e(entry.details.get('subject_type'))} #{_e(entry.details.get('subject_id'))})"
    return f'<li><span class="muted">{_e(_local(entry.at, tz))}</span> {_e(who)} · <b>{_e(entry.action)}</b>{text}</li>'


def page(view: ItemView, *, tz: ZoneInfo) -> str:
    """The whole page: what it is, whose, by when, where its clock stands, and what happened."""
    s = view.subject
    label = view.spec.label("zh-CN", s.tags)
    label_en = view.spec.label("en-US", s.tags)
    facts = [
        ("状态 Status", s.status),
        ("负责人 Owner", view.owner),
        ("部门 Department", view.department),
        ("所属活动 Campaign", view.campaign),
        ("优先级 Priority", s.priority),
    ]
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    if view.timers:
        rows = "".join(_timer_row(t, tz) for t in view.timers)
        sla = (
            "<table><thead><tr><th>状态 State</th><th>截止时间 Deadline</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        sla = '<p class="muted">没有计时 No deadline</p>'
    entries = "".join(_trail_line(e, tz) for e in reversed(view.trail))
    trail = f"<ol>{entries}</ol>" if entries else '<p class="muted">暂无记录 Nothing yet</p>'
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(s.title)}</title><style>{CSS}</style></head><body><main>"
        f'<section><p class="muted">{_e(label)} {_e(label_en)} #{s.id}</p><h1>{_e(s.title)}</h1>'
        f"<dl>{dl}</dl></section>"
        f'<section id="sla"><h2>截止与计时 Deadline &amp; SLA</h2>{sla}</section>'
        f'<section id="trail"><h2>留痕 Trail</h2>{trail}</section>'
        "</main></body></html>"
    )
