"""A marketing department with a management chain (owner → manager → director, the head) and the
seeded SLA policies, the ROI estimate's among them."""

from __future__ import annotations

from typing import Any

import pytest

from shared.db import unit_of_work
from shared.models import Department, Role
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import make_department, make_token, make_user
from tests.roi.helpers import T0, at


@pytest.fixture
async def org(sessions, clock) -> dict[str, Any]:
    at(clock, T0)
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)  # seeds the ROI estimate's deadline policy with the others
    dept = await make_department(sessions, name="市场部")
    director = await make_user(sessions, name="王总监", department_id=dept.id, role=Role.manager)
    manager = await make_user(sessions, name="李经理", department_id=dept.id, manager_id=director.id)
    owner = await make_user(sessions, name="张策划", department_id=dept.id, manager_id=manager.id)
    other = await make_user(sessions, name="陈调研", department_id=dept.id, manager_id=manager.id)
    async with unit_of_work(sessions) as s:
        (await s.get_one(Department, dept.id)).head_user_id = director.id
    tokens = {}
    for name, user in (("director", director), ("owner", owner), ("other", other)):
        _, token = await make_token(sessions, user=user)
        tokens[name] = {"Authorization": f"Bearer {token}"}
    return {"dept": dept, "director": director, "manager": manager, "owner": owner, "tokens": tokens}
