"""SQL pieces the board lists share: several values of a filter, text search."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, or_


def any_of(column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN (…)`: one value or several (`status=todo,in_progress`), one index probe each."""
    return column.in_(list(values))  # type: ignore[no-any-return]


def contains_text(q: str, *columns: Any) -> ColumnElement[bool]:
    """Any of the columns contains `q`, in any case; `%` and `_` in `q` are matched literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(*(column.ilike(f"%{escaped}%", escape="\\") for column in columns))
