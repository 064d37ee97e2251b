"""Pieces every router uses: strict write models, pages, list parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

from shared.errors import InvalidInput
from shared.pagination import MAX_LIMIT, Page

T = TypeVar("T")

# Instants a request may carry. Outside this range there is no working calendar to speak of, and
# PostgreSQL would store the extremes as ±infinity: refused with a 422 naming the field.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _in_service_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("must lie between 2000-01-01 and 2100-01-01")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_in_service_range)]


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


def reject_nulls(changes: dict[str, Any], fields: tuple[str, ...]) -> None:
    """PATCH bodies: these fields may be left out but not set to null (422 naming the field)."""
    for field in fields:
        if field in changes and changes[field] is None:
            raise InvalidInput.for_field(f"body.{field}", "cannot be null")


def page_out(page: Page[Any], model: type[BaseModel]) -> dict[str, Any]:
    return {"items": [model.model_validate(item) for item in page.items], "next_cursor": page.next_cursor}
