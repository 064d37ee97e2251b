"""Goals that cascade (annual → quarterly → monthly), their approval, adjustments, actuals and
progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, WriterDep
from services.api.problems import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared import crud
from shared.access import policy as access
from shared.goals import service as goals
from shared.goals.models import Goal, GoalStatus
from shared.goals.schemas import (
    GoalActualCreate,
    GoalActualRead,
    GoalAdjustmentCreate,
    GoalAdjustmentRead,
    GoalApprovalRequest,
    GoalCreate,
    GoalProgress,
    GoalRead,
    GoalUpdate,
)
from shared.goals.sla import GoalItem
from shared.pagination import paginate

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["goals"])

_GOAL = versions.row(Goal, id="goal_id")  # where its version (ETag) is


async def _one(session: SessionDep, goal: Goal) -> GoalRead:
    return (await goals.read_many(session, [goal]))[0]


@router.post("/goals", status_code=status.HTTP_201_CREATED, response_model=GoalRead, operation_id="createGoal")
async def create_goal(body: GoalCreate, session: SessionDep, actor: WriterDep, now: NowDep) -> GoalRead:
    """Draft a goal: company-wide (no department) or a department's; a child breaks its parent down
    one level (year → quarter → month) on the same metric, and summable children never add up to
    more than their parent (422 on `target`, saying by how much)."""
    access.require_department(actor, body.department_id)
    return await _one(session, await goals.create(session, actor=actor, data=body, now=now))


@router.get("/goals", response_model=PageOut[GoalRead], operation_id="listGoals")
async def list_goals(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    department_id: int | None = None,
    company: Annotated[bool | None, Query(description="true: company-wide goals only (no department)")] = None,
    parent_id: int | None = None,
    top_level: Annotated[bool | None, Query(description="true: goals without a parent")] = None,
    metric: str | None = None,
    period: Annotated[str | None, Query(description='"2026", "2026-Q3" or "2026-08"')] = None,
    status: Annotated[list[GoalStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    owner_id: int | None = None,
) -> dict:
    """List goals with board filters; each says whether its children add up to it."""
    stmt = goals.goal_filter(
        access.visible(select(Goal), actor),
        department_id=department_id,
        company=company,
        parent_id=parent_id,
        top_level=top_level,
        metric=metric,
        period=period,
        statuses=status,
        owner_id=owner_id,
    )
    page = await paginate(session, stmt, Goal.id, limit=limit, cursor=cursor)
    return {"items": await goals.read_many(session, list(page.items)), "next_cursor": page.next_cursor}


@router.get(
    "/goals/{goal_id}",
    dependencies=[versions.reads(_GOAL)],
    response_model=GoalRead,
    operation_id="getGoal",
    responses=NOT_FOUND,
)
async def get_goal(goal_id: int, session: SessionDep, actor: ActorDep) -> GoalRead:
    """One goal, with the sum of its children's targets and the difference from its own."""
    await access.require_read(session, actor, GoalItem.goal, goal_id)
    return await _one(session, await crud.get_or_404(session, Goal, goal_id))


@router.patch(
    "/goals/{goal_id}",
    dependencies=[versions.writes(_GOAL)],
    response_model=GoalRead,
    operation_id="updateGoal",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_goal(goal_id: int, body: GoalUpdate, session: SessionDep, actor: WriterDep, now: NowDep) -> GoalRead:
    """Change a draft goal; an approved (or pending) goal is read-only (409): adjust it instead."""
    await access.require_write(session, actor, GoalItem.goal, goal_id)
    reject_nulls(body.model_dump(exclude_unset=True), ("title", "target", "period"))
    return await _one(session, await goals.update(session, actor=actor, goal_id=goal_id, changes=body, now=now))


@router.delete(
    "/goals/{goal_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteGoal",
    responses={**NOT_FOUND, **CONFLICT},
)
async def delete_goal(goal_id: int, session: SessionDep, actor: WriterDep, now: NowDep) -> None:
    """Delete a draft goal without children, actuals or campaigns serving it; anything else stays
    on record (409 naming what keeps it)."""
    await access.require_write(session, actor, GoalItem.goal, goal_id)
    await goals.delete(session, actor=actor, goal_id=goal_id, now=now)


@router.post(
    "/goals/{goal_id}/approval",
    response_model=GoalRead,
    operation_id="requestGoalApproval",
    responses={**NOT_FOUND, **CONFLICT},
)
async def request_goal_approval(
    goal_id: int, body: GoalApprovalRequest, session: SessionDep, actor: WriterDep, now: NowDep
) -> GoalRead:
    """Ask for the goal's approval (kind `goal`; decided under /approvals). 422 on `children` when
    its summable children do not add up to its target."""
    await access.require_write(session, actor, GoalItem.goal, goal_id)
    goal = await goals.request_approval(session, actor=actor, goal_id=goal_id, reason=body.reason, now=now)
    return await _one(session, goal)


@router.post(
    "/goals/{goal_id}/adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=GoalAdjustmentRead,
    operation_id="requestGoalAdjustment",
    responses={**NOT_FOUND, **CONFLICT},
)
async def request_goal_adjustment(
    goal_id: int, body: GoalAdjustmentCreate, session: SessionDep, actor: WriterDep, now: NowDep
) -> GoalAdjustmentRead:
    """Ask to change an approved goal's target, with a reason (kind `goal_adjustment`, seed 002
    调整需经审批); the target changes when it is approved."""
    await access.require_write(session, actor, GoalItem.goal, goal_id)
    adjustment = await goals.request_adjustment(session, actor=actor, goal_id=goal_id, data=body, now=now)
    return GoalAdjustmentRead.model_validate(adjustment)


@router.get(
    "/goals/{goal_id}/adjustments",
    response_model=list[GoalAdjustmentRead],
    operation_id="listGoalAdjustments",
    responses=NOT_FOUND,
)
async def list_goal_adjustments(
    goal_id: int, session: SessionDep, actor: ActorDep, now: NowDep
) -> list[GoalAdjustmentRead]:
    """Every adjustment asked for the goal, oldest first: its target's history."""
    await access.require_read(session, actor, GoalItem.goal, goal_id)
    return [GoalAdjustmentRead.model_validate(a) for a in await goals.adjustments_of(session, goal_id, now)]


@router.post(
    "/goals/{goal_id}/actuals",
    status_code=status.HTTP_201_CREATED,
    response_model=GoalActualRead,
    operation_id="reportGoalActual",
    responses=NOT_FOUND,
)
async def report_goal_actual(
    goal_id: int, body: GoalActualCreate, session: SessionDep, actor: WriterDep, now: NowDep
) -> GoalActualRead:
    """Report the goal's own figure to date (the latest report counts)."""
    await access.require_write(session, actor, GoalItem.goal, goal_id)
    row = await goals.report_actual(session, actor=actor, goal_id=goal_id, data=body, now=now)
    return GoalActualRead.model_validate(row)


@router.get(
    "/goals/{goal_id}/actuals",
    response_model=list[GoalActualRead],
    operation_id="listGoalActuals",
    responses=NOT_FOUND,
)
async def list_goal_actuals(goal_id: int, session: SessionDep, actor: ActorDep) -> list[GoalActualRead]:
    """The values reported on the goal, oldest first."""
    await access.require_read(session, actor, GoalItem.goal, goal_id)
    return [GoalActualRead.model_validate(a) for a in await goals.actuals_of(session, goal_id)]


@router.get(
    "/goals/{goal_id}/progress", response_model=GoalProgress, operation_id="getGoalProgress", responses=NOT_FOUND
)
async def get_goal_progress(goal_id: int, session: SessionDep, actor: ActorDep) -> GoalProgress:
    """Target, actual (rolled up from the children for summable metrics) and attainment % of the
    goal and of each of its children."""
    await access.require_read(session, actor, GoalItem.goal, goal_id)
    return await goals.progress(session, goal_id)
