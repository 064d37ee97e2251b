"""A report's page: server-rendered HTML with inline SVG charts, no JavaScript, no external
resources; readable on a phone (viewport meta, one narrow column, inline CSS). Every value from
the snapshot is escaped."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from types import ModuleType
from typing import Any


def _charts() -> ModuleType:
    """matplotlib is imported with the first page drawn, not when the API starts (ADR 0007)."""
    from shared.reports import charts

    return charts


CSS = """
body{font-family:-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;
padding:12px;color:#1f2328;background:#f6f8fa;line-height:1.5}
main{max-width:760px;margin:0 auto}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px;margin:12px 0}
h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.1em;margin:.2em 0 .5em}
table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{padding:4px 6px;border-bottom:1px solid #eee;text-align:left}
td.n,th.n{text-align:right}.muted{color:#656d76;font-size:.85em}.up{color:#1a7f37}.down{color:#cf222e}
figure{margin:8px 0;overflow-x:auto}figure svg{max-width:100%;height:auto}
ul{padding-left:1.2em}a{color:#0969da}
"""


def _e(v: Any) -> str:
    return escape("—" if v is None else str(v))


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".")
    return str(v)


def _delta(v: float | int | None) -> str:
    if v is None or v == 0:
        return '<span class="muted">±0</span>' if v == 0 else "—"
    cls = "up" if v > 0 else "down"
    return f'<span class="{cls}">{"+" if v > 0 else ""}{escape(_fmt(v))}</span>'


def _table(head: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    ths = "".join(f"<th{' class=n' if i >= numeric_from else ''}>{escape(h)}</th>" for i, h in enumerate(head))
    trs = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i >= numeric_from else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"


def _figure(svg: str, caption: str) -> str:
    return (
        f'<figure aria-label="{escape(caption)}">{svg}<figcaption class="muted">{escape(caption)}</figcaption></figure>'
    )


def _kpis(s: dict[str, Any]) -> str:
    rows = [
        [
            f"{_e(i['name'])} <span class=muted>{_e(i['campaign'])}</span>",
            _e(_fmt(i["target"])),
            _e(_fmt(i["actual"])),
            _delta(i["change"]),
            _e("—" if i["attainment"] is None else f"{i['attainment'] * 100:.1f} %"),
        ]
        for i in s["items"]
    ]
    chart = _figure(_charts().kpi_attainment(s["items"]), "KPI 达成率 actual vs target") if s["items"] else ""
    return (
        f"<h2>KPI 目标达成 <span class=muted>{s['met']}/{s['total']} met</span></h2>"
        + _table(["KPI", "目标 target", "实际 actual", "环比 change", "达成 %"], rows)
        + chart
    )


def _budget(s: dict[str, Any]) -> str:
    rows = [
        [
            _e(i["campaign"]),
            _e(_fmt(i["planned"])),
            _e(_fmt(i["spent"])),
            _e(_fmt(i["spent_in_period"])),
            _delta(i["change"]),
        ]
        for i in s["items"]
    ]
    burn = "—" if s["burn"] is None else f"{s['burn'] * 100:.1f} %"
    chart = _figure(_charts().budget_burn(s["items"]), "预算执行 budget burn") if s["items"] else ""
    return (
        f"<h2>预算执行 <span class=muted>{escape(burn)}</span></h2>"
        + _table(["活动 campaign", "预算 planned", "已支出 spent", "本期 in period", "环比 change"], rows)
        + chart
    )


def _rectifications(s: dict[str, Any]) -> str:
    rows = [
        ["新开 opened", _e(s["opened"]), _e(s["opened_previous"]), _delta(s["opened_change"])],
        ["已验证 verified", _e(s["verified"]), _e(s["verified_previous"]), _delta(s["verified_change"])],
    ]
    return (
        "<h2>整改措施 Rectification items</h2>"
        + _table(["", "本期 this period", "上期 previous", "环比 change"], rows)
        + f"<p class=muted>期末未关闭 open at the period's end: {_e(s['open_at_end'])}</p>"
    )


def _risks(s: dict[str, Any]) -> str:
    rows = [
        [_e(x["level"]), _e(x["open"]), _e(x["raised"]), _e(x["raised_previous"]), _delta(x["change"])]
        for x in s["levels"]
    ]
    return (
        f"<h2>风险 Risks <span class=muted>{s['open']} open</span></h2>"
        + _table(["等级 level", "未关闭 open", "本期新增 raised", "上期 previous", "环比 change"], rows)
        + _figure(_charts().risk_matrix(s["matrix"]), "风险矩阵 risk matrix (likelihood × impact)")
    )


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f} %"


def _pct_delta(v: float | None) -> str:
    return _delta(None if v is None else round(v * 100, 1))


def _process(s: dict[str, Any]) -> str:
    if "current" not in s:
        return "<h2>流程 Process</h2>" + (f"<p class=muted>{_e(s.get('note'))}</p>" if s.get("note") else "")
    rows = s.get("stages") or []
    now, before, change = s["current"], s["previous"], s["change"]
    rates = [
        [escape(label), _e(_pct(now[key])), _e(_pct(before[key])), _pct_delta(change[key])]
        for key, label in (
            ("overdue_rate", "任务逾期率 task overdue rate"),
            ("on_time_rate", "按时完成率 on-time completion"),
            ("sla_compliance", "SLA 达标率 SLA compliance"),
        )
    ]
    stages = [
        [
            f"{_e(r['stage'])} <span class=muted>{_e(r['template'])}</span>",
            _e(r["count"]),
            _e(_fmt(r["mean_wd"])),
            _e(_fmt(r["limit_wd"])),
            _e(_pct(r["breach_rate"])),
        ]
        for r in rows
    ]
    worst = ", ".join(f"{b['stage']} ×{b['cycle_to_limit']:.2f}" for b in s.get("bottlenecks", []))
    return (
        f"<h2>流程 Process <span class=muted>{_e(now['tasks'])} tasks due</span></h2>"
        + _table(["", "本期 this period", "上期 previous", "环比 change (pp)"], rates)
        + (
            _table(["阶段 stage", "完成 done", "平均 mean wd", "时限 limit wd", "超时率 breach"], stages)
            + _figure(_charts().stage_cycle(rows), "阶段周期 vs 时限 stage cycle time (working days)")
            if rows
            else "<p class=muted>本期无阶段完成 no stage finished in this period</p>"
        )
        + (f"<p>瓶颈 bottlenecks (cycle ÷ limit): {escape(worst)}</p>" if worst else "")
    )


# A section's HTML by its name in the snapshot; a section without one is shown as a table of its numbers.
SECTION_HTML: dict[str, Callable[[dict[str, Any]], str]] = {
    "kpis": _kpis,
    "budget": _budget,
    "process": _process,
    "rectifications": _rectifications,
    "risks": _risks,
}


def _standup(s: dict[str, Any], link: Callable[[str], str]) -> str:
    parts = []
    names = {"due_today": "今日到期 due today", "overdue": "已逾期 overdue", "newly_breached": "新超时 newly breached"}
    for card in s["departments"]:
        blocks = []
        for key, title in names.items():
            items = "".join(
                f'<li><a href="{escape(link(i["path"]))}">{_e(i["label"])} #{_e(i["id"])} {_e(i["title"])}</a>'
                f" <span class=muted>{_e(i['assignee'])}</span></li>"
                for i in card[key]
            )
            blocks.append(f"<h3>{escape(title)} · {card['counts'][key]}</h3><ul>{items}</ul>")
        waiting = "".join(f"<li>{_e(w['name'])}: {_e(w['count'])}</li>" for w in card["waiting_on"])
        blocks.append(f"<h3>等待处理 waiting on</h3><ul>{waiting}</ul>")
        parts.append(f"<section><h2>{_e(card['department'])}</h2>{''.join(blocks)}</section>")
    return "".join(parts)


def page(snapshot: dict[str, Any], *, link: Callable[[str], str] = lambda p: p) -> str:
    """The whole HTML document of a report; `link` turns an item's API path into a URL."""
    title = escape(snapshot["title"])
    period = snapshot["period"]
    head = (
        f"<section><h1>{title}</h1><p class=muted>{_e(period['start'])} – {_e(period['end'])} · "
        f"上期 previous: {_e(snapshot.get('previous_period'))} · {_e(snapshot.get('generated_at'))}</p></section>"
    )
    if "standup" in snapshot:
        body = _standup(snapshot["standup"], link)
    else:
        body = "".join(
            f"<section>{SECTION_HTML[name](snapshot[name])}</section>"
            for name in SECTION_HTML
            if isinstance(snapshot.get(name), dict)
        )
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head><body><main>{head}{body}</main></body></html>"
    )
