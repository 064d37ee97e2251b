"""Departments and users: who owns what, who manages whom."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.errors import Conflict, InvalidInput
from shared.models import Department, Role, User
from shared.org import tokens
from shared.org.schemas import DepartmentCreate, DepartmentUpdate, UserCreate, UserUpdate


async def _ensure_department_name_free(session: AsyncSession, name: str, *, except_id: int | None = None) -> None:
    stmt = select(Department.id).where(func.lower(Department.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Department.id != except_id)
    if await session.scalar(stmt) is not None:
        raise Conflict.on_input(f"a department named {name!r} already exists", "name", "already taken", "unique")


async def create_department(session: AsyncSession, *, actor: Actor, data: DepartmentCreate) -> Department:
    """Create a department (its head must be an existing user)."""
    await _ensure_department_name_free(session, data.name)
    await crud.check_references(session, {"head_user_id": (User, data.head_user_id)})
    return await crud.create(session, actor=actor, obj=Department(**data.model_dump()), entity_type="department")


async def update_department(
    session: AsyncSession, *, actor: Actor, department_id: int, changes: DepartmentUpdate
) -> Department:
    dept = await crud.get_or_404(session, Department, department_id, for_update=True)
    if changes.name:
        await _ensure_department_name_free(session, changes.name, except_id=department_id)
    await crud.check_references(session, {"head_user_id": (User, changes.head_user_id)})
    values = changes.model_dump(exclude_unset=True)
    return await crud.update(session, actor=actor, obj=dept, changes=values, entity_type="department")


def department_filter(stmt: Select[Any], *, name: str | None) -> Select[Any]:
    if name:
        stmt = stmt.where(Department.name.ilike(f"%{name}%"))
    return stmt


async def _ensure_email_free(session: AsyncSession, email: str, *, except_id: int | None = None) -> None:
    stmt = select(User.id).where(func.lower(User.email) == email.lower())
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    if await session.scalar(stmt) is not None:
        raise Conflict.on_input(f"a user with email {email!r} already exists", "email", "already taken", "unique")


async def _ensure_no_manager_cycle(session: AsyncSession, user_id: int, manager_id: int | None) -> None:
    """Escalation walks the manager chain upwards: it must end, never loop."""
    seen = {user_id}
    current = manager_id
    while current is not None:
        if current in seen:
            raise InvalidInput.for_field("manager_id", "would make the management chain a loop", "cycle")
        seen.add(current)
        current = await session.scalar(select(User.manager_id).where(User.id == current))


async def create_user(session: AsyncSession, *, actor: Actor, data: UserCreate) -> User:
    """Create a user; email is unique regardless of case (the schema checked the mention ids)."""
    values = data.model_dump()
    await _ensure_email_free(session, data.email)
    await crud.check_references(
        session, {"department_id": (Department, data.department_id), "manager_id": (User, data.manager_id)}
    )
    return await crud.create(session, actor=actor, obj=User(**values), entity_type="user")


async def update_user(session: AsyncSession, *, actor: Actor, user_id: int, changes: UserUpdate) -> User:
    values = changes.model_dump(exclude_unset=True)
    user = await crud.get_or_404(session, User, user_id, for_update=True)
    if changes.email:
        await _ensure_email_free(session, changes.email, except_id=user_id)
    await crud.check_references(
        session, {"department_id": (Department, changes.department_id), "manager_id": (User, changes.manager_id)}
    )
    if "manager_id" in changes.model_fields_set:
        await _ensure_no_manager_cycle(session, user_id, changes.manager_id)
    if actor.user_id == user_id and changes.role not in (None, Role.admin) and user.role == Role.admin:
        raise InvalidInput.for_field("role", "admins cannot demote themselves (ask another admin)")
    if actor.user_id == user_id and changes.is_active is False:
        raise InvalidInput.for_field("is_active", "you cannot deactivate yourself (ask another admin)")
    if values.keys() & {"role", "department_id", "is_active"}:
        tokens.forget_resolved_tokens(session)  # what its tokens may do changes with it
    return await crud.update(session, actor=actor, obj=user, changes=values, entity_type="user")


def user_filter(
    stmt: Select[Any],
    *,
    department_id: int | None,
    role: Role | None,
    email: str | None,
    q: str | None,
    manager_id: int | None,
) -> Select[Any]:
    if department_id is not None:
        stmt = stmt.where(User.department_id == department_id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if email:
        stmt = stmt.where(func.lower(User.email) == email.lower())
    if manager_id is not None:
        stmt = stmt.where(User.manager_id == manager_id)
    if q:
        stmt = stmt.where(User.name.ilike(f"%{q}%") | User.email.ilike(f"%{q}%"))
    return stmt
