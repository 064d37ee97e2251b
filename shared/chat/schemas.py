"""Chat apps: commands and what the API returns. Secrets are write-only: a read says only whether
each is set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from shared.chat.models import ChatVendor
from shared.schemas import ArchivableRead, ReadModel, WriteModel

Secret = Annotated[str, Field(min_length=1, max_length=512, description="write-only")]


class ChatAppCreate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    vendor: ChatVendor
    app_id: Annotated[
        str, Field(min_length=1, max_length=128, description="Feishu App ID (`cli_…`) or DingTalk AppKey")
    ]
    app_secret: Secret
    verification_token: Secret | None = Field(
        default=None, description="Feishu: the Verification Token of Events & Callbacks (required); DingTalk: none"
    )
    encrypt_key: Secret | None = Field(
        default=None, description="Feishu: the Encrypt Key (recommended: events arrive encrypted and signed)"
    )
    department_id: int | None = None
    enabled: bool = True


class ChatAppUpdate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    app_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    app_secret: Secret | None = None
    verification_token: Secret | None = None
    encrypt_key: Secret | None = Field(default=None, description="write-only; null removes it")
    department_id: int | None = None
    enabled: bool | None = None


class ChatAppRead(ArchivableRead):
    id: int
    name: str
    vendor: ChatVendor
    app_id: str
    has_verification_token: bool
    has_encrypt_key: bool
    department_id: int | None
    enabled: bool
    callback_url: str = Field(
        description="where the vendor posts: Feishu's event & card callback URL, DingTalk's outgoing message URL"
    )
    created_at: datetime
    updated_at: datetime


class ChatAppTestRead(ReadModel):
    ok: bool = Field(description="the vendor issued an access token for these credentials")
    http_status: int | None
    vendor_code: str | None = Field(description="the vendor's own answer code (Feishu `code`, DingTalk `code`)")
    error: str | None
    latency_ms: int
