"""Escalation levels: validation and when each (level, repeat) fires — pure functions.

A level is `{offset, calendar?, recipients, channels?, repeat_every?, max_repeats?}`. `offset` is
relative to the deadline: `-20%` or `-PT2H` warn before it, `0` is the breach, `+PT24H` escalates
after it. Offsets and repeats use working time for working-time targets unless `calendar: true`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.calendar import BusinessCalendar, CalendarError, TargetKind, parse_duration
from shared.models.sla import EscalationKind
from shared.org.roles import RoleName

# Role names an escalation level may name (the approval-only `requester_manager` excepted).
RECIPIENT_KINDS = tuple(r.value for r in RoleName if r != RoleName.requester_manager)
_RECIPIENT = re.compile(rf"^({'|'.join(RECIPIENT_KINDS)}|user:\d+|channel:\d+)$")
_PERCENT = re.compile(r"^([+-]?)(\d{1,3}(?:\.\d+)?)%$")
MAX_REPEATS = 100
log = logging.getLogger(__name__)
MAX_REPEAT_SPAN = timedelta(days=30)
MAX_OFFSET = timedelta(days=90)


@dataclass(frozen=True)
class Offset:
    sign: int  # -1, 0, +1
    percent: float | None = None
    duration: timedelta | None = None

    @property
    def kind(self) -> EscalationKind:
        return {-1: EscalationKind.warning, 0: EscalationKind.breach, 1: EscalationKind.escalation}[self.sign]


@dataclass(frozen=True)
class Level:
    offset: Offset
    recipients: tuple[str, ...]
    channels: tuple[int, ...] = ()
    calendar_time: bool = False
    repeat_every: timedelta | None = None
    max_repeats: int = 0


class LevelError(CalendarError):
    pass


def parse_offset(raw: Any, field: str) -> Offset:
    text = str(raw).strip().upper().replace(" ", "")
    if text in ("0", "+0", "-0", "PT0S", "0%"):
        return Offset(0)
    if m := _PERCENT.match(text):
        pct = float(m.group(2))
        if pct == 0:
            return Offset(0)
        if pct > 1000:
            raise LevelError(field, "a percentage offset must be at most 1000%")
        return Offset(-1 if m.group(1) == "-" else 1, percent=pct)
    sign = -1 if text.startswith("-") else 1
    try:
        duration = parse_duration(text.lstrip("+-"), field)
    except CalendarError:
        raise LevelError(field, f"{raw!r} is not an offset such as -20%, -PT2H, 0 or +PT24H") from None
    if duration == timedelta(0):
        return Offset(0)
    if duration > MAX_OFFSET:
        raise LevelError(field, f"an offset must be at most {MAX_OFFSET.days} days from the deadline")
    return Offset(sign, duration=duration)


def parse_level(raw: Any, field: str) -> Level:
    if not isinstance(raw, dict):
        raise LevelError(field, "must be an object")
    unknown = set(raw) - {"offset", "calendar", "recipients", "channels", "repeat_every", "max_repeats"}
    if unknown:
        raise LevelError(f"{field}.{sorted(unknown)[0]}", "unknown field")
    if "offset" not in raw:
        raise LevelError(f"{field}.offset", "is required")
    offset = parse_offset(raw["offset"], f"{field}.offset")
    recipients = raw.get("recipients") or []
    channels = raw.get("channels") or []
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise LevelError(f"{field}.recipients", "must be a list of strings")
    for i, r in enumerate(recipients):
        if not _RECIPIENT.match(r):
            raise LevelError(
                f"{field}.recipients[{i}]",
                f"unknown recipient {r!r}; use one of {', '.join(RECIPIENT_KINDS)}, user:<id> or channel:<id>",
            )
    if not isinstance(channels, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in channels):
        raise LevelError(f"{field}.channels", "must be a list of channel ids")
    if not recipients and not channels:
        raise LevelError(f"{field}.recipients", "a level needs at least one recipient or channel")
    calendar_time = raw.get("calendar", False)
    if not isinstance(calendar_time, bool):
        raise LevelError(f"{field}.calendar", "must be true or false")
    repeat_every = None
    max_repeats = 0
    if raw.get("repeat_every") is not None:
        repeat_every = parse_duration(str(raw["repeat_every"]), f"{field}.repeat_every")
        if repeat_every < timedelta(seconds=1):
            raise LevelError(f"{field}.repeat_every", "must be at least one second")
        max_repeats = raw.get("max_repeats", 3)
        if not isinstance(max_repeats, int) or isinstance(max_repeats, bool) or not 1 <= max_repeats <= MAX_REPEATS:
            raise LevelError(f"{field}.max_repeats", f"must be a whole number from 1 to {MAX_REPEATS}")
        if repeat_every * max_repeats > MAX_REPEAT_SPAN:
            raise LevelError(
                f"{field}.max_repeats",
                f"repeat_every × max_repeats must stay within {MAX_REPEAT_SPAN.days} days",
            )
    elif raw.get("max_repeats") is not None:
        raise LevelError(f"{field}.max_repeats", "needs repeat_every")
    return Level(offset, tuple(recipients), tuple(channels), calendar_time, repeat_every, max_repeats)


def _comparable(a: Offset, b: Offset) -> bool | None:
    """Is a strictly before b? None when the units differ (percent vs duration)."""
    if a.sign != b.sign:
        return a.sign < b.sign
    if a.sign == 0:
        return False
    if a.percent is not None and b.percent is not None:
        return a.sign * a.percent < b.sign * b.percent
    if a.duration is not None and b.duration is not None:
        return a.sign * a.duration < b.sign * b.duration
    return None


def parse_levels(raw: Any, field: str = "levels") -> list[Level]:
    """Validate a whole level list: each level, and that offsets strictly increase."""
    if not isinstance(raw, list) or not raw:
        raise LevelError(field, "must be a non-empty list of levels")
    if len(raw) > 20:
        raise LevelError(field, "at most 20 levels")
    levels = [parse_level(item, f"{field}[{i}]") for i, item in enumerate(raw)]
    for i in range(1, len(levels)):
        for j in range(i):
            if _comparable(levels[j].offset, levels[i].offset) is False:
                raise LevelError(
                    f"{field}[{i}].offset",
                    f"offsets must increase from level to level (level {i} is not after level {j})",
                )
    return levels


def channel_ids(levels: Iterable[Level]) -> set[int]:
    out: set[int] = set()
    for level in levels:
        out.update(level.channels)
        out.update(int(r.split(":")[1]) for r in level.recipients if r.startswith("channel:"))
    return out


def user_ids(levels: Iterable[Level]) -> set[int]:
    return {int(r.split(":")[1]) for level in levels for r in level.recipients if r.startswith("user:")}


# ---- scheduling ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clockwork:
    """What a timer's schedule depends on."""

    calendar: BusinessCalendar
    target_kind: str
    due_at: datetime
    target_s: float  # the target's length in its own kind (working seconds for working targets)

    @property
    def working(self) -> bool:
        return self.target_kind in (TargetKind.working_hours, TargetKind.working_days)


class PastWhenSet(StrEnum):
    """Why a level's moment had already passed when its timer was set."""

    created = "created"  # the item was created already overdue (or past its warning)
    rescheduled = "rescheduled"  # its due date was moved into the past


@dataclass(frozen=True)
class Due:
    level: int
    repeat: int
    at: datetime
    kind: EscalationKind

    @property
    def key(self) -> str:
        return f"{self.level}:{self.repeat}"

    def passed_before(self, set_at: datetime) -> bool:
        """The moment had passed when its timer was set (an item created already overdue, or a due
        date moved into the past): no worker could have fired it on time, so nothing was missed."""
        return self.at < set_at

    def late_by_s(self, *, set_at: datetime, now: datetime) -> float:
        """How late the sweep fires it: from the first instant it could have fired — its moment, or
        the moment its timer was set if that came later."""
        return max(0.0, (now - max(self.at, set_at)).total_seconds())


def _shift(cw: Clockwork, t: datetime, amount: timedelta, working: bool) -> datetime:
    if amount == timedelta(0):
        return t
    return cw.calendar.add_working(t, amount) if working else t + amount


def level_moment(cw: Clockwork, level: Level, repeat: int = 0) -> datetime:
    working = cw.working and not level.calendar_time
    off = level.offset
    if off.sign == 0:
        amount = timedelta(0)
    elif off.percent is not None:
        amount = timedelta(seconds=cw.target_s * off.percent / 100) * off.sign
    else:
        assert off.duration is not None
        amount = off.duration * off.sign
    moment = _shift(cw, cw.due_at, amount, working)
    if repeat and level.repeat_every is not None:
        moment = _shift(cw, moment, level.repeat_every * repeat, working)
    return moment


def pending(
    levels: Sequence[Level],
    cw: Clockwork,
    fired: set[str],
    until: datetime | None = None,
    acked: Collection[int] = (),
) -> list[Due]:
    """The (level, repeat) pairs not yet fired, with their moments, in firing order: every one due
    by `until`, plus each level's first one after it (with no `until`, each level's next one).
    Moments grow with the repeat number, so no moment past the first future one is computed.
    A level someone acknowledged (`acked`) repeats no more: its remaining repeats are not pending."""
    out: list[Due] = []
    for i, level in enumerate(levels):
        if i in acked:
            continue
        for r in range(level.max_repeats + 1):
            if f"{i}:{r}" in fired:
                continue
            try:
                at = level_moment(cw, level, r)
            except CalendarError:  # e.g. the calendar has no working time that far out: it never comes
                log.warning("level %s repeat %s has no moment in the calendar; it will not fire", i, r)
                break
            out.append(Due(i, r, at, level.offset.kind))
            if until is None or at > until:
                break
    out.sort(key=lambda d: (d.at, d.level, d.repeat))
    return out


def next_fire_at(
    levels: Sequence[Level], cw: Clockwork, fired: set[str], *, breached: bool, acked: Collection[int] = ()
) -> datetime | None:
    """When the sweep must look at this timer next: the next level, or the breach itself."""
    candidates = [d.at for d in pending(levels, cw, fired, acked=acked)[:1]]
    if not breached:
        candidates.append(cw.due_at)
    return min(candidates) if candidates else None


def levels_from_json(raw: list[dict[str, Any]]) -> list[Level]:
    return [parse_level(item, f"levels[{i}]") for i, item in enumerate(raw)]
