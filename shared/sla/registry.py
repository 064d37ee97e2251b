"""The registry of SLA subject types: every timed item type is declared once, in its own domain.

A domain with timed items (tasks, reviews, approvals …) declares each type in its own `sla.py`: the
type (a member of the domain's own `StrEnum`, the only spelling anywhere), how to load a batch of
subjects, its statuses (from the domain's enum), its labels, the trail items it belongs to and its
default policy — and calls `register()`. `shared.subjects` imports every domain's declarations; the
engine, the events schema, rendering, the trail and the seeded defaults all read this registry, so
an unknown type is an error (`UnknownSubjectType`), never a guess.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

if TYPE_CHECKING:
    from shared.actor import Actor


@dataclass(frozen=True)
class SubjectContext:
    """What the engine needs of one subject, whatever its type."""

    type: str
    id: int
    title: str
    status: str
    path: str  # the item in the API, e.g. /api/v1/tasks/7 (the notifier prefixes PUBLIC_URL)
    priority: str | None = None
    assignee_id: int | None = None
    department_id: int | None = None
    campaign_id: int | None = None
    tags: tuple[str, ...] = ()
    explicit_due_at: datetime | None = None
    # The subject's own target (kind, value), e.g. a campaign stage's time limit; else the policy's.
    explicit_target: tuple[str, str] | None = None
    timed: bool = True  # False: this subject has no deadline of its own (e.g. a stage "per plan")

    def as_payload(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "priority": self.priority,
            "tags": list(self.tags),
            "path": self.path,
        }


Loader = Callable[[AsyncSession, Iterable[int]], Awaitable[dict[int, SubjectContext]]]
# Cancel a campaign's open items of one type (their own status, audit and timers) when the campaign
# is cancelled or completed, with a reason ("campaign cancelled"): returns how many.
CampaignCascade = Callable[[AsyncSession, "Actor", int, datetime, str], Awaitable[int]]
Labels = dict[str, str]  # locale → label, e.g. {"zh-CN": "任务", "en-US": "Task"}


@dataclass(frozen=True)
class Done:
    """Who met an item and when (None: not known, e.g. a background process)."""

    by: int | None
    at: datetime | None


# Meet one item of this type as `actor` (the domain's own checks and audit; permission to change the
# item is the caller's to check, as a router does) — the chat's 完成.
Complete = Callable[[AsyncSession, "Actor", int, datetime], Awaitable[None]]
# Who met it and when, or None while it is still open (a stale card says so instead of acting).
Completed = Callable[[AsyncSession, int], Awaitable[Done | None]]


@dataclass(frozen=True)
class Completion:
    """How an item of one type is completed from outside its own API (a chat card's 完成 button):
    the service that owns the items registers it (`register_completion`); types without one answer
    "this item cannot be completed from the chat"."""

    complete: Complete
    completed: Completed


@dataclass(frozen=True)
class TrailLink:
    """This subject type's escalations belong to the trail of item `item`: `column` holds that
    item's id on the subject's table (the subject's own id column when it is the item itself)."""

    item: str
    column: InstrumentedAttribute[Any]


@dataclass(frozen=True)
class SubjectSpec:
    type: StrEnum
    load: Loader
    statuses: tuple[str, ...]
    labels: Labels
    trail: tuple[TrailLink, ...]
    default_start: tuple[str, ...] = ()
    default_pause: tuple[str, ...] = ()
    default_stop: tuple[str, ...] = ()
    default_cancel: tuple[str, ...] = ()
    # Seeded once by name: (escalation policy, SLA policy without subject_type) pairs.
    default_policies: Sequence[tuple[dict[str, Any], dict[str, Any]]] = ()
    # A tag that names the item differently, e.g. feedback tagged `complaint` reads 客诉.
    tag_labels: dict[str, Labels] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.type.value

    def label(self, locale: str, tags: Iterable[str] = ()) -> str:
        for tag in tags:
            if tag in self.tag_labels:
                return self.tag_labels[tag].get(locale) or self.tag_labels[tag]["en-US"]
        return self.labels.get(locale) or self.labels["en-US"]


@dataclass(frozen=True)
class TrailItem:
    """Something a trail can be asked for (`GET /api/v1/trail/{name}/{id}`): its table's id column.
    `aliases` are the names a frontend knows from the item's route (`review` for `/reviews/{id}`,
    `stage` for a campaign's stages); the trail answers to them as to `name`, and stores `name`."""

    name: str
    id_column: InstrumentedAttribute[Any]
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (str(self.name), *self.aliases)


class UnknownSubjectType(LookupError):
    pass


_SUBJECTS: dict[str, SubjectSpec] = {}
_ITEMS: dict[str, TrailItem] = {}
_ITEM_NAMES: dict[str, TrailItem] = {}  # every name and alias → its item
_CASCADES: dict[str, CampaignCascade] = {}
_COMPLETIONS: dict[str, Completion] = {}


def register(spec: SubjectSpec) -> SubjectSpec:
    if spec.name in _SUBJECTS and _SUBJECTS[spec.name] is not spec:
        raise ValueError(f"subject type {spec.name!r} is registered twice")
    for link in spec.trail:
        if link.item not in _ITEMS:
            raise ValueError(f"subject type {spec.name!r} names unknown trail item {link.item!r}")
    _SUBJECTS[spec.name] = spec
    return spec


def register_item(item: TrailItem) -> TrailItem:
    if item.name in _ITEMS and _ITEMS[item.name] != item:
        raise ValueError(f"trail item {item.name!r} is registered twice")
    for name in item.names:
        if name in _ITEM_NAMES and _ITEM_NAMES[name].name != item.name:
            raise ValueError(f"trail item name {name!r} already names {_ITEM_NAMES[name].name!r}")
    _ITEMS[item.name] = item
    _ITEM_NAMES.update(dict.fromkeys(item.names, item))
    return item


def on_campaign_cancelled(subject_type: StrEnum) -> Callable[[CampaignCascade], CampaignCascade]:
    """Declare how a campaign's open items of this type are cancelled when the campaign is
    cancelled or completed (the service that owns the items decorates its cascade function)."""

    def decorate(fn: CampaignCascade) -> CampaignCascade:
        _CASCADES[subject_type.value] = fn
        return fn

    return decorate


def register_completion(subject_type: StrEnum, completion: Completion) -> Completion:
    """Declare how an item of this type is completed from the chat (task, collaboration occurrence,
    rectification item)."""
    _COMPLETIONS[subject_type.value] = completion
    return completion


def completion(subject_type: str) -> Completion | None:
    """How an item of this type is completed, or None: it cannot be from the chat."""
    return _COMPLETIONS.get(subject_type)


def get(subject_type: str) -> SubjectSpec:
    try:
        return _SUBJECTS[subject_type]
    except KeyError:
        raise UnknownSubjectType(f"unknown SLA subject type {subject_type!r}") from None


def find(subject_type: str) -> SubjectSpec | None:
    return _SUBJECTS.get(subject_type)


def subject_types() -> list[SubjectSpec]:
    """Every registered type, in registration order (the order of `shared.subjects`)."""
    return list(_SUBJECTS.values())


def names() -> tuple[str, ...]:
    """Every registered type, sorted (a stable order for schemas and documents)."""
    return tuple(sorted(_SUBJECTS))


def trail_items() -> list[TrailItem]:
    return sorted(_ITEMS.values(), key=lambda item: item.name)


def trail_item_names() -> tuple[str, ...]:
    """Every name a trail answers to, registered names and route-style aliases alike, sorted."""
    return tuple(sorted(_ITEM_NAMES))


def trail_item(name: str) -> TrailItem:
    """The trail item called `name` (its registered name or one of its aliases)."""
    try:
        return _ITEM_NAMES[name]
    except KeyError:
        raise UnknownSubjectType(f"unknown trail item {name!r}") from None


def campaign_cascades() -> list[tuple[str, CampaignCascade]]:
    return list(_CASCADES.items())


def matches(conditions: dict[str, Any], ctx: SubjectContext) -> bool:
    """Empty or missing conditions match everything; listed values must include the subject's."""
    if (p := conditions.get("priorities")) and ctx.priority not in p:
        return False
    if (d := conditions.get("department_ids")) and ctx.department_id not in d:
        return False
    if (c := conditions.get("campaign_ids")) and ctx.campaign_id not in c:
        return False
    return not ((t := conditions.get("tags")) and not set(t) & set(ctx.tags))
