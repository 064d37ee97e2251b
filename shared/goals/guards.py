"""What a goal's approval allows elsewhere: a campaign serving a quarterly goal starts only once
that quarterly marketing plan is approved (seed 002: 季度营销计划应提交给公司管理层审批后执行)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, FieldError
from shared.goals.models import Goal, GoalPeriodKind, GoalStatus


async def quarterly_plan(session: AsyncSession, goal_id: int | None) -> Goal | None:
    """The quarterly goal a campaign's goal belongs to: itself, or a monthly goal's parent."""
    goal = await session.get(Goal, goal_id) if goal_id is not None else None
    if goal is not None and goal.period_kind == GoalPeriodKind.month and goal.parent_id is not None:
        goal = await session.get(Goal, goal.parent_id)
    return goal if goal is not None and goal.period_kind == GoalPeriodKind.quarter else None


async def require_approved_plan(session: AsyncSession, goal_id: int | None) -> None:
    """409 naming the quarterly goal when it is not approved yet."""
    plan = await quarterly_plan(session, goal_id)
    if plan is not None and plan.status != GoalStatus.approved:
        raise Conflict(
            f"the campaign serves goal {plan.id} {plan.title!r} ({plan.period}), which is {plan.status.value}: "
            "a quarterly marketing plan is approved by management before its campaigns start",
            errors=[FieldError("goal_id", f"goal {plan.id} ({plan.period}) is {plan.status.value}", "approval")],
        )
