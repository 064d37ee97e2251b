"""Goals as a trail item: `GET /api/v1/trail/goal/{id}` gathers its comments and audited changes
(drafts, approval, every adjustment). Goals have no deadline of their own: their approvals do."""

from __future__ import annotations

from enum import StrEnum

from shared.goals.models import Goal
from shared.sla.registry import TrailItem, register_item


class GoalItem(StrEnum):
    goal = "goal"


register_item(TrailItem(GoalItem.goal, Goal.id))
