"""Departments, users and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import EmailStr, Field
from sqlalchemy import select

from services.api.common import CursorQ, Instant, LimitQ, PageOut, ReadModel, WriteModel, page_out, reject_nulls
from services.api.deps import ActorDep, AdminDep, NowDep, SessionDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from shared import crud
from shared.errors import InvalidInput
from shared.models import ApiToken, Department, Locale, Role, User
from shared.org import mentions, service, tokens
from shared.pagination import paginate

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

Name = Annotated[str, Field(min_length=1, max_length=120)]
# Mention ids are checked (and the mobile normalised) in shared/org/mentions.py, so every error
# names its field with the rule in words; the schema states the rules for clients.
Mobile = Annotated[
    str,
    Field(
        description=f"{mentions.MOBILE_RULE}; spaces and hyphens are dropped, a mainland mobile is stored as "
        "its 11 digits",
        examples=["13800138000", "+8613800138000", "+14155552671"],
    ),
]
FeishuOpenId = Annotated[
    str,
    Field(
        description=f"Feishu open_id: {mentions.FEISHU_RULE}",
        json_schema_extra={"pattern": f"^{mentions.FEISHU_OPEN_ID.pattern}$"},
        examples=["ou_7d8a6e6df7621556ce0d21922b676706"],
    ),
]
DingTalkUserId = Annotated[
    str,
    Field(
        description=f"DingTalk userId: {mentions.DINGTALK_RULE}",
        json_schema_extra={"pattern": f"^{mentions.DINGTALK_USER_ID.pattern}$"},
    ),
]
WeComUserId = Annotated[
    str,
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


@router.post(
    "/departments",
    status_code=status.HTTP_201_CREATED,
    response_model=DepartmentRead,
    tags=["departments"],
    operation_id="createDepartment",
    responses=CONFLICT,
)
async def create_department(body: DepartmentCreate, session: SessionDep, actor: AdminDep) -> Department:
    """Create a department (admin)."""
    return await service.create_department(session, actor=actor, data=body.model_dump())


@router.get(
    "/departments", response_model=PageOut[DepartmentRead], tags=["departments"], operation_id="listDepartments"
)
async def list_departments(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    name: Annotated[str | None, Query(description="substring")] = None,
) -> dict:
    """List departments."""
    stmt = service.department_filter(select(Department), name=name)
    return page_out(await paginate(session, stmt, Department.id, limit=limit, cursor=cursor), DepartmentRead)


@router.get(
    "/departments/{department_id}",
    response_model=DepartmentRead,
    tags=["departments"],
    operation_id="getDepartment",
    responses=NOT_FOUND,
)
async def get_department(department_id: int, session: SessionDep, actor: ActorDep) -> Department:
    """One department."""
    return await crud.get_or_404(session, Department, department_id)


@router.patch(
    "/departments/{department_id}",
    response_model=DepartmentRead,
    tags=["departments"],
    operation_id="updateDepartment",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_department(
    department_id: int, body: DepartmentUpdate, session: SessionDep, actor: AdminDep
) -> Department:
    """Change a department (admin)."""
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, ("name",))
    return await service.update_department(session, actor=actor, department_id=department_id, changes=changes)


@router.delete(
    "/departments/{department_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["departments"],
    operation_id="deleteDepartment",
    responses=NOT_FOUND,
)
async def delete_department(department_id: int, session: SessionDep, actor: AdminDep) -> None:
    """Delete a department (admin); its users and campaigns keep existing without one."""
    dept = await crud.get_or_404(session, Department, department_id, for_update=True)
    await crud.delete(session, actor=actor, obj=dept, entity_type="department")


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


NOT_NULL_USER_FIELDS = ("name", "email", "role", "locale", "is_active")


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    tags=["users"],
    operation_id="createUser",
    responses=CONFLICT,
)
async def create_user(body: UserCreate, session: SessionDep, actor: AdminDep) -> User:
    """Create a user (admin)."""
    return await service.create_user(session, actor=actor, data=body.model_dump())


@router.get("/users", response_model=PageOut[UserRead], tags=["users"], operation_id="listUsers")
async def list_users(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    department_id: int | None = None,
    manager_id: int | None = None,
    role: Role | None = None,
    email: str | None = None,
    q: Annotated[str | None, Query(description="substring of name or email")] = None,
) -> dict:
    """List users."""
    stmt = service.user_filter(
        select(User), department_id=department_id, role=role, email=email, q=q, manager_id=manager_id
    )
    return page_out(await paginate(session, stmt, User.id, limit=limit, cursor=cursor), UserRead)


@router.get("/me", response_model=UserRead, tags=["users"], operation_id="getMe")
async def get_me(session: SessionDep, actor: ActorDep) -> User:
    """The user the token belongs to."""
    assert actor.user_id is not None
    return await crud.get_or_404(session, User, actor.user_id)


@router.get("/users/{user_id}", response_model=UserRead, tags=["users"], operation_id="getUser", responses=NOT_FOUND)
async def get_user(user_id: int, session: SessionDep, actor: ActorDep) -> User:
    """One user."""
    return await crud.get_or_404(session, User, user_id)


@router.patch(
    "/users/{user_id}",
    response_model=UserRead,
    tags=["users"],
    operation_id="updateUser",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_user(user_id: int, body: UserUpdate, session: SessionDep, actor: AdminDep) -> User:
    """Change a user (admin). Deactivate with `is_active: false`: history keeps the person."""
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, NOT_NULL_USER_FIELDS)
    return await service.update_user(session, actor=actor, user_id=user_id, changes=changes)


# ---- tokens --------------------------------------------------------------------------------------
class TokenCreate(WriteModel):
    user_id: int
    name: Name
    role: Role | None = Field(default=None, description="narrow the user's role for this token")
    expires_at: Instant | None = None


class TokenRead(ReadModel):
    id: int
    user_id: int
    name: str
    prefix: str
    role: Role | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class TokenCreated(TokenRead):
    token: str = Field(description="the bearer token; shown only in this response")


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    tags=["tokens"],
    operation_id="createToken",
)
async def create_token(body: TokenCreate, session: SessionDep, actor: AdminDep, now: NowDep) -> dict:
    """Issue an API token (admin). The secret is in this response only."""
    if body.expires_at is not None and body.expires_at <= now:
        raise InvalidInput.for_field("body.expires_at", "must be in the future")
    row, plaintext = await tokens.create_token(
        session, actor=actor, user_id=body.user_id, name=body.name, role=body.role, expires_at=body.expires_at
    )
    return {**TokenRead.model_validate(row).model_dump(), "token": plaintext}


@router.get("/tokens", response_model=PageOut[TokenRead], tags=["tokens"], operation_id="listTokens")
async def list_tokens(
    session: SessionDep, actor: AdminDep, limit: LimitQ = 50, cursor: CursorQ = None, user_id: int | None = None
) -> dict:
    """List tokens (admin); secrets are never shown again."""
    stmt = select(ApiToken)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return page_out(await paginate(session, stmt, ApiToken.id, limit=limit, cursor=cursor), TokenRead)


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["tokens"],
    operation_id="revokeToken",
    responses=NOT_FOUND,
)
async def revoke_token(token_id: int, session: SessionDep, actor: AdminDep, now: NowDep) -> None:
    """Revoke a token (admin); it stops working at once."""
    await tokens.revoke_token(session, actor=actor, token_id=token_id, now=now)
