"""Tasks, each with its SLA state embedded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, status
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, ArchivedQ, CursorQ, Instant, LimitQ, PageOut, TextQ, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from services.api.sla_state import read_with_sla
from shared import crud
from shared.access import policy as access
from shared.campaigns.sla import CampaignItem
from shared.models import Priority, Task, TaskStatus
from shared.pagination import paginate
from shared.tasks import service as tasks
from shared.tasks.schemas import TaskCreate, TaskRead, TaskUpdate
from shared.tasks.sla import TaskSubject

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["tasks"])

_TASK = versions.row(Task, id="task_id")  # where its version (ETag) is


async def _read_page(session: SessionDep, rows: list[Task], now: datetime) -> list[TaskRead]:
    return await read_with_sla(session, TaskSubject.task, rows, TaskRead, now)


@router.post("/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskRead, operation_id="createTask")
async def create_task(
    body: TaskCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> TaskRead:
    """Create a task; the caller is its reporter. Matching SLA policies start their timers. A task
    of a campaign belongs to the campaign's department: only those who may change the campaign add one."""
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    task = await tasks.create_task(session, actor=actor, data=body, now=now)
    return (await _read_page(session, [task], now))[0]


@router.get("/tasks", response_model=PageOut[TaskRead], operation_id="listTasks")
async def list_tasks(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    status: Annotated[list[TaskStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    department_id: Annotated[
        int | None, Query(description="the assignee's department or the campaign's department")
    ] = None,
    assignee_id: int | None = None,
    campaign_id: int | None = None,
    stage_id: int | None = None,
    priority: Priority | None = None,
    due_before: Instant | None = None,
    due_after: Instant | None = None,
    overdue: Annotated[bool | None, Query(description="open and past due")] = None,
    tag: Annotated[str | None, Query(description="has this tag")] = None,
    q: TextQ = None,
    archived: ArchivedQ = False,
) -> dict:
    """List tasks with board filters; each carries its SLA state. A task belongs to a department
    through its assignee (the assignee's department) or its campaign (the campaign's department):
    `department_id` matches either."""
    stmt = tasks.task_filter(
        access.visible(select(Task), actor),
        statuses=status,
        assignee_id=assignee_id,
        campaign_id=campaign_id,
        stage_id=stage_id,
        priority=priority,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        tag=tag,
        q=q,
        archived=archived,
        now=now,
    )
    departments = tasks.in_department(department_id) if department_id is not None else ()
    page = await paginate(session, stmt, Task.id, limit=limit, cursor=cursor, any_of=departments)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.get(
    "/tasks/{task_id}",
    dependencies=[versions.reads(_TASK)],
    response_model=TaskRead,
    operation_id="getTask",
    responses=NOT_FOUND,
)
async def get_task(task_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> TaskRead:
    """One task, with its SLA state."""
    await access.require_read(session, actor, TaskSubject.task, task_id)
    return (await _read_page(session, [await crud.get_or_404(session, Task, task_id)], now))[0]


@router.patch(
    "/tasks/{task_id}",
    dependencies=[versions.writes(_TASK)],
    response_model=TaskRead,
    operation_id="updateTask",
    responses=NOT_FOUND,
)
async def update_task(
    task_id: int, body: TaskUpdate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> TaskRead:
    """Change a task. Its SLA timers follow in the same transaction: blocked pauses, done meets,
    cancelled cancels, a new `due_at` re-arms the deadline."""
    reject_nulls(body.model_dump(exclude_unset=True), ("title", "priority", "status", "tags"))
    await access.require_write(session, actor, TaskSubject.task, task_id)
    # moved into a campaign: one the caller may change
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    task = await tasks.update_task(session, actor=actor, task_id=task_id, changes=body, now=now)
    return (await _read_page(session, [task], now))[0]


@router.delete(
    "/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteTask", responses=NOT_FOUND
)
async def delete_task(task_id: int, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep) -> None:
    """A task never worked on (still `todo`, no comments, no escalations) is deleted. One with
    history is archived instead: cancelled if open, hidden from the board (`?archived=true` lists
    it), still read by id (with `archived_at`), in its trail and in the audit log (`archive`). Its
    SLA timers stop either way; an archived task is read-only (409)."""
    await access.require_write(session, actor, TaskSubject.task, task_id)
    await tasks.delete_task(session, actor=actor, task_id=task_id, now=now)
