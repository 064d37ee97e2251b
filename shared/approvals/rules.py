"""Approval rules: which chain of steps an approval gets (分级审批, 双签), validated before writing."""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import archive, crud
from shared.actor import Actor
from shared.approvals.schemas import ApprovalRuleCreate, ApprovalRuleUpdate
from shared.archive import Disposal
from shared.calendar import CalendarError, Target
from shared.errors import Conflict, FieldError, InvalidInput, must_be_one_of
from shared.models import ApprovalKind, ApprovalRule, Campaign, Department, StepMode, User

RULE_FIELDS = ("name", "description", "kind", "priority", "conditions", "steps", "enabled")
CONDITION_KEYS = ("budget_over", "major", "stage_keys", "department_ids", "company_wide", "line_overrun_pct_over")
STEP_KEYS = ("name", "mode", "approvers", "time_limit")
# Approvers resolved against the approval: the campaign's department head, its owner, the
# requester's manager, and the requester's manager's manager.
ROLE_SPECS = ("department_head", "campaign_owner", "requester_manager", "director")
REF_SPEC = re.compile(r"^(user|department):(\d+)$")
MAX_STEPS = 10
MAX_APPROVERS = 20


def _bad(field: str, message: str, type: str = "invalid") -> InvalidInput:
    return InvalidInput.for_field(field, message, type)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _id_list(raw: Any, field: str) -> list[int]:
    if not isinstance(raw, list) or not raw:
        raise _bad(field, "must be a non-empty list of ids")
    for i, item in enumerate(raw):
        if not isinstance(item, int) or isinstance(item, bool) or item < 1:
            raise _bad(f"{field}[{i}]", "must be a positive integer id")
    return list(dict.fromkeys(raw))


async def _validate_conditions(session: AsyncSession, raw: dict[str, Any], kind: ApprovalKind) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        field = f"conditions.{key}"
        if key not in CONDITION_KEYS:
            raise _bad(field, f"unknown condition; allowed: {', '.join(CONDITION_KEYS)}")
        if key == "budget_over":
            if not _is_number(value) or not math.isfinite(value) or value < 0 or value >= 10**12:
                raise _bad(field, "must be a number ≥ 0")
            out[key] = int(value) if value == int(value) else float(value)  # JSON-safe
        elif key == "line_overrun_pct_over":
            if kind != ApprovalKind.expense:
                raise _bad(field, "only applies to rules of kind expense")
            if not _is_number(value) or not math.isfinite(value) or not 0 <= value < 10**6:
                raise _bad(field, "must be a percentage ≥ 0")
            out[key] = int(value) if value == int(value) else float(value)  # JSON-safe
        elif key == "major":
            if value is not True:
                raise _bad(field, "must be true (matches campaigns flagged major)")
            out[key] = True
        elif key == "company_wide":
            if value is not True:
                raise _bad(field, "must be true (matches items of no department: company goals)")
            out[key] = True
        elif key == "stage_keys":
            if kind != ApprovalKind.stage:
                raise _bad(field, "only applies to rules of kind stage")
            if not isinstance(value, list) or not value:
                raise _bad(field, "must be a non-empty list of stage keys")
            for i, item in enumerate(value):
                if not isinstance(item, str) or not item.strip():
                    raise _bad(f"{field}[{i}]", "must be a stage key")
            out[key] = list(dict.fromkeys(value))
        else:
            ids = _id_list(value, field)
            if missing := await crud.missing_ids(session, Department, ids):
                i = ids.index(missing[0])
                raise _bad(f"{field}[{i}]", f"department {missing[0]} does not exist", "reference")
            out[key] = ids
    return out


async def _validate_approver(session: AsyncSession, spec: Any, field: str) -> str:
    if not isinstance(spec, str):
        raise _bad(field, "must be a string approver spec")
    spec = spec.strip()
    if spec in ROLE_SPECS:
        return spec
    m = REF_SPEC.match(spec)
    if m is None:
        raise _bad(field, f"{spec!r} is not an approver; use {', '.join(ROLE_SPECS)}, user:<id> or department:<id>")
    model: type[User] | type[Department] = User if m.group(1) == "user" else Department
    if await session.get(model, int(m.group(2))) is None:
        raise _bad(field, f"{m.group(1)} {m.group(2)} does not exist", "reference")
    return spec


async def _validate_steps(session: AsyncSession, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not (1 <= len(raw) <= MAX_STEPS):
        raise _bad("steps", f"must be a list of 1 to {MAX_STEPS} steps")
    steps: list[dict[str, Any]] = []
    for i, step in enumerate(raw):
        field = f"steps[{i}]"
        for key in step:
            if key not in STEP_KEYS:
                raise _bad(f"{field}.{key}", f"unknown field; allowed: {', '.join(STEP_KEYS)}")
        name = step.get("name")
        if name is None:
            name = f"第 {i + 1} 步 Step {i + 1}"
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise _bad(f"{field}.name", "must be a name of 1 to 200 characters")
        try:
            mode = StepMode(step.get("mode", StepMode.one))
        except ValueError:
            raise _bad(f"{field}.mode", must_be_one_of(m.value for m in StepMode)) from None
        approvers = step.get("approvers")
        if not isinstance(approvers, list) or not approvers or len(approvers) > MAX_APPROVERS:
            raise _bad(f"{field}.approvers", f"must be a list of 1 to {MAX_APPROVERS} approver specs")
        if mode == StepMode.one and len(approvers) != 1:
            raise _bad(f"{field}.approvers", "mode one takes exactly one approver; use all or any for several")
        specs = [await _validate_approver(session, a, f"{field}.approvers[{j}]") for j, a in enumerate(approvers)]
        time_limit = step.get("time_limit")
        if time_limit is not None:
            if not isinstance(time_limit, dict) or set(time_limit) - {"kind", "value"}:
                raise _bad(f"{field}.time_limit", "must be an object {kind, value}")
            try:
                target = Target.parse(time_limit.get("kind", ""), time_limit.get("value", ""), field="value")
            except CalendarError as exc:
                raise _bad(f"{field}.time_limit.{exc.field}", exc.message) from None
            time_limit = {"kind": target.kind.value, "value": target.value}
        steps.append({"name": name.strip(), "mode": mode.value, "approvers": specs, "time_limit": time_limit})
    return steps


async def _name_free(session: AsyncSession, name: str, except_id: int | None) -> None:
    stmt = select(ApprovalRule.id).where(func.lower(ApprovalRule.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(ApprovalRule.id != except_id)
    if await session.scalar(stmt) is not None:
        raise Conflict.on_input(f"the name {name!r} is taken", "name", "already taken", "unique")


async def _validated(
    session: AsyncSession, rule: ApprovalRuleCreate, *, except_id: int | None = None
) -> dict[str, Any]:
    """A complete rule's columns, its conditions and steps checked and normalised; 422 names the
    offending entry, 409 a name already taken."""
    out = rule.model_dump() | {
        "conditions": await _validate_conditions(session, rule.conditions, rule.kind),
        "steps": await _validate_steps(session, rule.steps),
    }
    await _name_free(session, rule.name, except_id)
    return out


async def create_rule(session: AsyncSession, *, actor: Actor, data: ApprovalRuleCreate) -> ApprovalRule:
    """Validate and create a rule (audited)."""
    clean = await _validated(session, data)
    return await crud.create(session, actor=actor, obj=ApprovalRule(**clean), entity_type="approval_rule")


async def update_rule(
    session: AsyncSession, *, actor: Actor, rule_id: int, changes: ApprovalRuleUpdate
) -> ApprovalRule:
    """Merge `changes` into the rule and validate the whole; approvals already asked keep their chain."""
    rule = await crud.get_or_404(session, ApprovalRule, rule_id, for_update=True)
    archive.require_live(rule, "approval_rule")
    current = ApprovalRuleCreate.model_construct(**{f: getattr(rule, f) for f in RULE_FIELDS})
    merged = current.model_copy(update=changes.model_dump(exclude_unset=True))
    clean = await _validated(session, merged, except_id=rule.id)
    return await crud.update(session, actor=actor, obj=rule, changes=clean, entity_type="approval_rule")


async def delete_rule(session: AsyncSession, *, actor: Actor, rule_id: int, now: datetime) -> Disposal:
    """Delete a rule no approval used; one that chose approvals is archived and disabled, so those
    approvals keep pointing at it (`shared.archive`)."""
    rule = await crud.get_or_404(session, ApprovalRule, rule_id, for_update=True)
    return await archive.remove(session, actor=actor, obj=rule, entity_type="approval_rule", now=now)


def rule_filter(
    stmt: Select[Any], *, kind: ApprovalKind | None = None, enabled: bool | None = None, archived: bool = False
) -> Select[Any]:
    stmt = archive.archived_filter(stmt, ApprovalRule, archived)
    if kind is not None:
        stmt = stmt.where(ApprovalRule.kind == kind)
    if enabled is not None:
        stmt = stmt.where(ApprovalRule.enabled == enabled)
    return stmt


def matches(
    rule: ApprovalRule,
    *,
    campaign: Campaign,
    stage_key: str | None,
    new_budget: Decimal | None = None,
    line_overrun_pct: Decimal | None = None,
) -> bool:
    """Empty conditions match everything; `budget_over` and `major` match when either holds;
    `stage_keys`, `department_ids`, `company_wide` and `line_overrun_pct_over` must hold when given."""
    cond = rule.conditions or {}
    if "line_overrun_pct_over" in cond and (
        line_overrun_pct is None or line_overrun_pct <= Decimal(str(cond["line_overrun_pct_over"]))
    ):
        return False
    if "stage_keys" in cond and stage_key not in cond["stage_keys"]:
        return False
    if "department_ids" in cond and campaign.department_id not in cond["department_ids"]:
        return False
    if cond.get("company_wide") and campaign.department_id is not None:
        return False
    if "budget_over" in cond or "major" in cond:
        budget = new_budget if new_budget is not None else campaign.budget
        over = "budget_over" in cond and budget is not None and Decimal(budget) > Decimal(str(cond["budget_over"]))
        major = bool(cond.get("major")) and bool(campaign.is_major)
        if not (over or major):
            return False
    return True


async def choose_rule(
    session: AsyncSession,
    kind: ApprovalKind | str,
    campaign: Campaign,
    stage_key: str | None = None,
    new_budget: Decimal | None = None,
    line_overrun_pct: Decimal | None = None,
) -> ApprovalRule:
    """The enabled rule of `kind` with the lowest priority (then id) whose conditions match; 409 if none.
    `line_overrun_pct`: an expense's budget line as it would stand with it, in % above plan."""
    kind = ApprovalKind(kind)
    rules = await session.scalars(
        select(ApprovalRule)
        .where(ApprovalRule.kind == kind, ApprovalRule.enabled)
        .order_by(ApprovalRule.priority, ApprovalRule.id)
    )
    for rule in rules:
        if matches(
            rule, campaign=campaign, stage_key=stage_key, new_budget=new_budget, line_overrun_pct=line_overrun_pct
        ):
            return rule
    what = f"{kind.value} approval of campaign {campaign.id}" + (f" stage {stage_key!r}" if stage_key else "")
    raise Conflict(
        f"no approval rule matches this {what}; a manager can add an approval rule for it",
        errors=[FieldError("kind", f"no approval rule matches this {what}", "rule")],
    )


def matches_department(rule: ApprovalRule, department_id: int | None) -> bool:
    """For approvals of items that are not campaigns (goals): only the department conditions
    count; a rule that asks about a campaign's budget, flag or stage never matches."""
    cond = rule.conditions or {}
    if {"budget_over", "major", "stage_keys"} & set(cond):
        return False
    if "department_ids" in cond and department_id not in cond["department_ids"]:
        return False
    return not (cond.get("company_wide") and department_id is not None)


async def choose_rule_for_department(
    session: AsyncSession, kind: ApprovalKind | str, department_id: int | None
) -> ApprovalRule:
    """The enabled rule of `kind` with the lowest priority (then id) matching the department
    (None: a company-wide item); 409 if none."""
    kind = ApprovalKind(kind)
    rules = await session.scalars(
        select(ApprovalRule)
        .where(ApprovalRule.kind == kind, ApprovalRule.enabled)
        .order_by(ApprovalRule.priority, ApprovalRule.id)
    )
    for rule in rules:
        if matches_department(rule, department_id):
            return rule
    what = f"{kind.value} approval " + (f"in department {department_id}" if department_id else "of the company")
    raise Conflict(
        f"no approval rule matches this {what}; a manager can add an approval rule for it",
        errors=[FieldError("kind", f"no approval rule matches this {what}", "rule")],
    )
