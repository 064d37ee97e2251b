"""Who may read what is *about* an item: SLA timers, escalations and notifications.

These rows name their subject by (`subject_type`, `subject_id`). A subject belongs to an item of the
permission model — a task timer to its task, a reviewer's answer to its review, a KPI variance to its
campaign (`SubjectSpec.trail`, the same link an item page follows) — and a caller below director sees
a row exactly when they may read that item. Outbox rows about an item of the model that is not a
timed subject (a report) follow the report's rule; rows about configuration (a channel's health
alert) are for directors and admins.

`readable` is one SQL condition — per subject type, a correlated EXISTS probing the row's item by
primary key under `policy.condition` — so a board stays one query per page, filtered in the database,
and a page costs the rows it reads: PostgreSQL never builds the set of every item the caller sees
(tens of thousands of tasks for a member at a million) before the first row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared import subjects  # every subject type is registered before the condition is built
from shared.access import policy
from shared.actor import Actor
from shared.sla import registry


def _probe(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    # OFFSET 0 keeps PostgreSQL from turning the EXISTS into "subject_id IN (every visible id)"
    # (a hashed subplan built before the first row): it probes per row read.
    return select(literal(1)).where(*conditions).offset(0).exists()


def _item_readable(kind: str, link_column: Any, id_column: Any, actor: Actor) -> ColumnElement[bool]:
    """The row's subject (`id_column`) belongs to an item of `kind` the caller sees: one probe of
    the item (and of the subject's own row when it is not the item) by primary key, per row read —
    not the set of every item the caller sees, built before the first row."""
    model = policy.RULES[kind].model
    subject = link_column.class_
    if link_column is subject.id:
        return _probe(model.id == id_column, policy.condition(kind, actor))
    # The subject's own table is aliased: the item's condition may read that table in a subquery
    # of its own (a review's condition asks `review_responses`), which must not correlate with it.
    own = aliased(subject)
    return _probe(own.id == id_column, model.id == getattr(own, link_column.key), policy.condition(kind, actor))


def readable(type_column: Any, id_column: Any, actor: Actor) -> ColumnElement[bool]:
    """Rows whose subject (`type_column`, `id_column`) belongs to an item the caller may read;
    everything for directors and admins."""
    if actor.sees_everything:
        return true()
    branches: list[ColumnElement[bool]] = []
    timed: set[str] = set()
    for spec in subjects.subject_types():
        timed.add(spec.name)
        link = next((link for link in spec.trail if link.item in policy.RULES), None)
        if link is None:
            continue  # no item of the model to ask: only directors and admins see it
        branches.append(and_(type_column == spec.name, _item_readable(link.item, link.column, id_column, actor)))
    for kind in policy.RULES:
        if kind not in timed:  # an item that is a subject of notifications only (a report)
            own_id = policy.RULES[kind].model.id
            branches.append(and_(type_column == kind, _item_readable(kind, own_id, id_column, actor)))
    return or_(false(), *branches)


def visible(stmt: Select[Any], actor: Actor, *, type_column: Any, id_column: Any) -> Select[Any]:
    """A list narrowed to the rows about items the caller may read (unchanged for directors)."""
    if actor.sees_everything:
        return stmt
    return stmt.where(readable(type_column, id_column, actor))


async def item_of(session: AsyncSession, subject_type: str, subject_id: int) -> tuple[str, int] | None:
    """The item of the permission model a subject belongs to (a task timer's task, a reviewer's
    answer's review, an approver's approval), as (kind, id): what is checked before acting on the
    subject, and whose trail shows it. None when the subject is gone or belongs to no such item."""
    spec = registry.get(subject_type)
    link = next((link for link in spec.trail if link.item in policy.RULES), None)
    if link is None:
        return None
    own_id = link.column.class_.id
    if link.column is own_id:
        found = await session.scalar(select(own_id).where(own_id == subject_id))
    else:
        found = await session.scalar(select(link.column).where(own_id == subject_id))
    return (link.item, int(found)) if found is not None else None
