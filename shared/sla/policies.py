"""Writing calendars, escalation policies and SLA policies: validated, audited, field errors named."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.calendar import BusinessCalendar, CalendarError, Target
from shared.errors import Conflict, FieldError, InvalidInput
from shared.models import Calendar, Channel, EscalationPolicy, SlaPolicy, SlaTimer, TimerState, User
from shared.sla import defaults, registry
from shared.sla.levels import channel_ids, parse_levels, user_ids

CALENDAR_FIELDS = ("timezone", "holiday_country", "weekly_hours", "workday_hours", "overrides")
CONDITION_KEYS = {"priorities": str, "department_ids": int, "campaign_ids": int, "tags": str}


def _invalid(exc: CalendarError, prefix: str = "body") -> InvalidInput:
    return InvalidInput.for_field(f"{prefix}.{exc.field}", exc.message)


async def _name_free(session: AsyncSession, model: type, name: str, except_id: int | None = None) -> None:
    stmt = select(model.id).where(func.lower(model.name) == name.lower())  # type: ignore[attr-defined]
    if except_id is not None:
        stmt = stmt.where(model.id != except_id)  # type: ignore[attr-defined]
    if await session.scalar(stmt) is not None:
        raise Conflict(f"the name {name!r} is taken", errors=[FieldError("body.name", "already taken", "unique")])


# ---- calendars -----------------------------------------------------------------------------------
def validate_calendar(data: dict[str, Any]) -> BusinessCalendar:
    try:
        return BusinessCalendar.from_json({k: data[k] for k in CALENDAR_FIELDS if k in data})
    except CalendarError as exc:
        raise _invalid(exc) from None


async def _make_default(session: AsyncSession, calendar: Calendar) -> None:
    await session.execute(update(Calendar).where(Calendar.id != calendar.id).values(is_default=False))


async def create_calendar(session: AsyncSession, *, actor: Actor, data: dict[str, Any]) -> Calendar:
    """Create a working calendar; `is_default` moves the default to it."""
    await _name_free(session, Calendar, data["name"])
    cal = validate_calendar(data)
    row = Calendar(name=data["name"], is_default=bool(data.get("is_default")), **cal.to_json())
    if row.is_default:
        await session.execute(update(Calendar).values(is_default=False))
    return await crud.create(session, actor=actor, obj=row, entity_type="calendar")


async def update_calendar(
    session: AsyncSession, *, actor: Actor, calendar_id: int, changes: dict[str, Any]
) -> Calendar:
    row = await crud.get_or_404(session, Calendar, calendar_id, for_update=True)
    if changes.get("name"):
        await _name_free(session, Calendar, changes["name"], calendar_id)
    merged = {k: getattr(row, k) for k in CALENDAR_FIELDS} | {k: v for k, v in changes.items() if k in CALENDAR_FIELDS}
    normalized = validate_calendar(merged).to_json()
    if changes.get("is_default"):
        await _make_default(session, row)
    elif changes.get("is_default") is False and row.is_default:
        raise InvalidInput.for_field("is_default", "make another calendar the default instead")
    update_values = {k: normalized[k] for k in CALENDAR_FIELDS if k in changes}
    update_values |= {k: changes[k] for k in ("name", "is_default") if k in changes}
    return await crud.update(session, actor=actor, obj=row, changes=update_values, entity_type="calendar")


async def delete_calendar(session: AsyncSession, *, actor: Actor, calendar_id: int) -> None:
    row = await crud.get_or_404(session, Calendar, calendar_id, for_update=True)
    used = await session.scalar(select(func.count()).select_from(SlaPolicy).where(SlaPolicy.calendar_id == calendar_id))
    if used:
        raise Conflict(f"{used} SLA polic{'y uses' if used == 1 else 'ies use'} this calendar")
    await crud.delete(session, actor=actor, obj=row, entity_type="calendar")


# ---- escalation policies -------------------------------------------------------------------------
async def _validate_levels(session: AsyncSession, raw: Any) -> list[dict[str, Any]]:
    try:
        levels = parse_levels(raw, "body.levels")
    except CalendarError as exc:
        raise InvalidInput.for_field(exc.field, exc.message) from None
    for cid in sorted(channel_ids(levels)):
        if await session.get(Channel, cid) is None:
            raise InvalidInput.for_field("levels", f"channel {cid} does not exist", "reference")
    for uid in sorted(user_ids(levels)):
        if await session.get(User, uid) is None:
            raise InvalidInput.for_field("levels", f"user {uid} does not exist", "reference")
    return list(raw)


async def create_escalation_policy(session: AsyncSession, *, actor: Actor, data: dict[str, Any]) -> EscalationPolicy:
    await _name_free(session, EscalationPolicy, data["name"])
    levels = await _validate_levels(session, data["levels"])
    row = EscalationPolicy(name=data["name"], description=data.get("description"), levels=levels)
    return await crud.create(session, actor=actor, obj=row, entity_type="escalation_policy")


async def update_escalation_policy(
    session: AsyncSession, *, actor: Actor, policy_id: int, changes: dict[str, Any]
) -> EscalationPolicy:
    """Edit levels for timers started from now on; running timers keep the levels they started with."""
    row = await crud.get_or_404(session, EscalationPolicy, policy_id, for_update=True)
    if changes.get("name"):
        await _name_free(session, EscalationPolicy, changes["name"], policy_id)
    if "levels" in changes:
        changes = {**changes, "levels": await _validate_levels(session, changes["levels"])}
    return await crud.update(session, actor=actor, obj=row, changes=changes, entity_type="escalation_policy")


async def delete_escalation_policy(session: AsyncSession, *, actor: Actor, policy_id: int) -> None:
    row = await crud.get_or_404(session, EscalationPolicy, policy_id, for_update=True)
    used = await session.scalar(
        select(func.count()).select_from(SlaPolicy).where(SlaPolicy.escalation_policy_id == policy_id)
    )
    if used:
        raise Conflict(f"{used} SLA polic{'y uses' if used == 1 else 'ies use'} this escalation policy")
    await crud.delete(session, actor=actor, obj=row, entity_type="escalation_policy")


# ---- SLA policies --------------------------------------------------------------------------------
def _validate_conditions(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput.for_field("conditions", "must be an object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in CONDITION_KEYS:
            raise InvalidInput.for_field(
                f"body.conditions.{key}", f"unknown condition; use {', '.join(CONDITION_KEYS)}"
            )
        kind = CONDITION_KEYS[key]
        if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
            raise InvalidInput.for_field(f"conditions.{key}", f"must be a list of {kind.__name__}")
        out[key] = value
    return out


async def _validate_policy(session: AsyncSession, data: dict[str, Any]) -> dict[str, Any]:
    subject = registry.find(data["subject_type"])
    if subject is None:
        raise InvalidInput.for_field("subject_type", f"must be one of {', '.join(registry.names())}")
    try:
        Target.parse(data["target_kind"], data["target_value"], field="target_value")
    except CalendarError as exc:
        raise InvalidInput.for_field(
            "body.target_" + ("kind" if exc.field == "kind" else "value"), exc.message
        ) from None
    data = dict(data)
    for key, default in (
        ("start_statuses", subject.default_start),
        ("pause_statuses", subject.default_pause),
        ("stop_statuses", subject.default_stop),
        ("cancel_statuses", subject.default_cancel),
    ):
        if data.get(key) is None:
            data[key] = list(default)
        for status in data[key]:
            if status not in subject.statuses:
                raise InvalidInput.for_field(
                    f"body.{key}", f"{status!r} is not a {subject.name} status ({', '.join(subject.statuses)})"
                )
    if not data["start_statuses"]:
        raise InvalidInput.for_field("start_statuses", "needs at least one status")
    if not data["stop_statuses"]:
        raise InvalidInput.for_field("stop_statuses", "needs at least one status")
    seen: dict[str, str] = {}
    for key in ("start_statuses", "pause_statuses", "stop_statuses", "cancel_statuses"):
        for status in data[key]:
            if status in seen:
                raise InvalidInput.for_field(f"{key}", f"{status!r} is already in {seen[status]}")
            seen[status] = key
    data["conditions"] = _validate_conditions(data.get("conditions") or {})
    await crud.check_references(
        session,
        {
            "calendar_id": (Calendar, data.get("calendar_id")),
            "escalation_policy_id": (EscalationPolicy, data.get("escalation_policy_id")),
        },
    )
    if data.get("calendar_id") is None and data["target_kind"] != "calendar":
        default = await session.scalar(select(Calendar.id).where(Calendar.is_default))
        data["calendar_id"] = default  # None: the built-in CN office calendar
    return data


async def create_sla_policy(session: AsyncSession, *, actor: Actor, data: dict[str, Any]) -> SlaPolicy:
    """Create an SLA policy; it applies to subjects that start or change from now on."""
    await _name_free(session, SlaPolicy, data["name"])
    data = await _validate_policy(session, data)
    return await crud.create(session, actor=actor, obj=SlaPolicy(**data), entity_type="sla_policy")


async def update_sla_policy(
    session: AsyncSession, *, actor: Actor, policy_id: int, changes: dict[str, Any], now: datetime
) -> SlaPolicy:
    row = await crud.get_or_404(session, SlaPolicy, policy_id, for_update=True)
    if changes.get("name"):
        await _name_free(session, SlaPolicy, changes["name"], policy_id)
    current = {
        c: getattr(row, c)
        for c in (
            "subject_type",
            "conditions",
            "target_kind",
            "target_value",
            "calendar_id",
            "start_statuses",
            "pause_statuses",
            "stop_statuses",
            "cancel_statuses",
            "escalation_policy_id",
        )
    }
    merged = await _validate_policy(session, {**current, **changes})
    applied = {k: merged[k] for k in changes if k in merged} | {k: v for k, v in changes.items() if k not in merged}
    if changes.get("enabled") is False and row.enabled:
        await cancel_policy_timers(session, policy_id, now=now, reason="policy disabled")
    return await crud.update(session, actor=actor, obj=row, changes=applied, entity_type="sla_policy")


async def cancel_policy_timers(session: AsyncSession, policy_id: int, *, now: datetime, reason: str) -> int:
    """Cancel every running or paused timer of a policy (pause time counted up to now)."""
    result = await session.execute(
        update(SlaTimer)
        .where(SlaTimer.policy_id == policy_id, SlaTimer.state.in_((TimerState.running, TimerState.paused)))
        .values(
            paused_total_s=case(
                (
                    SlaTimer.paused_at.is_not(None),
                    SlaTimer.paused_total_s + func.extract("epoch", now - SlaTimer.paused_at),
                ),
                else_=SlaTimer.paused_total_s,
            ),
            paused_at=None,
            state=TimerState.cancelled,
            cancelled_at=now,
            cancel_reason=reason,
            next_fire_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined,no-any-return]


async def ensure_policy_set(
    session: AsyncSession, *, actor: Actor, escalation: dict[str, Any], policy: dict[str, Any]
) -> SlaPolicy:
    """An escalation policy and an SLA policy that uses it, each created once (matched by name)."""
    esc = (await session.scalars(select(EscalationPolicy).where(EscalationPolicy.name == escalation["name"]))).first()
    if esc is None:
        esc = await create_escalation_policy(session, actor=actor, data=escalation)
    existing = (await session.scalars(select(SlaPolicy).where(SlaPolicy.name == policy["name"]))).first()
    if existing is not None:
        return existing
    return await create_sla_policy(session, actor=actor, data={**policy, "escalation_policy_id": esc.id})


def _seedable(policy: dict[str, Any], *, subject_type: str, default_calendar_id: int) -> dict[str, Any]:
    """A registered default policy as created: `pin_default_calendar` pins it to the seeded
    calendar; without it the policy follows whichever calendar is the default."""
    out = {k: v for k, v in policy.items() if k != "pin_default_calendar"}
    if policy.get("pin_default_calendar"):
        out["calendar_id"] = default_calendar_id
    return {**out, "subject_type": subject_type}


async def ensure_sla_defaults(session: AsyncSession) -> None:
    """Seed the default calendar and every registered subject type's default escalation and SLA
    policies once (matched by name)."""
    actor = Actor.system("sla-defaults")
    cal = (await session.scalars(select(Calendar).where(Calendar.name == defaults.DEFAULT_CALENDAR["name"]))).first()
    if cal is None:
        has_default = await session.scalar(select(Calendar.id).where(Calendar.is_default))
        cal = await create_calendar(
            session, actor=actor, data={**defaults.DEFAULT_CALENDAR, "is_default": has_default is None}
        )
    for spec in registry.subject_types():  # each domain's default policies, as it registered them
        for escalation, policy in spec.default_policies:
            await ensure_policy_set(
                session,
                actor=actor,
                escalation=escalation,
                policy=_seedable(policy, subject_type=spec.name, default_calendar_id=cal.id),
            )
