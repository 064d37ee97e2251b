"""The base classes of every domain's request and response schemas (`shared/<domain>/schemas.py`).

One naming scheme for the whole API: `XCreate` (a POST body), `XUpdate` (a PATCH body, every field
optional), `XRead` (what the API returns). Services take the typed `XCreate` / `XUpdate` objects,
never dicts, so input is validated once, at the edge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

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


class ArchivableRead(ReadModel):
    """An item DELETE archives when it has history (`shared.archive`)."""

    archived_at: datetime | None = Field(
        default=None, description="set when it was archived (DELETE of an item with history): hidden from lists"
    )
    archived_by: int | None = Field(default=None, description="who archived it")
