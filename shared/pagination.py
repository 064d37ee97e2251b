"""Keyset (cursor) pagination over ascending ids: stable under concurrent inserts, O(limit)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import InvalidInput

T = TypeVar("T")

MAX_LIMIT = 200


@dataclass
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))["after"]
        if not isinstance(value, int):
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput.for_field("query.cursor", "is not a cursor returned by this API") from exc


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: Any,
    *,
    limit: int,
    cursor: str | None,
    any_of: Sequence[ColumnElement[bool]] = (),
) -> Page[Any]:
    """Run `stmt` (`select(Model)`, already filtered) one page at a time, ordered by id. `any_of`:
    a filter that is a disjunction of conditions each served by its own index in id order (a task
    is in a department through its campaign or through its assignee) — each is read on its own
    index up to a page, and the page is the first ids of their union. One `OR` in the WHERE would
    read every matching row and sort them, or walk the primary key throwing rows away."""
    if cursor:
        stmt = stmt.where(id_column > decode_cursor(cursor))
    if any_of:
        arms = [stmt.where(c).with_only_columns(id_column).order_by(id_column).limit(limit + 1) for c in any_of]
        ids = union(*arms).subquery()
        # The arms applied every filter: the page's rows are read by primary key, nothing re-checked.
        stmt = select(stmt.column_descriptions[0]["entity"]).where(id_column.in_(select(ids.c[0])))
    rows = list((await session.scalars(stmt.order_by(id_column).limit(limit + 1))).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if has_more and rows else None)
