"""The audit trail (managers and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, ReadModel, page_out
from services.api.deps import ManagerDep, SessionDep
from services.api.problems import ERROR_RESPONSES
from shared.models import AuditLog
from shared.pagination import paginate

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["audit"])


class AuditRead(ReadModel):
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    entity_type: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get("/audit", response_model=PageOut[AuditRead], operation_id="listAuditLog")
async def list_audit_log(
    session: SessionDep,
    actor: ManagerDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    entity_type: str | None = None,
    entity_id: int | None = None,
    actor_user_id: int | None = None,
) -> dict[str, Any]:
    """Who changed what, oldest first."""
    stmt = select(AuditLog)
    for column, value in (
        (AuditLog.entity_type, entity_type),
        (AuditLog.entity_id, entity_id),
        (AuditLog.actor_user_id, actor_user_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return page_out(await paginate(session, stmt, AuditLog.id, limit=limit, cursor=cursor), AuditRead)
