"""Tasks, each with its SLA state embedded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import Field, computed_field
from sqlalchemy import select

from services.api.common import CursorQ, Instant, LimitQ, PageOut, ReadModel, WriteModel, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from services.api.sla_state import read_with_sla
from shared import crud
from shared.models import Priority, Task, TaskStatus
from shared.pagination import paginate
from shared.sla.schemas import TimerSummary
from shared.tasks import service as tasks
from shared.tasks.sla import TaskSubject

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["tasks"])

Title = Annotated[str, Field(min_length=1, max_length=300)]
Description = Annotated[str, Field(max_length=20_000)]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=20)]


class TaskCreate(WriteModel):
    title: Title
    description: Description | None = None
    campaign_id: int | None = None
    stage_id: int | None = Field(default=None, description="a stage of the campaign (the campaign follows from it)")
    assignee_id: int | None = None
    priority: Priority = Priority.normal
    status: TaskStatus = TaskStatus.todo
    due_at: Instant | None = Field(default=None, description="ISO-8601 with offset; overrides the SLA target")
    tags: Tags = []


class TaskUpdate(WriteModel):
    title: Title | None = None
    description: Description | None = None
    campaign_id: int | None = None
    stage_id: int | None = None
    assignee_id: int | None = None
    priority: Priority | None = None
    status: TaskStatus | None = None
    due_at: Instant | None = None
    tags: Tags | None = None


class TaskRead(ReadModel):
    id: int
    title: str
    description: str | None
    campaign_id: int | None
    stage_id: int | None
    assignee_id: int | None
    reporter_id: int | None
    status: TaskStatus
    priority: Priority
    due_at: datetime | None
    completed_at: datetime | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    sla: list[TimerSummary] = Field(default=[], description="the task's SLA timers (running, paused or met)")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_open(self) -> bool:
        return self.status.is_open


async def _read_page(session: SessionDep, rows: list[Task], now: datetime) -> list[TaskRead]:
    return await read_with_sla(session, TaskSubject.task, rows, TaskRead, now)


@router.post("/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskRead, operation_id="createTask")
async def create_task(
    body: TaskCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> TaskRead:
    """Create a task; the caller is its reporter. Matching SLA policies start their timers."""
    task = await tasks.create_task(session, actor=actor, data=body.model_dump(), now=now)
    return (await _read_page(session, [task], now))[0]


@router.get("/tasks", response_model=PageOut[TaskRead], operation_id="listTasks")
async def list_tasks(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    status: TaskStatus | None = None,
    assignee_id: int | None = None,
    campaign_id: int | None = None,
    stage_id: int | None = None,
    priority: Priority | None = None,
    due_before: Instant | None = None,
    due_after: Instant | None = None,
    overdue: Annotated[bool | None, Query(description="open and past due")] = None,
    tag: Annotated[str | None, Query(description="has this tag")] = None,
) -> dict:
    """List tasks with board filters; each carries its SLA state."""
    stmt = tasks.task_filter(
        select(Task),
        status=status,
        assignee_id=assignee_id,
        campaign_id=campaign_id,
        stage_id=stage_id,
        priority=priority,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        tag=tag,
        now=now,
    )
    page = await paginate(session, stmt, Task.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now), "next_cursor": page.next_cursor}


@router.get("/tasks/{task_id}", response_model=TaskRead, operation_id="getTask", responses=NOT_FOUND)
async def get_task(task_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> TaskRead:
    """One task, with its SLA state."""
    return (await _read_page(session, [await crud.get_or_404(session, Task, task_id)], now))[0]


@router.patch("/tasks/{task_id}", response_model=TaskRead, operation_id="updateTask", responses=NOT_FOUND)
async def update_task(
    task_id: int, body: TaskUpdate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> TaskRead:
    """Change a task. Its SLA timers follow in the same transaction: blocked pauses, done meets,
    cancelled cancels, a new `due_at` re-arms the deadline."""
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, ("title", "priority", "status", "tags"))
    task = await tasks.update_task(session, actor=actor, task_id=task_id, changes=changes, now=now)
    return (await _read_page(session, [task], now))[0]


@router.delete(
    "/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteTask", responses=NOT_FOUND
)
async def delete_task(task_id: int, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep) -> None:
    """Delete a task; its running SLA timers are cancelled."""
    await tasks.delete_task(session, actor=actor, task_id=task_id, now=now)
