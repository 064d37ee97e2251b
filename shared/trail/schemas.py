"""An item's trail: the comment command and what the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from shared.schemas import ReadModel, WriteModel
from shared.trail.comments import MAX_BODY


class CommentCreate(WriteModel):
    body: Annotated[str, Field(min_length=1, max_length=MAX_BODY)]


class CommentRead(ReadModel):
    id: int
    subject_type: str
    subject_id: int
    author_id: int | None
    body: str
    created_at: datetime


class TrailEntryRead(ReadModel):
    at: datetime
    kind: Literal["comment", "change", "escalation"]
    action: str = Field(
        description="`comment`, an audited action (`create`, `update`, `review.answer` …) or `sla.<kind>`"
    )
    actor: str | None = Field(description="`user:<id>`, `cli`, `system:<name>`")
    actor_user_id: int | None
    actor_name: str | None
    details: dict[str, Any]
    source: str | None = Field(
        default=None, description="where a change came from: `api`, a chat (`feishu`, `dingtalk`, `wecom`)"
    )


class TrailRead(ReadModel):
    subject_type: str = Field(description="the item's registered name, also when it was asked for by its route's name")
    subject_id: int
    entries: list[TrailEntryRead]
