"""Approvals: a chain of steps chosen by rule, each approver under SLA; approve, reject with a
reason, cancel. A budget change applies when its last step is approved (双签)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.approvals.hooks import run_decided_hooks
from shared.approvals.rules import choose_rule, choose_rule_for_department
from shared.approvals.schemas import ApprovalCancellation, ApprovalCreate, ApprovalDecision, Verdict
from shared.approvals.sla import ApprovalSubject
from shared.audit import service as audit
from shared.campaigns.guards import require_open_campaign
from shared.campaigns.sla import CampaignItem
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from shared.filters import any_of, contains_text
from shared.models import (
    Approval,
    ApprovalAssignment,
    ApprovalKind,
    ApprovalRule,
    ApprovalStatus,
    ApprovalStep,
    AssignmentStatus,
    Campaign,
    CampaignStage,
    StepMode,
    StepStatus,
    User,
)
from shared.notify import arrival
from shared.org.permissions import require_may_act
from shared.org.roles import Anchor, UnknownRole, holder
from shared.org.tokens import require_own_token
from shared.sla.directory import Directory
from shared.sla.read import running_late
from shared.sla.registry import on_campaign_cancelled
from shared.sla.sync import sync_timers


def _money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value)


# ---- approvers ------------------------------------------------------------------------------------


async def _user(session: AsyncSession, user_id: int | None) -> User | None:
    return await session.get(User, user_id) if user_id is not None else None


async def _approver_directory(session: AsyncSession, *, campaign_id: int | None, requester: User | None) -> Directory:
    """Who holds which role around this approval, read once for the whole chain."""
    d = Directory(session)
    await d.load_departments()  # resolving approvers needs no channels
    await d.prefetch_chain([requester.id if requester is not None else None], [campaign_id])
    return d


def _resolve(spec: str, *, anchor: Anchor, d: Directory) -> int | None:
    """One approver spec → a user id (None: nobody holds that role here); the same role names
    mean the same people as in escalation levels (shared.org.roles)."""
    try:
        return holder(spec, anchor, d)
    except UnknownRole:
        return None


async def _resolve_steps(
    session: AsyncSession,
    rule: ApprovalRule,
    *,
    department_id: int | None,
    campaign_id: int | None,
    requester: User | None,
) -> list[list[int]]:
    """Every step's approvers as user ids, de-duplicated; 409 naming the spec nobody holds."""
    d = await _approver_directory(session, campaign_id=campaign_id, requester=requester)
    # Approvals are anchored on the requester (their manager, director) and the item's department
    # (a campaign's, a goal's).
    anchor = Anchor(
        person_id=requester.id if requester is not None else None,
        department_id=department_id,
        campaign_id=campaign_id,
    )
    out: list[list[int]] = []
    for i, step in enumerate(rule.steps):
        ids: list[int] = []
        for j, spec in enumerate(step["approvers"]):
            user = await _user(session, _resolve(spec, anchor=anchor, d=d))
            if user is None or not user.is_active:
                why = "resolves to an inactive user" if user is not None else "resolves to nobody"
                raise Conflict(
                    f"rule {rule.name!r}: step {i + 1} approver {spec!r} {why}",
                    errors=[FieldError(f"steps[{i}].approvers[{j}]", f"{spec} {why}", "approver")],
                )
            if user.id not in ids:
                ids.append(user.id)
        if requester is not None and requester.id in ids:
            # Four eyes: nobody approves their own request. Among "any of" the others decide.
            if step["mode"] == "any" and len(ids) > 1:
                ids.remove(requester.id)
            else:
                raise Conflict(
                    f"rule {rule.name!r}: step {i + 1} would have you approve your own request",
                    errors=[FieldError(f"steps[{i}].approvers", "resolves to the requester", "approver")],
                )
        if step["mode"] == "all" and len(ids) < len(step["approvers"]):
            # 双签 means as many different people as the rule names: one person holding two of
            # the roles does not sign twice.
            raise Conflict(
                f"rule {rule.name!r}: step {i + 1} needs {len(step['approvers'])} different approvers, "
                f"but they resolve to {len(ids)} person(s)",
                errors=[FieldError(f"steps[{i}].approvers", "the approvers are not different people", "approver")],
            )
        out.append(ids)
    return out


# ---- request ------------------------------------------------------------------------------------

# Kinds whose approvals their own domain asks for through `request_for_item` (never on a campaign).
ASKED_ON_THE_ITEM = frozenset({ApprovalKind.goal, ApprovalKind.goal_adjustment})
# Kinds whose subject lives in another domain: that domain asks for the approval (with the facts
# the rules need) and registers what its decision does (shared.approvals.hooks).
DOMAIN_KINDS = {
    ApprovalKind.expense: "requesting an expense (createExpense)",
    ApprovalKind.extension: "asking for more time on the item (createExtensionRequest)",
}


def _new_budget(data: ApprovalCreate) -> Decimal | None:
    """A budget_change's new budget (an amount > 0 with at most two decimals: the schema says so)."""
    if data.kind != ApprovalKind.budget_change:
        if data.budget is not None:
            raise InvalidInput.for_field("budget", "only a budget_change carries a new budget")
        return None
    if data.budget is None:
        raise InvalidInput.for_field("budget", "a budget_change needs the new budget", "missing")
    return data.budget.quantize(Decimal("0.01"))


def _title(kind: ApprovalKind, campaign: Campaign, stage: CampaignStage | None, budget: Decimal | None) -> str:
    if kind == ApprovalKind.budget_change:
        return f"预算变更 Budget change: {campaign.name} {_money(campaign.budget)} → {_money(budget)}"
    if kind == ApprovalKind.stage and stage is not None:
        return f"阶段审批 Stage approval: {campaign.name} · {stage.name}"
    return f"活动审批 Campaign approval: {campaign.name}"


async def _stage_for(session: AsyncSession, campaign: Campaign, data: ApprovalCreate) -> CampaignStage | None:
    """The stage a stage approval names (422 when missing or not the campaign's); no other kind names one."""
    if data.kind != ApprovalKind.stage:
        if data.stage_key is not None:
            raise InvalidInput.for_field("stage_key", "only a stage approval names a stage")
        return None
    if not data.stage_key:
        raise InvalidInput.for_field("stage_key", "a stage approval names its stage", "missing")
    stage = (
        await session.scalars(
            select(CampaignStage).where(CampaignStage.campaign_id == campaign.id, CampaignStage.key == data.stage_key)
        )
    ).first()
    if stage is None:
        raise InvalidInput.for_field("stage_key", f"campaign {campaign.id} has no stage {data.stage_key!r}")
    return stage


async def _require_none_pending(
    session: AsyncSession, campaign: Campaign, kind: ApprovalKind, stage: CampaignStage | None
) -> None:
    """One pending approval per (campaign, kind, stage); an expense is its own subject (one approval each)."""
    if kind in DOMAIN_KINDS:
        return
    open_one = await session.scalar(
        select(Approval.id).where(
            Approval.campaign_id == campaign.id,
            Approval.kind == kind,
            Approval.stage_id.is_(None) if stage is None else Approval.stage_id == stage.id,
            Approval.status == ApprovalStatus.pending,
        )
    )
    if open_one is not None:
        raise Conflict(
            f"approval #{open_one} for this is still pending: decide or cancel it first",
            errors=[FieldError("kind", f"approval #{open_one} is pending", "duplicate")],
        )


async def _open_chain(
    session: AsyncSession, approval: Approval, rule: ApprovalRule, approver_ids: list[list[int]], now: datetime
) -> tuple[list[ApprovalStep], list[ApprovalAssignment]]:
    """The rule's steps with their resolved approvers; the first is active, its approvers assigned."""
    steps = [
        ApprovalStep(
            approval_id=approval.id,
            position=i,
            name=spec["name"],
            mode=StepMode(spec["mode"]),
            approver_ids=ids,
            time_limit=spec.get("time_limit"),
            status=StepStatus.active if i == 0 else StepStatus.waiting,
            entered_at=now if i == 0 else None,
        )
        for i, (spec, ids) in enumerate(zip(rule.steps, approver_ids, strict=True))
    ]
    session.add_all(steps)
    await session.flush()
    assignments = _assign(steps[0], now)
    session.add_all(assignments)
    await session.flush()
    return steps, assignments


async def request_approval(
    session: AsyncSession,
    *,
    actor: Actor,
    data: ApprovalCreate,
    now: datetime,
    subject: dict[str, Any] | None = None,
    line_overrun_pct: Decimal | None = None,
) -> Approval:
    """Ask for an approval: the matching rule's chain is resolved to people now; the first step's
    approvers get their timers. A domain asking for one of its `DOMAIN_KINDS` passes `subject`
    (what is approved, kept in `details`) and the facts its rules read (`line_overrun_pct`)."""
    if data.kind in DOMAIN_KINDS and subject is None:
        raise InvalidInput.for_field("kind", f"a {data.kind.value} approval is asked by {DOMAIN_KINDS[data.kind]}")
    if data.kind in ASKED_ON_THE_ITEM:
        raise InvalidInput.for_field("kind", f"a {data.kind.value} approval is asked on the goal itself")
    await crud.check_references(session, {"campaign_id": (Campaign, data.campaign_id)})
    # The campaign row lock serialises requests, so the one-pending check holds.
    campaign = await crud.get_or_404(session, Campaign, data.campaign_id, for_update=True)
    require_open_campaign(campaign)
    stage = await _stage_for(session, campaign, data)
    new_budget = _new_budget(data)
    await _require_none_pending(session, campaign, data.kind, stage)
    rule = await choose_rule(session, data.kind, campaign, data.stage_key, new_budget, line_overrun_pct)
    requester = await _user(session, actor.user_id)
    approver_ids = await _resolve_steps(
        session, rule, department_id=campaign.department_id, campaign_id=campaign.id, requester=requester
    )

    details: dict[str, Any] = {"rule": rule.name} | (subject or {})
    if new_budget is not None:
        details |= {"budget_from": str(campaign.budget) if campaign.budget is not None else None}
        details |= {"budget_to": str(new_budget)}
    approval = Approval(
        kind=data.kind,
        title=data.title or _title(data.kind, campaign, stage, new_budget),
        reason=data.reason,
        campaign_id=campaign.id,
        stage_id=stage.id if stage is not None else None,
        rule_id=rule.id,
        requester_id=actor.user_id,
        department_id=campaign.department_id,
        status=ApprovalStatus.pending,
        details=details,
    )
    session.add(approval)
    await session.flush()
    steps, assignments = await _open_chain(session, approval, rule, approver_ids, now)
    await audit.record(
        session,
        actor=actor,
        action="approval.request",
        entity_type=ApprovalSubject.approval,
        entity_id=approval.id,
        after=audit.snapshot(approval) | {"steps": [{"name": s.name, "approver_ids": s.approver_ids} for s in steps]},
    )
    await sync_timers(session, ApprovalSubject.assignment, [a.id for a in assignments], now=now)
    await arrival.approvers_assigned(session, [a.id for a in assignments], by=actor.user_id, now=now)
    return approval


async def request_for_item(
    session: AsyncSession,
    *,
    actor: Actor,
    kind: ApprovalKind,
    title: str,
    reason: str | None,
    department_id: int | None,
    details: dict[str, Any],
    now: datetime,
    rule: ApprovalRule | None = None,
) -> Approval:
    """Ask for an approval of something that is not a campaign (a goal, a goal adjustment): the
    rule of `kind` for the item's department (or `company_wide` when it has none) chooses the
    chain, unless the domain passes the `rule` it fell back on; the domain that owns the item keeps
    its id in `details` and learns the outcome through `shared.approvals.hooks`."""
    if rule is None:
        rule = await choose_rule_for_department(session, kind, department_id)
    requester = await _user(session, actor.user_id)
    approver_ids = await _resolve_steps(
        session, rule, department_id=department_id, campaign_id=None, requester=requester
    )
    approval = Approval(
        kind=kind,
        title=title,
        reason=reason,
        rule_id=rule.id,
        requester_id=actor.user_id,
        department_id=department_id,
        status=ApprovalStatus.pending,
        details={"rule": rule.name, **details},
    )
    session.add(approval)
    await session.flush()
    steps, assignments = await _open_chain(session, approval, rule, approver_ids, now)
    await audit.record(
        session,
        actor=actor,
        action="approval.request",
        entity_type=ApprovalSubject.approval,
        entity_id=approval.id,
        after=audit.snapshot(approval) | {"steps": [{"name": s.name, "approver_ids": s.approver_ids} for s in steps]},
    )
    await sync_timers(session, ApprovalSubject.assignment, [a.id for a in assignments], now=now)
    await arrival.approvers_assigned(session, [a.id for a in assignments], by=actor.user_id, now=now)
    return approval


def _assign(step: ApprovalStep, now: datetime) -> list[ApprovalAssignment]:
    return [
        ApprovalAssignment(
            step_id=step.id,
            approval_id=step.approval_id,
            approver_id=user_id,
            status=AssignmentStatus.pending,
            assigned_at=now,
        )
        for user_id in step.approver_ids
    ]


# ---- read ---------------------------------------------------------------------------------------


async def steps_of(
    session: AsyncSession, approval_ids: list[int]
) -> dict[int, list[tuple[ApprovalStep, list[ApprovalAssignment]]]]:
    """Each approval's steps in order, each with its assignments."""
    out: dict[int, list[tuple[ApprovalStep, list[ApprovalAssignment]]]] = {i: [] for i in approval_ids}
    if not approval_ids:
        return out
    by_step: dict[int, list[ApprovalAssignment]] = {}
    for a in await session.scalars(
        select(ApprovalAssignment)
        .where(ApprovalAssignment.approval_id.in_(approval_ids))
        .order_by(ApprovalAssignment.id)
    ):
        by_step.setdefault(a.step_id, []).append(a)
    for s in await session.scalars(
        select(ApprovalStep)
        .where(ApprovalStep.approval_id.in_(approval_ids))
        .order_by(ApprovalStep.approval_id, ApprovalStep.position)
    ):
        out[s.approval_id].append((s, by_step.get(s.id, [])))
    return out


def approval_filter(
    stmt: Select[Any],
    *,
    campaign_id: int | None = None,
    stage_id: int | None = None,
    kind: ApprovalKind | None = None,
    statuses: Collection[ApprovalStatus] | None = None,
    department_id: int | None = None,
    requester_id: int | None = None,
    approver_id: int | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    now: datetime,
) -> Select[Any]:
    """The approval board's filters; `department_id` is the requesting department."""
    if campaign_id is not None:
        stmt = stmt.where(Approval.campaign_id == campaign_id)
    if department_id is not None:
        stmt = stmt.where(Approval.department_id == department_id)
    if requester_id is not None:
        stmt = stmt.where(Approval.requester_id == requester_id)
    if stage_id is not None:
        stmt = stmt.where(Approval.stage_id == stage_id)
    if kind is not None:
        stmt = stmt.where(Approval.kind == kind)
    if statuses:
        stmt = stmt.where(any_of(Approval.status, statuses))
    if q:
        stmt = stmt.where(contains_text(q, Approval.title))
    if approver_id is not None:
        stmt = stmt.where(
            exists().where(
                ApprovalAssignment.approval_id == Approval.id,
                ApprovalAssignment.approver_id == approver_id,
                ApprovalAssignment.status == AssignmentStatus.pending,
            )
        )
    if overdue is not None:
        # Overdue: an approver still pending past their running timer's due time.
        late = exists().where(
            ApprovalAssignment.approval_id == Approval.id,
            ApprovalAssignment.status == AssignmentStatus.pending,
            running_late(ApprovalSubject.assignment, ApprovalAssignment.id, now),
        )
        stmt = stmt.where(late if overdue else ~late)
    return stmt


# ---- decide / cancel ------------------------------------------------------------------------------


async def _locked(session: AsyncSession, approval_id: int) -> tuple[Approval, list[ApprovalStep]]:
    approval = await crud.get_or_404(session, Approval, approval_id, for_update=True)
    steps = list(
        await session.scalars(
            select(ApprovalStep)
            .where(ApprovalStep.approval_id == approval.id)
            .order_by(ApprovalStep.position)
            .with_for_update()
        )
    )
    return approval, steps


def _require_pending(approval: Approval) -> None:
    if approval.status != ApprovalStatus.pending:
        raise Conflict(
            f"approval #{approval.id} is {approval.status.value}",
            errors=[FieldError("status", approval.status.value, "state")],
        )


async def _pending_assignments(session: AsyncSession, approval_id: int) -> list[ApprovalAssignment]:
    return list(
        await session.scalars(
            select(ApprovalAssignment)
            .where(
                ApprovalAssignment.approval_id == approval_id,
                ApprovalAssignment.status == AssignmentStatus.pending,
            )
            .order_by(ApprovalAssignment.id)
            .with_for_update()
        )
    )


async def decide(
    session: AsyncSession,
    *,
    actor: Actor,
    approval_id: int,
    data: ApprovalDecision,
    now: datetime,
) -> Approval:
    """An approver on the active step approves or rejects (with a reason). Nobody signs for
    someone else, admins included: dual sign means two real people."""
    decision, reason = data.decision, data.reason or None
    if decision == Verdict.reject and reason is None:
        raise InvalidInput.for_field("reason", "a rejection says why", "missing")
    approval, steps = await _locked(session, approval_id)
    require_own_token(actor, what="decide an approval")
    _require_pending(approval)
    active = next((s for s in steps if s.status == StepStatus.active), None)
    pending = await _pending_assignments(session, approval.id)
    mine = next(
        (a for a in pending if active is not None and a.step_id == active.id and a.approver_id == actor.user_id),
        None,
    )
    if active is None or mine is None:
        raise Forbidden(f"you are not a pending approver on approval #{approval.id}'s current step")
    before = audit.snapshot(approval)
    mine.status, mine.reason, mine.decided_at = (
        AssignmentStatus.approved if decision == Verdict.approve else AssignmentStatus.rejected,
        reason,
        now,
    )
    touched = [mine.id]
    others = [a for a in pending if a.id != mine.id]
    new_assignments: list[ApprovalAssignment] = []
    budget_applied = decided = False
    if decision == Verdict.reject:
        active.status, active.decided_at = StepStatus.rejected, now
        _close_waiting(steps)
        approval.status, approval.decided_at, approval.decision_reason = ApprovalStatus.rejected, now, reason
        touched += _withdraw(others, now)
        decided = True
    else:
        step_done = active.mode != StepMode.all or not [a for a in others if a.step_id == active.id]
        if step_done:
            active.status, active.decided_at = StepStatus.approved, now
            touched += _withdraw([a for a in others if a.step_id == active.id], now)
            following = next((s for s in steps if s.position == active.position + 1), None)
            if following is not None:
                following.status, following.entered_at = StepStatus.active, now
                new_assignments = _assign(following, now)
                session.add_all(new_assignments)
            else:
                approval.status, approval.decided_at, approval.decision_reason = ApprovalStatus.approved, now, reason
                budget_applied = approval.kind == ApprovalKind.budget_change
                decided = True
    await session.flush()
    touched += [a.id for a in new_assignments]
    await audit.record(
        session,
        actor=actor,
        action=f"approval.{decision}",
        entity_type=ApprovalSubject.approval,
        entity_id=approval.id,
        before=before | {"step": active.position},
        after=audit.snapshot(approval)
        | {"step": active.position, "step_status": active.status.value}
        | ({"reason": reason} if reason else {}),
    )
    if budget_applied:
        await _apply_budget(session, actor=actor, approval=approval)
    if decided:
        # The domain that owns the approval's kind applies the outcome (a goal becomes approved …).
        await run_decided_hooks(session, approval, now)
    await sync_timers(session, ApprovalSubject.assignment, touched, now=now)
    await arrival.approvers_assigned(session, [a.id for a in new_assignments], by=approval.requester_id, now=now)
    if decided:
        await arrival.approval_decided(session, approval, mine.id, by=actor.user_id, now=now)
    await session.refresh(approval)
    return approval


async def _apply_budget(session: AsyncSession, *, actor: Actor, approval: Approval) -> None:
    if approval.campaign_id is None:
        return
    campaign = await crud.get_or_404(session, Campaign, approval.campaign_id, for_update=True)
    await crud.update(
        session,
        actor=actor,
        obj=campaign,
        changes={"budget": Decimal(approval.details["budget_to"])},
        entity_type=CampaignItem.campaign,
    )


def _withdraw(assignments: list[ApprovalAssignment], now: datetime) -> list[int]:
    for a in assignments:
        a.status, a.decided_at = AssignmentStatus.withdrawn, now
    return [a.id for a in assignments]


def _close_waiting(steps: list[ApprovalStep]) -> None:
    for s in steps:
        if s.status in (StepStatus.waiting, StepStatus.active):
            s.status = StepStatus.cancelled


async def cancel(
    session: AsyncSession, *, actor: Actor, approval_id: int, data: ApprovalCancellation, now: datetime
) -> Approval:
    """The requester (or a manager) withdraws a pending approval; every approver's timer stops."""
    approval, steps = await _locked(session, approval_id)
    await require_may_act(
        session,
        actor,
        who="the requester or a manager",
        what="cancel an approval",
        parties=[approval.requester_id],
        home=[approval.department_id],
    )
    _require_pending(approval)
    before = audit.snapshot(approval)
    _close_waiting(steps)
    touched = _withdraw(await _pending_assignments(session, approval.id), now)
    approval.status, approval.decided_at = ApprovalStatus.cancelled, now
    approval.decision_reason = data.reason or None
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="approval.cancel",
        entity_type=ApprovalSubject.approval,
        entity_id=approval.id,
        before=before,
        after=audit.snapshot(approval),
    )
    await sync_timers(session, ApprovalSubject.assignment, touched, now=now)
    await session.refresh(approval)
    return approval


async def get(session: AsyncSession, approval_id: int) -> Approval:
    approval = await session.get(Approval, approval_id)
    if approval is None:
        raise NotFound(f"approval {approval_id} does not exist")
    return approval


@on_campaign_cancelled(ApprovalSubject.assignment)
async def cancel_for_campaign(session: AsyncSession, actor: Actor, campaign_id: int, now: datetime, reason: str) -> int:
    """The campaign was cancelled or completed: its pending approvals are cancelled (every
    approver's timer stops)."""
    ids = list(
        await session.scalars(
            select(Approval.id).where(Approval.campaign_id == campaign_id, Approval.status == ApprovalStatus.pending)
        )
    )
    for approval_id in ids:
        await cancel(
            session,
            actor=actor,
            approval_id=approval_id,
            data=ApprovalCancellation(reason=reason),
            now=now,
        )
    return len(ids)
