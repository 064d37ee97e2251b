"""A workflow template's stages are data: validated here, field errors naming stage and field.

A stage: `{key, name, name_en?, owner_role?, inputs?, deliverables?, time_limit?, checklist?,
requires?, requires_approval_to_enter?, requires_roi_estimate?}` — `deliverables` is a list of
`{key, name}`, `checklist` of `{key, text, derived?}` (a `derived` item is computed from data,
e.g. `review_on_time`, and never ticked by hand), `time_limit` an SLA target `{kind, value}` (any kind: calendar,
working_hours, working_days, daily_at; absent means "per plan", no timer), `requires` is `review`
or `approval` (the stage's gate waits for it), and `requires_approval_to_enter` makes the previous
stage's gate wait for this stage's approval (assets approved before launch).
`requires_roi_estimate` makes the stage's gate wait for a big promotion's ROI estimate (大促 ROI 测算报告,
`shared.roi`); a campaign not flagged as a big promotion passes.
`min_rectifications: N` makes the stage's gate wait for N rectification items of the campaign with
source `retrospective` (real items, not a tick box).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from shared.calendar import CalendarError, Target
from shared.errors import FieldError, InvalidInput

KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
STAGE_FIELDS = {
    "key",
    "name",
    "name_en",
    "owner_role",
    "inputs",
    "deliverables",
    "time_limit",
    "checklist",
    "requires",
    "requires_approval_to_enter",
    "requires_roi_estimate",
    "min_rectifications",
}
REQUIRES = ("review", "approval")


class DerivedRule(StrEnum):
    """Checklist items the gate computes from data instead of a hand tick."""

    # Every reviewer of the stage's latest review answered within its own feedback timer.
    review_on_time = "review_on_time"


MAX_STAGES = 30


class SpecError(InvalidInput):
    pass


def _fail(field: str, message: str) -> SpecError:
    return SpecError(f"{field}: {message}", errors=[FieldError(field, message)])


def _text(raw: Any, field: str, *, required: bool = True, max_len: int = 200) -> str | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(field, "must be a non-empty string")
    if len(raw) > max_len:
        raise _fail(field, f"at most {max_len} characters")
    return raw.strip()


def _keyed_items(raw: Any, field: str, label: str, *, derivable: bool = False) -> list[dict[str, str]]:
    if raw is None:
        return []
    optional = {"derived"} if derivable else set()
    shape = f"{{key, {label}{', derived?' if derivable else ''}}}"
    if not isinstance(raw, list):
        raise _fail(field, f"must be a list of {shape} objects")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        f = f"{field}[{i}]"
        if not isinstance(item, dict) or set(item) - {"key", label, *optional}:
            raise _fail(f, f"must be an object {shape}")
        key = item.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            raise _fail(f"{f}.key", "must be lower_snake_case, starting with a letter")
        if key in seen:
            raise _fail(f"{f}.key", f"{key!r} appears twice")
        seen.add(key)
        parsed = {"key": key, label: _text(item.get(label), f"{f}.{label}", max_len=500) or ""}
        if item.get("derived") is not None:
            if item["derived"] not in tuple(DerivedRule):
                raise _fail(f"{f}.derived", f"must be one of {', '.join(DerivedRule)} (or absent)")
            parsed["derived"] = item["derived"]
        out.append(parsed)
    return out


def parse_stage(raw: Any, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(field, "must be an object")
    if unknown := set(raw) - STAGE_FIELDS:
        raise _fail(f"{field}.{sorted(unknown)[0]}", "unknown field")
    key = raw.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        raise _fail(f"{field}.key", "must be lower_snake_case, starting with a letter")
    inputs = raw.get("inputs") or []
    if not isinstance(inputs, list) or not all(isinstance(x, str) and x.strip() for x in inputs):
        raise _fail(f"{field}.inputs", "must be a list of names")
    limit = raw.get("time_limit")
    time_limit = None
    if limit is not None:
        if not isinstance(limit, dict) or set(limit) != {"kind", "value"}:
            raise _fail(f"{field}.time_limit", "must be {kind, value}, e.g. {kind: working_days, value: 3}")
        try:
            target = Target.parse(str(limit["kind"]), limit["value"], field="value")
        except CalendarError as exc:
            raise _fail(f"{field}.time_limit.{exc.field}", exc.message) from None
        time_limit = {"kind": target.kind.value, "value": target.value}
    requires = raw.get("requires")
    if requires is not None and requires not in REQUIRES:
        raise _fail(f"{field}.requires", f"must be one of {', '.join(REQUIRES)} (or absent)")
    to_enter = raw.get("requires_approval_to_enter", False)
    if not isinstance(to_enter, bool):
        raise _fail(f"{field}.requires_approval_to_enter", "must be true or false")
    roi_estimate = raw.get("requires_roi_estimate", False)
    if not isinstance(roi_estimate, bool):
        raise _fail(f"{field}.requires_roi_estimate", "must be true or false")
    min_rect = raw.get("min_rectifications")
    if min_rect is not None and (
        isinstance(min_rect, bool) or not isinstance(min_rect, int) or not 0 <= min_rect <= 100
    ):
        raise _fail(f"{field}.min_rectifications", "must be a whole number from 0 to 100 (or absent)")
    return {
        "key": key,
        "name": _text(raw.get("name"), f"{field}.name"),
        "name_en": _text(raw.get("name_en"), f"{field}.name_en", required=False),
        "owner_role": _text(raw.get("owner_role"), f"{field}.owner_role", required=False),
        "inputs": [x.strip() for x in inputs],
        "deliverables": _keyed_items(raw.get("deliverables"), f"{field}.deliverables", "name"),
        "time_limit": time_limit,
        "checklist": _keyed_items(raw.get("checklist"), f"{field}.checklist", "text", derivable=True),
        "requires": requires,
        "requires_approval_to_enter": to_enter,
        "requires_roi_estimate": roi_estimate,
        **({"min_rectifications": min_rect} if min_rect else {}),
    }


def parse_stages(raw: Any, field: str = "stages") -> list[dict[str, Any]]:
    """Validate a whole stage list: each stage, unique keys, at least one stage."""
    if not isinstance(raw, list) or not raw:
        raise _fail(field, "must be a non-empty list of stages")
    if len(raw) > MAX_STAGES:
        raise _fail(field, f"at most {MAX_STAGES} stages")
    stages = [parse_stage(item, f"{field}[{i}]") for i, item in enumerate(raw)]
    if stages[0]["requires_approval_to_enter"]:
        raise _fail(
            f"{field}[0].requires_approval_to_enter",
            "the first stage starts with the campaign: nothing gates entering it",
        )
    seen: dict[str, int] = {}
    for i, stage in enumerate(stages):
        if stage["key"] in seen:
            raise _fail(f"{field}[{i}].key", f"{stage['key']!r} is already stage {seen[stage['key']]}")
        seen[stage["key"]] = i
    return stages
