"""The audit log as the API returns it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.schemas import ReadModel


class AuditRead(ReadModel):
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    token_id: int | None = Field(description="the API token the change came with (null: CLI, background process)")
    source: str | None = Field(
        description="where the change came from: `api`, a chat (`feishu`, `dingtalk`, `wecom`); null: CLI, background"
    )
    action: str
    entity_type: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
