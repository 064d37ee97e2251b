"""The report page's pieces without a database: the process section's chart (rows as
shared/analytics gives them) and escaping of everything a snapshot carries."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from shared.reports import charts
from shared.reports.render import page

SVG = "{http://www.w3.org/2000/svg}"


def bar_ids(svg: str, prefix: str) -> list[str]:
    root = ET.fromstring(svg)  # well-formed XML on its own
    return sorted(e.get("id", "") for e in root.iter() if e.get("id", "").startswith(prefix))


def test_stage_cycle_chart_draws_a_mean_and_a_limit_bar_per_stage():
    rows = [
        {"stage": "调研 research", "mean_wd": 3.5, "limit_wd": 3.0},
        {"stage": "策划 plan", "mean_wd": 4.0, "limit_wd": 5.0},
        {"stage": "执行 execution", "mean_wd": 9.0, "limit_wd": None},  # "per plan": no limit bar length
    ]
    svg = charts.stage_cycle(rows)
    assert bar_ids(svg, "stage-mean-") == ["stage-mean-0", "stage-mean-1", "stage-mean-2"]
    assert bar_ids(svg, "stage-limit-") == ["stage-limit-0", "stage-limit-1", "stage-limit-2"]
    texts = "".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text"))
    assert "调研 research" in texts and "执行 execution" in texts  # text stays text (svg.fonttype none)


def test_a_process_section_is_drawn_and_snapshot_text_is_escaped():
    snapshot = {
        "title": "周报 <script>alert(1)</script>",
        "period": {"key": "2026-W41", "start": "2026-10-05", "end": "2026-10-11"},
        "previous_period": "2026-W40",
        "process": {
            "stages": [
                {
                    "template": "campaign_default",
                    "stage": "评审 <b>review</b>",
                    "count": 4,
                    "mean_wd": 2.5,
                    "limit_wd": 2.0,
                    "breach_rate": 0.5,
                }
            ],
            "bottlenecks": [{"stage": "评审 <b>review</b>", "template": "campaign_default", "cycle_to_limit": 1.25}],
            "current": {"tasks": 40, "overdue_rate": 0.125, "on_time_rate": 0.8, "sla_compliance": 0.9},
            "previous": {"tasks": 30, "overdue_rate": 0.3, "on_time_rate": 0.6, "sla_compliance": None},
            "change": {"overdue_rate": -0.175, "on_time_rate": 0.2, "sla_compliance": None},
        },
    }
    html = page(snapshot)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>review</b>" not in html and "&lt;b&gt;review&lt;/b&gt; ×1.25" in html
    assert html.count("<svg") == 1 and 'id="stage-mean-0"' in html
    # seed 001's goal, read at a glance: overdue 30 % → 12.5 %, a drop of 17.5 points
    assert "12.5 %" in html and "30.0 %" in html and '<span class="down">-17.5</span>' in html
