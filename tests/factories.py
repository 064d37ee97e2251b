"""Factories: build the rows a test needs, committed, with sensible defaults and overrides."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import crud
from shared.actor import Actor
from shared.crypto import encrypt_secret
from shared.db import unit_of_work
from shared.models import (
    Channel,
    ChannelDepartment,
    ChannelKind,
    Department,
    Escalation,
    Role,
    SlaPolicy,
    SlaTimer,
    Task,
    User,
)
from shared.org.tokens import create_token
from shared.sla import policies
from shared.sla.policy_schemas import EscalationPolicyCreate, SlaPolicyCreate

_seq = itertools.count(1)
SYSTEM = Actor.system("tests")


async def make_department(sessions: async_sessionmaker[AsyncSession], **overrides: Any) -> Department:
    async with unit_of_work(sessions) as s:
        return await crud.create(
            s, actor=SYSTEM, entity_type="department", obj=Department(**{"name": f"Dept {next(_seq)}", **overrides})
        )


async def make_user(sessions: async_sessionmaker[AsyncSession], **overrides: Any) -> User:
    n = next(_seq)
    data = {"name": f"User {n}", "email": f"user{n}@example.com", "role": Role.member, **overrides}
    async with unit_of_work(sessions) as s:
        return await crud.create(s, actor=SYSTEM, entity_type="user", obj=User(**data))


async def make_token(
    sessions: async_sessionmaker[AsyncSession],
    *,
    role: Role = Role.admin,
    user: User | None = None,
    token_role: Role | None = None,
) -> tuple[User, str]:
    user = user or await make_user(sessions, role=role)
    async with unit_of_work(sessions) as s:
        _, plaintext = await create_token(s, actor=SYSTEM, user_id=user.id, name="test", role=token_role)
    return user, plaintext


async def auth(sessions: async_sessionmaker[AsyncSession], role: Role = Role.admin) -> dict[str, str]:
    _, token = await make_token(sessions, role=role)
    return {"Authorization": f"Bearer {token}"}


async def make_task(sessions: async_sessionmaker[AsyncSession], **overrides: Any) -> Task:
    async with unit_of_work(sessions) as s:
        return await crud.create(
            s, actor=SYSTEM, entity_type="task", obj=Task(**{"title": f"Task {next(_seq)}", **overrides})
        )


async def make_channel(
    sessions: async_sessionmaker[AsyncSession],
    *,
    department_ids: list[int] | None = None,
    secret: str | None = None,
    **overrides: Any,
) -> Channel:
    """A channel; `secret` is plaintext and stored encrypted, as the service layer does."""
    data = {
        "secret_encrypted": encrypt_secret(secret) if secret else None,
        "name": f"channel {next(_seq)}",
        "kind": ChannelKind.webhook,
        "url": "http://127.0.0.1:9/hooks/x",
        **overrides,
    }
    async with unit_of_work(sessions) as s:
        channel = await crud.create(s, actor=SYSTEM, entity_type="channel", obj=Channel(**data))
        s.add_all(ChannelDepartment(channel_id=channel.id, department_id=d) for d in department_ids or [])
        return channel


async def make_policy(
    sessions: async_sessionmaker[AsyncSession],
    *,
    levels: list[dict[str, Any]],
    target_kind: str = "calendar",
    target_value: str = "PT1H",
    **overrides: Any,
) -> SlaPolicy:
    """An escalation policy plus an SLA policy for tasks, through the validating service."""
    n = next(_seq)
    async with unit_of_work(sessions) as s:
        escalation = EscalationPolicyCreate.model_validate({"name": f"esc {n}", "levels": levels})
        esc = await policies.create_escalation_policy(s, actor=SYSTEM, data=escalation)
        return await policies.create_sla_policy(
            s,
            actor=SYSTEM,
            data=SlaPolicyCreate.model_validate(
                {
                    "name": f"policy {n}",
                    "subject_type": "task",
                    "target_kind": target_kind,
                    "target_value": target_value,
                    "escalation_policy_id": esc.id,
                    **overrides,
                }
            ),
        )


BREACH_ONLY = [{"offset": "0", "recipients": ["assignee"]}]


async def _about(sessions: Any, model: Any, subject_type: str, subject_id: int) -> list[Any]:
    async with unit_of_work(sessions) as s:
        stmt = select(model).where(model.subject_type == subject_type, model.subject_id == subject_id)
        return list(await s.scalars(stmt.order_by(model.id)))


async def timers(sessions: Any, subject_type: str, subject_id: int) -> list[SlaTimer]:
    """A subject's SLA timers, oldest first (a re-armed one after the one it replaced)."""
    return await _about(sessions, SlaTimer, subject_type, subject_id)


async def escalations(sessions: Any, subject_type: str, subject_id: int) -> list[Escalation]:
    """The levels fired on a subject, in the order they fired."""
    return await _about(sessions, Escalation, subject_type, subject_id)
