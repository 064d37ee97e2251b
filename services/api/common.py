"""Pieces every router uses: strict write models, pages, list parameters."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict

from shared.pagination import MAX_LIMIT, Page

T = TypeVar("T")


class WriteModel(BaseModel):
    """Request bodies: unknown fields are rejected, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


LimitQ = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
CursorQ = Annotated[str | None, Query(description="`next_cursor` from the previous page")]


def page_out(page: Page[Any], model: type[BaseModel]) -> dict[str, Any]:
    return {"items": [model.model_validate(item) for item in page.items], "next_cursor": page.next_cursor}
