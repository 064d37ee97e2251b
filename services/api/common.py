"""Pieces every router uses: strict write models, pages, list parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator

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


def split_commas(value: Any) -> Any:
    """`status=todo,in_progress` and `status=todo&status=in_progress` mean the same: every value,
    comma-separated or repeated, in one list."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


# A list filter: `Annotated[list[SomeStatus] | None, AnyOf, Query(description=ANY_OF)]`.
AnyOf = BeforeValidator(split_commas)
ANY_OF = "any of these, comma-separated (`status=todo,in_progress`) or repeated (`status=todo&status=in_progress`)"
ArchivedQ = Annotated[
    bool, Query(description="true: only the archived items (DELETE archives items with history; hidden by default)")
]
TextQ = Annotated[
    str | None, Query(max_length=200, description="text the title contains, in any case (empty: no filter)")
]


def _declared_query_parameters(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route reads: its own and those of every dependency it uses (a walk
    over a few dozen nodes: cheaper than keeping a cache in step with the routes)."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(param.alias for param in current.query_params)
        pending.extend(current.dependencies)
    return frozenset(names)


def unknown_query_parameters(route: APIRoute, given: Iterable[str]) -> list[str]:
    known = _declared_query_parameters(route.dependant)
    return sorted({name for name in given if name not in known})


async def reject_unknown_query_parameters(request: Request) -> None:
    """Every route: a query parameter it does not read is a mistake (a typo, a filter that does not
    exist), answered 422 naming it rather than silently ignored."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = unknown_query_parameters(route, request.query_params.keys())
    if unknown:
        raise RequestValidationError(
            [{"loc": ("query", name), "msg": "unknown parameter", "type": "unknown_parameter"} for name in unknown]
        )


def reject_nulls(changes: dict[str, Any], fields: tuple[str, ...]) -> None:
    """PATCH bodies: these fields may be left out but not set to null (422 naming the field)."""
    for field in fields:
        if field in changes and changes[field] is None:
            raise InvalidInput.for_field(f"body.{field}", "cannot be null")


def page_out(page: Page[Any], model: type[BaseModel]) -> dict[str, Any]:
    return {"items": [model.model_validate(item) for item in page.items], "next_cursor": page.next_cursor}
