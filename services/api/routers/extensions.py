"""Deadline extensions (申请延期): ask the item's manager for more time; the answer is an approval."""

from __future__ import annotations

from fastapi import status

from services.api.deps import ClockDep, SessionDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routers.approvals import read_approvals
from services.api.routing import Router
from shared.approvals.schemas import ApprovalRead
from shared.sla import extensions
from shared.sla.schemas import ExtensionRequestCreate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["extensions"])


@router.post(
    "/extension-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=ApprovalRead,
    operation_id="createExtensionRequest",
    responses={**NOT_FOUND, **CONFLICT},
)
async def create_extension_request(
    body: ExtensionRequestCreate, session: SessionDep, actor: WriterDep, clock: ClockDep
) -> ApprovalRead:
    """Ask for more time on a timed item (its assignee or a manager): `extend_to` a new deadline, or
    `extend_by` working time on the item's calendar (`2d`, `4h`, `1d2h`), with a reason. The answer
    is an approval of kind `extension` for the item's department head (listed with
    `GET /approvals?kind=extension`); approved, the item's deadline moves and its timer re-arms. 409
    when the item is finished, paused, not timed, or already has a request pending."""
    approval = await extensions.request_extension(
        session,
        clock,
        actor,
        subject_type=body.subject_type,
        subject_id=body.subject_id,
        extend_to=body.extend_to,
        extend_by=body.extend_by,
        reason=body.reason,
    )
    return (await read_approvals(session, [approval], clock.now()))[0]
