"""Audit records, written in the caller's transaction so the change and its trace commit together."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.models import AuditLog, Base, Feedback
from shared.redact import mask_contact, mask_name, redact_url, scrub_contacts

# Never copied into the audit log.
REDACTED_COLUMNS = {
    "secret": "***",
    "secret_encrypted": "***",
    "token_hash": None,
    # chat apps (shared/chat/apps.py)
    "app_secret_encrypted": "***",
    "verification_token_encrypted": "***",
    "encrypt_key_encrypted": "***",
}
# Copied with the credentials inside them masked (a bot's hook token, access_token, key …).
URL_COLUMNS = frozenset({"url"})
# Customer data, masked before it is written: the log is append-only, so what it keeps it keeps for
# good (and a purge cannot reach it). Per table: column → mask.
PERSONAL_COLUMNS = {
    Feedback.__tablename__: {
        "customer_name": mask_name,
        "customer_contact": mask_contact,
        "content": scrub_contacts,
        "first_response": scrub_contacts,
    }
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def snapshot(obj: Base) -> dict[str, Any]:
    """A JSON-safe copy of an entity's columns, with secrets redacted and customer data masked."""
    out: dict[str, Any] = {}
    mapper = inspect(obj).mapper
    personal = PERSONAL_COLUMNS.get(mapper.local_table.name, {})  # type: ignore[attr-defined]
    for attr in mapper.column_attrs:
        key = attr.key
        if key in ("created_at", "updated_at"):
            continue
        value = getattr(obj, key)
        if key in REDACTED_COLUMNS:
            if REDACTED_COLUMNS[key] is None:
                continue
            value = REDACTED_COLUMNS[key] if value else None
        elif key in URL_COLUMNS and isinstance(value, str):
            value = redact_url(value)
        elif key in personal and isinstance(value, str):
            value = personal[key](value)
        out[key] = _jsonable(value)
    return out


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one audit row to the session (committed with the change)."""
    if before is not None and after is not None:
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    session.add(
        AuditLog(
            actor_user_id=actor.user_id,
            actor=actor.label,
            token_id=actor.token_id,
            source=actor.source,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
        )
    )


def audit_filter(
    stmt: Select[Any], *, entity_type: str | None, entity_id: int | None, actor_user_id: int | None
) -> Select[Any]:
    for column, value in (
        (AuditLog.entity_type, entity_type),
        (AuditLog.entity_id, entity_id),
        (AuditLog.actor_user_id, actor_user_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


async def who_set(
    session: AsyncSession, *, entity_type: str, entity_id: int, field: str, value: str
) -> tuple[int | None, datetime] | None:
    """Who last set `field` to `value` on an item, and when (the newest audit row saying so)."""
    row = (
        await session.execute(
            select(AuditLog.actor_user_id, AuditLog.at)
            .where(
                AuditLog.entity_type == entity_type,
                AuditLog.entity_id == entity_id,
                AuditLog.after[field].astext == value,
            )
            .order_by(AuditLog.id.desc())
            .limit(1)
        )
    ).first()
    return (row.actor_user_id, row.at) if row is not None else None
