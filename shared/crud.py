"""The few steps every entity write shares: reference checks, audit, 404s."""

from __future__ import annotations

from enum import Enum
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit
from shared.actor import Actor
from shared.errors import FieldError, InvalidInput, NotFound
from shared.models import Base

M = TypeVar("M", bound=Base)


@cache
def _by_id(model: type[Base], for_update: bool) -> Select[Any]:
    """One statement per model, built once: building it and its cache key cost more than running it."""
    stmt = select(model).where(model.id == bindparam("entity_id"))  # type: ignore[attr-defined]
    return stmt.with_for_update() if for_update else stmt


async def get_or_404(session: AsyncSession, model: type[M], entity_id: int, *, for_update: bool = False) -> M:
    obj = (await session.scalars(_by_id(model, for_update), {"entity_id": entity_id})).one_or_none()
    if obj is None:
        raise NotFound(f"{model.__name__.lower()} {entity_id} does not exist")
    return obj


async def check_references(session: AsyncSession, refs: dict[str, tuple[type[Base], int | None]]) -> None:
    """Every referenced id must exist; one 422 names every field that points nowhere. One
    statement for all of them (a scalar subquery each), not one per reference."""
    given = {field: (model, ref_id) for field, (model, ref_id) in refs.items() if ref_id is not None}
    if not given:
        return
    stmt = _references(tuple(model for model, _ in given.values()))
    found = (await session.execute(stmt, {f"ref_{n}": ref_id for n, (_, ref_id) in enumerate(given.values())})).one()
    errors = [
        FieldError(field, f"{model.__name__.lower()} {ref_id} does not exist", "reference")
        for (field, (model, ref_id)), hit in zip(given.items(), found, strict=True)
        if hit is None
    ]
    if errors:
        raise InvalidInput.for_fields(errors)


@cache
def _references(models: tuple[type[Base], ...]) -> Select[Any]:
    """A scalar subquery per reference (the id, or NULL when there is no such row), built once per
    combination of models."""
    return select(
        *(
            select(model.id).where(model.id == bindparam(f"ref_{n}")).scalar_subquery()  # type: ignore[attr-defined]
            for n, model in enumerate(models)
        )
    )


async def missing_ids(session: AsyncSession, model: type[Base], ids: list[int]) -> list[int]:
    """The ids (in the given order) with no row in `model`'s table, found with one query."""
    if not ids:
        return []
    found = set(await session.scalars(select(model.id).where(model.id.in_(ids))))  # type: ignore[attr-defined]
    return [i for i in ids if i not in found]


async def create(session: AsyncSession, *, actor: Actor, obj: M, entity_type: str) -> M:
    session.add(obj)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity_type=entity_type,
        entity_id=obj.id,  # type: ignore[attr-defined]
        after=audit.snapshot(obj),
    )
    return obj


async def update(session: AsyncSession, *, actor: Actor, obj: M, changes: dict[str, Any], entity_type: str) -> M:
    before = audit.snapshot(obj)
    for key, value in changes.items():
        setattr(obj, key, value)
    await session.flush()
    if not _held_as_stored(obj, changes):
        await session.refresh(obj)
    after = audit.snapshot(obj)
    if before != after:
        await audit.record(
            session,
            actor=actor,
            action="update",
            entity_type=entity_type,
            entity_id=obj.id,  # type: ignore[attr-defined]
            before=before,
            after=after,
        )
    return obj


def _held_as_stored(obj: Base, changes: dict[str, Any]) -> bool:
    """Whether the row as the session holds it after the flush is the row as stored, with nothing
    to read back: no attribute expired (what the database set came back with the write — a mapper
    with `eager_defaults`) and every value written is one the database gives back as it was given:
    text, whole numbers, flags, enum members, lists of text. A datetime comes back in UTC, a number
    as Decimal, JSON with its keys reordered: those are read back."""
    state = inspect(obj)
    if state.expired_attributes:
        return False
    for key, value in changes.items():
        if value is None:
            continue
        column = state.mapper.columns.get(key)
        try:
            stored = column.type.python_type if column is not None else None
        except NotImplementedError:
            return False
        if isinstance(value, list):
            if stored is not list or not all(type(v) is str for v in value):
                return False
        elif type(value) is not stored or not isinstance(value, (str, int, Enum)):  # bool is an int
            return False
    return True


async def delete(session: AsyncSession, *, actor: Actor, obj: M, entity_type: str) -> None:
    before = audit.snapshot(obj)
    await session.delete(obj)
    await session.flush()
    await audit.record(
        session, actor=actor, action="delete", entity_type=entity_type, entity_id=before.get("id"), before=before
    )
