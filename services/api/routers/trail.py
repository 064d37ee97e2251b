"""Every item's trail (留痕): comments, audited changes and fired escalations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Path, Query, status

from services.api.deps import ActorDep, NowDep, SessionDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared.access import policy as access
from shared.models import Comment
from shared.trail import service as trail
from shared.trail.schemas import CommentCreate, CommentRead, TrailRead

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["trail"])

# The trail items registered by the domains (shared.sla.registry), by name or route-style alias,
# as the path parameter's enum.
if TYPE_CHECKING:
    ItemName = str
else:
    ItemName = Literal[trail.item_names()]
SubjectType = Annotated[
    ItemName,
    Path(
        description="the item, by the name of its route or its registered name ("
        + trail.item_aliases()
        + "); the answer and the stored comments use the registered name"
    ),
]


@router.post(
    "/trail/{subject_type}/{subject_id}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=CommentRead,
    operation_id="addComment",
    responses=NOT_FOUND,
)
async def add_comment(
    subject_type: SubjectType, subject_id: int, body: CommentCreate, session: SessionDep, actor: WriterDep, now: NowDep
) -> Comment:
    """Comment on a campaign, stage, task, review, approval, collaboration request or feedback item
    (one the caller may see)."""
    await access.require_write(session, actor, trail.item_name(subject_type), subject_id)
    return await trail.add_comment(
        session, actor=actor, subject_type=subject_type, subject_id=subject_id, body=body.body, now=now
    )


@router.get(
    "/trail/{subject_type}/{subject_id}", response_model=TrailRead, operation_id="getTrail", responses=NOT_FOUND
)
async def get_trail(
    subject_type: SubjectType,
    subject_id: int,
    session: SessionDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="the most recent entries to return")] = 500,
) -> TrailRead:
    """Who did what when: comments, audited changes and the escalations its deadlines fired, oldest
    first. A review's trail includes every reviewer's escalations; an approval's, every approver's;
    a collaboration request's, every occurrence's; a campaign's, every stage's."""
    await access.require_read(session, actor, trail.item_name(subject_type), subject_id)
    entries = await trail.trail(session, subject_type, subject_id, limit=limit)
    return TrailRead.model_validate(
        {"subject_type": trail.item_name(subject_type), "subject_id": subject_id, "entries": entries}
    )
