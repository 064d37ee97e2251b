"""Pieces every router uses: strict write models, pages, list parameters."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from shared.errors import InvalidInput
from shared.pagination import MAX_LIMIT, Page
from shared.schemas import Instant, ReadModel, WriteModel

T = TypeVar("T")

__all__ = ["Instant", "ReadModel", "WriteModel"]  # re-exported: the schemas' bases live in shared.schemas


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


LimitQ = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
CursorQ = Annotated[str | None, Query(description="`next_cursor` from the previous page")]


def reject_nulls(changes: dict[str, Any], fields: tuple[str, ...]) -> None:
    """PATCH bodies: these fields may be left out but not set to null (422 naming the field)."""
    for field in fields:
        if field in changes and changes[field] is None:
            raise InvalidInput.for_field(f"body.{field}", "cannot be null")


def page_out(page: Page[Any], model: type[BaseModel]) -> dict[str, Any]:
    return {"items": [model.model_validate(item) for item in page.items], "next_cursor": page.next_cursor}
