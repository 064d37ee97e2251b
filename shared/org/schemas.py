"""Departments, users and API tokens: the commands the organisation accepts and what it returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field

from shared.models import Locale, Role
from shared.org import mentions
from shared.schemas import Instant, ReadModel, WriteModel

Name = Annotated[str, Field(min_length=1, max_length=120)]
# Mention ids are checked (and the mobile normalised) by shared/org/mentions.py's validators, with
# every other field of the command, so one 422 names each bad field with its rule in words.
Mobile = Annotated[
    str,
    AfterValidator(mentions.valid_mobile),
    Field(
        description=f"{mentions.MOBILE_RULE}; spaces and hyphens are dropped, a mainland mobile is stored as "
        "its 11 digits",
        examples=["13800138000", "+8613800138000", "+14155552671"],
    ),
]
FeishuOpenId = Annotated[
    str,
    AfterValidator(mentions.valid_feishu_open_id),
    Field(
        description=f"Feishu open_id: {mentions.FEISHU_RULE}",
        json_schema_extra={"pattern": f"^{mentions.FEISHU_OPEN_ID.pattern}$"},
        examples=["ou_7d8a6e6df7621556ce0d21922b676706"],
    ),
]
DingTalkUserId = Annotated[
    str,
    AfterValidator(mentions.valid_dingtalk_user_id),
    Field(
        description=f"DingTalk userId: {mentions.DINGTALK_RULE}",
        json_schema_extra={"pattern": f"^{mentions.DINGTALK_USER_ID.pattern}$"},
    ),
]
WeComUserId = Annotated[
    str,
    AfterValidator(mentions.valid_wecom_user_id),
    Field(
        description=f"WeCom userid: {mentions.WECOM_RULE}",
        json_schema_extra={"pattern": f"^{mentions.WECOM_USER_ID.pattern}$"},
    ),
]


# ---- departments -------------------------------------------------------------------------------
class DepartmentCreate(WriteModel):
    name: Name
    head_user_id: int | None = None


class DepartmentUpdate(WriteModel):
    name: Name | None = None
    head_user_id: int | None = None


class DepartmentRead(ReadModel):
    id: int
    name: str
    head_user_id: int | None
    created_at: datetime
    updated_at: datetime


# ---- users ---------------------------------------------------------------------------------------
class UserCreate(WriteModel):
    name: Name
    email: EmailStr
    department_id: int | None = None
    manager_id: int | None = None
    role: Role = Role.member
    mobile: Mobile | None = None
    feishu_open_id: FeishuOpenId | None = None
    dingtalk_user_id: DingTalkUserId | None = None
    wecom_user_id: WeComUserId | None = None
    locale: Locale = Locale.zh_cn


class UserUpdate(WriteModel):
    name: Name | None = None
    email: EmailStr | None = None
    department_id: int | None = None
    manager_id: int | None = None
    role: Role | None = None
    mobile: Mobile | None = None
    feishu_open_id: FeishuOpenId | None = None
    dingtalk_user_id: DingTalkUserId | None = None
    wecom_user_id: WeComUserId | None = None
    locale: Locale | None = None
    is_active: bool | None = None


class UserRead(ReadModel):
    id: int
    name: str
    email: str
    department_id: int | None
    manager_id: int | None
    role: Role
    mobile: str | None
    feishu_open_id: str | None
    dingtalk_user_id: str | None
    wecom_user_id: str | None
    locale: Locale
    is_active: bool
    created_at: datetime
    updated_at: datetime


# ---- tokens --------------------------------------------------------------------------------------
class TokenCreate(WriteModel):
    user_id: int
    name: Name
    role: Role | None = Field(default=None, description="narrow the user's role for this token")
    expires_at: Instant | None = Field(
        default=None, description="default: `CLOSELOOP_TOKEN_DEFAULT_TTL_DAYS` after issue if set, else never"
    )


class TokenRead(ReadModel):
    id: int
    user_id: int
    name: str
    prefix: str = Field(description="the secret's first characters (at most 8), to recognise it")
    role: Role | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="when it last authenticated a request (to the minute)")
    minted_by_id: int | None = Field(description="who issued it; null for the CLI and the bootstrap admin")
    on_behalf: bool = Field(
        description="issued by someone other than its holder: whoever uses it acts as that person, "
        "and it cannot decide approvals or answer reviews"
    )
    created_at: datetime


class TokenCreatedRead(TokenRead):
    """A token as issued: the only response that carries its secret."""

    token: str = Field(description="the bearer token; shown only in this response")
