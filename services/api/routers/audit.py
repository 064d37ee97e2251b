"""The audit trail: the rows of items the caller may read (configuration: managers and above)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, page_out
from services.api.deps import ActorDep, SessionDep
from services.api.problems import ERROR_RESPONSES
from services.api.routing import Router
from shared.access import policy as access
from shared.audit import service as audit
from shared.audit.schemas import AuditRead
from shared.models import AuditLog
from shared.pagination import paginate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["audit"])


@router.get("/audit", response_model=PageOut[AuditRead], operation_id="listAuditLog")
async def list_audit_log(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    entity_type: str | None = None,
    entity_id: int | None = None,
    actor_user_id: int | None = None,
) -> dict[str, Any]:
    """Who changed what, oldest first: the rows about items the caller may read (directors and admins:
    all; rows about configuration — users, tokens, channels, policies — managers and above)."""
    stmt = audit.audit_filter(
        access.audit_visible(select(AuditLog), actor, entity_type=AuditLog.entity_type, entity_id=AuditLog.entity_id),
        entity_type=entity_type,
        entity_id=entity_id,
        actor_user_id=actor_user_id,
    )
    return page_out(await paginate(session, stmt, AuditLog.id, limit=limit, cursor=cursor), AuditRead)
