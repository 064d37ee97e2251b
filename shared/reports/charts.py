"""SVG charts drawn on the server with matplotlib's SVG backend (docs/adr/0007-report-charts.md).

Text stays text (`svg.fonttype: none`): the reader's browser draws Chinese with its own fonts and
the file stays small. Each bar or cell carries an id (`gid`) naming what it shows, so the page's
tests (and a curious reader) can find it. Output is deterministic (fixed hash salt, no date).
matplotlib is imported here only: the API pays its import on the first report page, not at start.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure  # the object API: no pyplot state, safe per request
from matplotlib.patches import Rectangle

GRADES = ("high", "medium", "low")
# No RDF block (creator, date, format): smaller, deterministic, and no foreign URLs in the page.
NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
LEVEL_COLOURS = {"high": "#e5534b", "medium": "#f0a500", "low": "#57ab5a"}
RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "closeloop",
    "font.size": 9,
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "DejaVu Sans"],
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _style() -> Any:
    return matplotlib.rc_context(RC)  # type: ignore[arg-type]  # its stubs list every key as a Literal


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with _style(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CJK glyph metrics missing from the fallback font: layout only
        fig.savefig(buf, format="svg", metadata=NO_METADATA, bbox_inches="tight")
    text = buf.getvalue()
    # Inline in HTML: the XML declaration and DOCTYPE belong to a standalone file only.
    return text[text.index("<svg") :]


def _figure(rows: int) -> Figure:
    with _style():
        return Figure(figsize=(6.4, max(1.6, 0.45 * rows + 0.9)))


def risk_matrix(cells: Sequence[dict[str, Any]]) -> str:
    """The 3 × 3 heat map: likelihood (rows, high on top) × impact (columns, low → high), each
    cell coloured by its level, its shade by its count, the count written in it."""
    with _style():
        fig = Figure(figsize=(4.2, 3.6))
        ax = fig.add_subplot()
        by = {(c["likelihood"], c["impact"]): c for c in cells}
        peak = max([c["count"] for c in cells] + [1])
        impacts = ("low", "medium", "high")
        for row, lk in enumerate(GRADES):
            for col, im in enumerate(impacts):
                cell = by.get((lk, im), {"count": 0, "level": "low"})
                alpha = 0.25 + 0.75 * cell["count"] / peak
                rect = Rectangle(
                    (col, 2 - row), 1, 1, facecolor=LEVEL_COLOURS[cell["level"]], alpha=alpha, edgecolor="white"
                )
                rect.set_gid(f"cell-{lk}-{im}")
                ax.add_patch(rect)
                ax.text(col + 0.5, 2.5 - row, str(cell["count"]), ha="center", va="center", fontsize=12)
        ax.set_xlim(0, 3)
        ax.set_ylim(0, 3)
        ax.set_xticks([0.5, 1.5, 2.5], ["低 low", "中 medium", "高 high"])
        ax.set_yticks([2.5, 1.5, 0.5], ["高 high", "中 medium", "低 low"])
        ax.set_xlabel("影响 impact")
        ax.set_ylabel("可能性 likelihood")
        return _svg(fig)


def _hbars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str, str]],
    *,
    xlabel: str,
    reference: float | None = None,
) -> str:
    """Grouped horizontal bars: one group per label, one bar per series (name, values, colour,
    gid prefix); each bar's gid is `{prefix}-{index}`."""
    with _style():
        fig = _figure(len(labels) * max(1, len(series)))
        ax = fig.add_subplot()
        height = 0.8 / max(1, len(series))
        for s, (name, values, colour, prefix) in enumerate(series):
            ys = [i + s * height for i in range(len(labels))]
            bars = ax.barh(ys, [v or 0 for v in values], height=height, color=colour, label=name)
            for i, bar in enumerate(bars):
                bar.set_gid(f"{prefix}-{i}")
        ax.set_yticks([i + height * (len(series) - 1) / 2 for i in range(len(labels))], list(labels))
        ax.invert_yaxis()
        if reference is not None:
            ax.axvline(reference, color="#555", linestyle="--", linewidth=1)
        ax.set_xlabel(xlabel)
        if len(series) > 1:
            ax.legend(loc="lower right", fontsize=8, frameon=False)
        return _svg(fig)


def kpi_attainment(items: Sequence[dict[str, Any]]) -> str:
    """Each KPI's actual as a share of its target (the dashed line is 100 %)."""
    labels = [f"{i['name']} · {i['campaign']}" for i in items]
    values = [None if i["attainment"] is None else round(i["attainment"] * 100, 1) for i in items]
    return _hbars(labels, [("actual / target %", values, "#4c8bf5", "kpi")], xlabel="% of target", reference=100)


def budget_burn(items: Sequence[dict[str, Any]]) -> str:
    """Per campaign: planned budget against committed spend."""
    labels = [i["campaign"] for i in items]
    return _hbars(
        labels,
        [
            ("planned 预算", [i["planned"] for i in items], "#c9d6ea", "budget-planned"),
            ("spent 已支出", [i["spent"] for i in items], "#4c8bf5", "budget-spent"),
        ],
        xlabel=items[0]["currency"] if items else "",
    )


def stage_cycle(rows: Sequence[dict[str, Any]]) -> str:
    """Stage cycle time in working days against the stage's limit: rows like
    `{"stage": str, "mean_wd": float, "limit_wd": float | None}` (shared/analytics' stage table)."""
    labels = [r["stage"] for r in rows]
    return _hbars(
        labels,
        [
            ("mean 平均 (wd)", [r["mean_wd"] for r in rows], "#4c8bf5", "stage-mean"),
            ("limit 时限 (wd)", [r.get("limit_wd") for r in rows], "#e5534b", "stage-limit"),
        ],
        xlabel="working days 工作日",
    )
