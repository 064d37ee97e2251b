"""Writing calendars, escalation policies and SLA policies: validated, audited, field errors named."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import archive, crud
from shared.actor import Actor
from shared.calendar import BusinessCalendar, CalendarError, Target
from shared.calendar.schedule import ImportMode, merged_schedule
from shared.calendar.schemas import ScheduleEntryCreate, ScheduleImportRead
from shared.errors import Conflict, InvalidInput
from shared.models import Calendar, Channel, EscalationPolicy, SlaPolicy, SlaTimer, TimerState, User
from shared.sla import defaults, registry
from shared.sla.levels import channel_ids, parse_levels, user_ids
from shared.sla.policy_schemas import (
    CalendarCreate,
    CalendarUpdate,
    EscalationLevel,
    EscalationPolicyCreate,
    EscalationPolicyUpdate,
    SlaPolicyCreate,
    SlaPolicyUpdate,
)

CALENDAR_FIELDS = ("timezone", "holiday_country", "weekly_hours", "workday_hours", "overrides")
STATUS_FIELDS = ("start_statuses", "pause_statuses", "stop_statuses", "cancel_statuses")


async def _name_free(session: AsyncSession, model: type, name: str, except_id: int | None = None) -> None:
    stmt = select(model.id).where(func.lower(model.name) == name.lower())  # type: ignore[attr-defined]
    if except_id is not None:
        stmt = stmt.where(model.id != except_id)  # type: ignore[attr-defined]
    if await session.scalar(stmt) is not None:
        raise Conflict.on_input(f"the name {name!r} is taken", "name", "already taken", "unique")


# ---- calendars -----------------------------------------------------------------------------------
def validate_calendar(definition: dict[str, Any]) -> BusinessCalendar:
    """A calendar definition (the CALENDAR_FIELDS) that schedules; InvalidInput naming the part that does not."""
    try:
        return BusinessCalendar.from_json({k: definition[k] for k in (*CALENDAR_FIELDS, "schedule") if k in definition})
    except CalendarError as exc:
        raise InvalidInput.for_field(exc.field, exc.message) from None


async def _make_default(session: AsyncSession, calendar: Calendar) -> None:
    await session.execute(update(Calendar).where(Calendar.id != calendar.id).values(is_default=False))


async def create_calendar(session: AsyncSession, *, actor: Actor, data: CalendarCreate) -> Calendar:
    """Create a working calendar; `is_default` moves the default to it."""
    await _name_free(session, Calendar, data.name)
    cal = validate_calendar(data.model_dump(include=set(CALENDAR_FIELDS)))
    row = Calendar(name=data.name, is_default=data.is_default, **cal.to_json())
    if row.is_default:
        await session.execute(update(Calendar).values(is_default=False))
    return await crud.create(session, actor=actor, obj=row, entity_type="calendar")


async def update_calendar(
    session: AsyncSession, *, actor: Actor, calendar_id: int, changes: CalendarUpdate
) -> Calendar:
    row = await crud.get_or_404(session, Calendar, calendar_id, for_update=True)
    if changes.name:
        await _name_free(session, Calendar, changes.name, calendar_id)
    given = changes.model_dump(exclude_unset=True)
    merged = {k: getattr(row, k) for k in CALENDAR_FIELDS} | {k: v for k, v in given.items() if k in CALENDAR_FIELDS}
    normalized = validate_calendar(merged).to_json()
    if changes.is_default:
        await _make_default(session, row)
    elif changes.is_default is False and row.is_default:
        raise InvalidInput.for_field("is_default", "make another calendar the default instead")
    update_values = {k: normalized[k] for k in CALENDAR_FIELDS if k in given}
    update_values |= {k: given[k] for k in ("name", "is_default") if k in given}
    return await crud.update(session, actor=actor, obj=row, changes=update_values, entity_type="calendar")


async def delete_calendar(session: AsyncSession, *, actor: Actor, calendar_id: int, now: datetime) -> None:
    """Delete a calendar nothing points at (`shared.archive`: otherwise 409 naming what does)."""
    row = await crud.get_or_404(session, Calendar, calendar_id, for_update=True)
    used = await session.scalar(select(func.count()).select_from(SlaPolicy).where(SlaPolicy.calendar_id == calendar_id))
    if used:
        raise Conflict(f"{used} SLA polic{'y uses' if used == 1 else 'ies use'} this calendar")
    # Timers, collaboration requests and report schedules that ran on it keep it (409 naming them).
    await archive.remove(session, actor=actor, obj=row, entity_type="calendar", now=now)


async def import_schedule(
    session: AsyncSession,
    *,
    actor: Actor,
    calendar_id: int,
    entries: list[ScheduleEntryCreate],
    mode: ImportMode,
) -> ScheduleImportRead:
    """Load an announced statutory schedule: for every year it covers, the calendar follows it
    instead of the `holidays` package (whose data for that year may be an estimate); per-date
    overrides still win. Audited like any calendar change."""
    row = await crud.get_or_404(session, Calendar, calendar_id, for_update=True)
    schedule, years, removed = merged_schedule(row.schedule, entries, mode)
    validate_calendar({**{k: getattr(row, k) for k in CALENDAR_FIELDS}, "schedule": schedule})
    await crud.update(session, actor=actor, obj=row, changes={"schedule": schedule}, entity_type="calendar")
    return ScheduleImportRead(
        calendar_id=calendar_id, mode=mode.value, years=years, imported=len(entries), removed=removed
    )


# ---- escalation policies -------------------------------------------------------------------------
async def _validate_levels(session: AsyncSession, given: list[EscalationLevel]) -> list[dict[str, Any]]:
    """The levels as stored (what the command gave, defaults left out): offsets, recipients and
    repeats that parse, channels and users that exist."""
    raw = [level.model_dump(exclude_unset=True) for level in given]
    try:
        levels = parse_levels(raw, "levels")
    except CalendarError as exc:
        raise InvalidInput.for_field(exc.field, exc.message) from None
    for cid in sorted(channel_ids(levels)):
        if await session.get(Channel, cid) is None:
            raise InvalidInput.for_field("levels", f"channel {cid} does not exist", "reference")
    for uid in sorted(user_ids(levels)):
        if await session.get(User, uid) is None:
            raise InvalidInput.for_field("levels", f"user {uid} does not exist", "reference")
    return raw


async def create_escalation_policy(
    session: AsyncSession, *, actor: Actor, data: EscalationPolicyCreate
) -> EscalationPolicy:
    await _name_free(session, EscalationPolicy, data.name)
    levels = await _validate_levels(session, data.levels)
    row = EscalationPolicy(name=data.name, description=data.description, levels=levels)
    return await crud.create(session, actor=actor, obj=row, entity_type="escalation_policy")


async def update_escalation_policy(
    session: AsyncSession, *, actor: Actor, policy_id: int, changes: EscalationPolicyUpdate
) -> EscalationPolicy:
    """Edit levels for timers started from now on; running timers keep the levels they started with."""
    row = await crud.get_or_404(session, EscalationPolicy, policy_id, for_update=True)
    if changes.name:
        await _name_free(session, EscalationPolicy, changes.name, policy_id)
    values = changes.model_dump(exclude_unset=True)
    if changes.levels is not None:
        values["levels"] = await _validate_levels(session, changes.levels)
    return await crud.update(session, actor=actor, obj=row, changes=values, entity_type="escalation_policy")


async def delete_escalation_policy(session: AsyncSession, *, actor: Actor, policy_id: int, now: datetime) -> None:
    row = await crud.get_or_404(session, EscalationPolicy, policy_id, for_update=True)
    used = await session.scalar(
        select(func.count()).select_from(SlaPolicy).where(SlaPolicy.escalation_policy_id == policy_id)
    )
    if used:
        raise Conflict(f"{used} SLA polic{'y uses' if used == 1 else 'ies use'} this escalation policy")
    await archive.remove(session, actor=actor, obj=row, entity_type="escalation_policy", now=now)


# ---- SLA policies --------------------------------------------------------------------------------
POLICY_RULES = (
    "subject_type",
    "conditions",
    "target_kind",
    "target_value",
    "calendar_id",
    *STATUS_FIELDS,
    "escalation_policy_id",
)


async def _validate_policy(session: AsyncSession, rules: dict[str, Any]) -> dict[str, Any]:
    """A policy's rules (POLICY_RULES) checked against its subject type and the calendar, with the
    subject type's default statuses and the default calendar filled in."""
    subject = registry.find(rules["subject_type"])
    if subject is None:
        raise InvalidInput.for_field("subject_type", f"must be one of {', '.join(registry.names())}")
    try:
        Target.parse(rules["target_kind"], rules["target_value"], field="target_value")
    except CalendarError as exc:
        raise InvalidInput.for_field("target_" + ("kind" if exc.field == "kind" else "value"), exc.message) from None
    rules = dict(rules)
    for key, default in zip(
        STATUS_FIELDS,
        (subject.default_start, subject.default_pause, subject.default_stop, subject.default_cancel),
        strict=True,
    ):
        if rules.get(key) is None:
            rules[key] = list(default)
        for status in rules[key]:
            if status not in subject.statuses:
                raise InvalidInput.for_field(
                    key, f"{status!r} is not a {subject.name} status ({', '.join(subject.statuses)})"
                )
    if not rules["start_statuses"]:
        raise InvalidInput.for_field("start_statuses", "needs at least one status")
    if not rules["stop_statuses"]:
        raise InvalidInput.for_field("stop_statuses", "needs at least one status")
    seen: dict[str, str] = {}
    for key in STATUS_FIELDS:
        for status in rules[key]:
            if status in seen:
                raise InvalidInput.for_field(key, f"{status!r} is already in {seen[status]}")
            seen[status] = key
    rules["conditions"] = rules.get("conditions") or {}
    await crud.check_references(
        session,
        {
            "calendar_id": (Calendar, rules.get("calendar_id")),
            "escalation_policy_id": (EscalationPolicy, rules.get("escalation_policy_id")),
        },
    )
    if rules.get("calendar_id") is None and rules["target_kind"] != "calendar":
        default = await session.scalar(select(Calendar.id).where(Calendar.is_default))
        rules["calendar_id"] = default  # None: the built-in CN office calendar
    return rules


def _policy_values(command: SlaPolicyCreate | SlaPolicyUpdate, *, partial: bool) -> dict[str, Any]:
    """The command's values as columns: conditions keep only the lists given."""
    values = command.model_dump(exclude_unset=partial)
    if command.conditions is not None:
        values["conditions"] = command.conditions.model_dump(exclude_none=True)
    return values


async def create_sla_policy(session: AsyncSession, *, actor: Actor, data: SlaPolicyCreate) -> SlaPolicy:
    """Create an SLA policy; it applies to subjects that start or change from now on."""
    await _name_free(session, SlaPolicy, data.name)
    values = await _validate_policy(session, _policy_values(data, partial=False))
    return await crud.create(session, actor=actor, obj=SlaPolicy(**values), entity_type="sla_policy")


async def update_sla_policy(
    session: AsyncSession, *, actor: Actor, policy_id: int, changes: SlaPolicyUpdate, now: datetime
) -> SlaPolicy:
    row = await crud.get_or_404(session, SlaPolicy, policy_id, for_update=True)
    if changes.name:
        await _name_free(session, SlaPolicy, changes.name, policy_id)
    given = _policy_values(changes, partial=True)
    merged = await _validate_policy(session, {c: getattr(row, c) for c in POLICY_RULES} | given)
    applied = {k: merged[k] for k in given if k in merged} | {k: v for k, v in given.items() if k not in merged}
    if changes.enabled is False and row.enabled:
        await cancel_policy_timers(session, policy_id, now=now, reason="policy disabled")
    return await crud.update(session, actor=actor, obj=row, changes=applied, entity_type="sla_policy")


def sla_policy_filter(stmt: Select[Any], *, subject_type: str | None, enabled: bool | None) -> Select[Any]:
    if subject_type is not None:
        stmt = stmt.where(SlaPolicy.subject_type == subject_type)
    if enabled is not None:
        stmt = stmt.where(SlaPolicy.enabled.is_(enabled))
    return stmt


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
    session: AsyncSession, *, actor: Actor, escalation: EscalationPolicyCreate, policy: SlaPolicyCreate
) -> SlaPolicy:
    """An escalation policy and an SLA policy that uses it, each created once (matched by name);
    the SLA policy's `escalation_policy_id` is set to the escalation policy's."""
    esc = (await session.scalars(select(EscalationPolicy).where(EscalationPolicy.name == escalation.name))).first()
    if esc is None:
        esc = await create_escalation_policy(session, actor=actor, data=escalation)
    existing = (await session.scalars(select(SlaPolicy).where(SlaPolicy.name == policy.name))).first()
    if existing is not None:
        return existing
    return await create_sla_policy(
        session, actor=actor, data=policy.model_copy(update={"escalation_policy_id": esc.id})
    )


def _seedable(policy: dict[str, Any], *, subject_type: str, default_calendar_id: int) -> SlaPolicyCreate:
    """A registered default policy as created: `pin_default_calendar` pins it to the seeded
    calendar; without it the policy follows whichever calendar is the default."""
    out = {k: v for k, v in policy.items() if k != "pin_default_calendar"}
    if policy.get("pin_default_calendar"):
        out["calendar_id"] = default_calendar_id
    return SlaPolicyCreate.model_validate({**out, "subject_type": subject_type})


async def ensure_sla_defaults(session: AsyncSession) -> None:
    """Seed the default calendar and every registered subject type's default escalation and SLA
    policies once (matched by name)."""
    actor = Actor.system("sla-defaults")
    cal = (await session.scalars(select(Calendar).where(Calendar.name == defaults.DEFAULT_CALENDAR["name"]))).first()
    if cal is None:
        has_default = await session.scalar(select(Calendar.id).where(Calendar.is_default))
        seeded = CalendarCreate.model_validate({**defaults.DEFAULT_CALENDAR, "is_default": has_default is None})
        cal = await create_calendar(session, actor=actor, data=seeded)
    for spec in registry.subject_types():  # each domain's default policies, as it registered them
        for escalation, policy in spec.default_policies:
            await ensure_policy_set(
                session,
                actor=actor,
                escalation=EscalationPolicyCreate.model_validate(escalation),
                policy=_seedable(policy, subject_type=spec.name, default_calendar_id=cal.id),
            )
