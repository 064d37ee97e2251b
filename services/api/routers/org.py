"""Departments, users and API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import CursorQ, LimitQ, PageOut, page_out, reject_nulls
from services.api.deps import ActorDep, AdminDep, NowDep, SessionDep, SettingsDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared import archive, crud
from shared.models import ApiToken, Department, Role, User
from shared.org import service, tokens
from shared.org.schemas import (
    DepartmentCreate,
    DepartmentRead,
    DepartmentUpdate,
    TokenCreate,
    TokenCreatedRead,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from shared.pagination import paginate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES)

_DEPARTMENT = versions.row(Department, id="department_id")  # where its version (ETag) is
_USER = versions.row(User, id="user_id")  # where its version (ETag) is


# ---- departments -------------------------------------------------------------------------------
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
    return await service.create_department(session, actor=actor, data=body)


@router.get(
    "/departments", response_model=PageOut[DepartmentRead], tags=["departments"], operation_id="listDepartments"
)
async def list_departments(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    name: Annotated[str | None, Query(description="substring")] = None,
) -> dict[str, Any]:
    """List departments."""
    stmt = service.department_filter(select(Department), name=name)
    return page_out(await paginate(session, stmt, Department.id, limit=limit, cursor=cursor), DepartmentRead)


@router.get(
    "/departments/{department_id}",
    dependencies=[versions.reads(_DEPARTMENT)],
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
    dependencies=[versions.writes(_DEPARTMENT)],
    response_model=DepartmentRead,
    tags=["departments"],
    operation_id="updateDepartment",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_department(
    department_id: int, body: DepartmentUpdate, session: SessionDep, actor: AdminDep
) -> Department:
    """Change a department (admin)."""
    reject_nulls(body.model_dump(exclude_unset=True), ("name",))
    return await service.update_department(session, actor=actor, department_id=department_id, changes=body)


@router.delete(
    "/departments/{department_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["departments"],
    operation_id="deleteDepartment",
    responses=NOT_FOUND,
)
async def delete_department(department_id: int, session: SessionDep, actor: AdminDep, now: NowDep) -> None:
    """Delete a department nothing points at (admin). One with users, campaigns, goals, feedback,
    reviews, channels … is kept: 409 naming what points at it (deleting it would erase its goals
    and unlink its history)."""
    dept = await crud.get_or_404(session, Department, department_id, for_update=True)
    await archive.remove(session, actor=actor, obj=dept, entity_type="department", now=now)


# ---- users ---------------------------------------------------------------------------------------
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
    return await service.create_user(session, actor=actor, data=body)


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
) -> dict[str, Any]:
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


@router.get(
    "/users/{user_id}",
    dependencies=[versions.reads(_USER)],
    response_model=UserRead,
    tags=["users"],
    operation_id="getUser",
    responses=NOT_FOUND,
)
async def get_user(user_id: int, session: SessionDep, actor: ActorDep) -> User:
    """One user."""
    return await crud.get_or_404(session, User, user_id)


@router.patch(
    "/users/{user_id}",
    dependencies=[versions.writes(_USER)],
    response_model=UserRead,
    tags=["users"],
    operation_id="updateUser",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_user(user_id: int, body: UserUpdate, session: SessionDep, actor: AdminDep) -> User:
    """Change a user (admin). Deactivate with `is_active: false`: history keeps the person."""
    reject_nulls(body.model_dump(exclude_unset=True), NOT_NULL_USER_FIELDS)
    return await service.update_user(session, actor=actor, user_id=user_id, changes=body)


# ---- tokens --------------------------------------------------------------------------------------
@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreatedRead,
    tags=["tokens"],
    operation_id="createToken",
)
async def create_token(
    body: TokenCreate, session: SessionDep, actor: AdminDep, now: NowDep, settings: SettingsDep
) -> TokenCreatedRead:
    """Issue an API token (admin). The secret is in this response only. A token issued for someone
    else is marked `on_behalf`: it cannot decide approvals or answer reviews."""
    row, plaintext = await tokens.issue_token(
        session, actor=actor, data=body, now=now, default_ttl=settings.token_default_ttl
    )
    return TokenCreatedRead(**TokenRead.model_validate(row).model_dump(), token=plaintext)


@router.get("/tokens", response_model=PageOut[TokenRead], tags=["tokens"], operation_id="listTokens")
async def list_tokens(
    session: SessionDep, actor: AdminDep, limit: LimitQ = 50, cursor: CursorQ = None, user_id: int | None = None
) -> dict[str, Any]:
    """List tokens (admin); secrets are never shown again."""
    stmt = tokens.token_filter(select(ApiToken), user_id=user_id)
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
