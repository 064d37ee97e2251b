"""Campaigns and tasks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime, Field, computed_field
from sqlalchemy import select

from services.api.common import CursorQ, LimitQ, PageOut, ReadModel, WriteModel, page_out
from services.api.deps import ActorDep, NowDep, SessionDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from shared import crud
from shared.campaigns import service as campaigns
from shared.errors import InvalidInput
from shared.models import Campaign, CampaignStatus, Priority, Task, TaskStatus
from shared.pagination import paginate
from shared.tasks import service as tasks

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


def _reject_nulls(changes: dict, fields: tuple[str, ...]) -> None:
    for field in fields:
        if field in changes and changes[field] is None:
            raise InvalidInput.for_field(f"body.{field}", "cannot be null")


# ---- campaigns -----------------------------------------------------------------------------------
class CampaignCreate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=20_000)] | None = None
    owner_id: int | None = Field(default=None, description="defaults to the caller")
    department_id: int | None = None
    budget: Money | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: CampaignStatus = CampaignStatus.draft


class CampaignUpdate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=20_000)] | None = None
    owner_id: int | None = None
    department_id: int | None = None
    budget: Money | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: CampaignStatus | None = None


class CampaignRead(ReadModel):
    id: int
    name: str
    description: str | None
    owner_id: int | None
    department_id: int | None
    budget: Decimal | None
    start_date: date | None
    end_date: date | None
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime


@router.post(
    "/campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="createCampaign",
)
async def create_campaign(body: CampaignCreate, session: SessionDep, actor: WriterDep) -> Campaign:
    """Create a campaign."""
    return await campaigns.create_campaign(session, actor=actor, data=body.model_dump())


@router.get("/campaigns", response_model=PageOut[CampaignRead], tags=["campaigns"], operation_id="listCampaigns")
async def list_campaigns(
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    status: CampaignStatus | None = None,
    owner_id: int | None = None,
    department_id: int | None = None,
    q: Annotated[str | None, Query(description="substring of the name")] = None,
) -> dict:
    """List campaigns."""
    stmt = campaigns.campaign_filter(
        select(Campaign), status=status, owner_id=owner_id, department_id=department_id, q=q
    )
    return page_out(await paginate(session, stmt, Campaign.id, limit=limit, cursor=cursor), CampaignRead)


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="getCampaign",
    responses=NOT_FOUND,
)
async def get_campaign(campaign_id: int, session: SessionDep, actor: ActorDep) -> Campaign:
    """One campaign."""
    return await crud.get_or_404(session, Campaign, campaign_id)


@router.patch(
    "/campaigns/{campaign_id}",
    response_model=CampaignRead,
    tags=["campaigns"],
    operation_id="updateCampaign",
    responses=NOT_FOUND,
)
async def update_campaign(campaign_id: int, body: CampaignUpdate, session: SessionDep, actor: WriterDep) -> Campaign:
    """Change a campaign."""
    changes = body.model_dump(exclude_unset=True)
    _reject_nulls(changes, ("name", "status"))
    return await campaigns.update_campaign(session, actor=actor, campaign_id=campaign_id, changes=changes)


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["campaigns"],
    operation_id="deleteCampaign",
    responses=NOT_FOUND,
)
async def delete_campaign(campaign_id: int, session: SessionDep, actor: WriterDep) -> None:
    """Delete a campaign and its tasks."""
    campaign = await crud.get_or_404(session, Campaign, campaign_id, for_update=True)
    await crud.delete(session, actor=actor, obj=campaign, entity_type="campaign")


# ---- tasks ---------------------------------------------------------------------------------------
class TaskCreate(WriteModel):
    title: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[str, Field(max_length=20_000)] | None = None
    campaign_id: int | None = None
    assignee_id: int | None = None
    priority: Priority = Priority.normal
    status: TaskStatus = TaskStatus.todo
    due_at: AwareDatetime | None = Field(default=None, description="ISO-8601 with offset")


class TaskUpdate(WriteModel):
    title: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    description: Annotated[str, Field(max_length=20_000)] | None = None
    campaign_id: int | None = None
    assignee_id: int | None = None
    priority: Priority | None = None
    status: TaskStatus | None = None
    due_at: AwareDatetime | None = None


class TaskRead(ReadModel):
    id: int
    title: str
    description: str | None
    campaign_id: int | None
    assignee_id: int | None
    reporter_id: int | None
    status: TaskStatus
    priority: Priority
    due_at: datetime | None
    completed_at: datetime | None
    overdue_alerted_at: datetime | None = Field(description="when the overdue alert for this due_at was raised")
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_open(self) -> bool:
        return self.status.is_open


@router.post(
    "/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskRead, tags=["tasks"], operation_id="createTask"
)
async def create_task(body: TaskCreate, session: SessionDep, actor: WriterDep, now: NowDep) -> Task:
    """Create a task; the caller is its reporter."""
    return await tasks.create_task(session, actor=actor, data=body.model_dump(), now=now)


@router.get("/tasks", response_model=PageOut[TaskRead], tags=["tasks"], operation_id="listTasks")
async def list_tasks(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    status: TaskStatus | None = None,
    assignee_id: int | None = None,
    campaign_id: int | None = None,
    priority: Priority | None = None,
    due_before: AwareDatetime | None = None,
    due_after: AwareDatetime | None = None,
    overdue: Annotated[bool | None, Query(description="open and past due")] = None,
) -> dict:
    """List tasks with board filters."""
    stmt = tasks.task_filter(
        select(Task),
        status=status,
        assignee_id=assignee_id,
        campaign_id=campaign_id,
        priority=priority,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        now=now,
    )
    return page_out(await paginate(session, stmt, Task.id, limit=limit, cursor=cursor), TaskRead)


@router.get("/tasks/{task_id}", response_model=TaskRead, tags=["tasks"], operation_id="getTask", responses=NOT_FOUND)
async def get_task(task_id: int, session: SessionDep, actor: ActorDep) -> Task:
    """One task."""
    return await crud.get_or_404(session, Task, task_id)


@router.patch(
    "/tasks/{task_id}", response_model=TaskRead, tags=["tasks"], operation_id="updateTask", responses=NOT_FOUND
)
async def update_task(task_id: int, body: TaskUpdate, session: SessionDep, actor: WriterDep, now: NowDep) -> Task:
    """Change a task. Moving `due_at` re-arms its overdue alert."""
    changes = body.model_dump(exclude_unset=True)
    _reject_nulls(changes, ("title", "priority", "status"))
    return await tasks.update_task(session, actor=actor, task_id=task_id, changes=changes, now=now)


@router.delete(
    "/tasks/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["tasks"],
    operation_id="deleteTask",
    responses=NOT_FOUND,
)
async def delete_task(task_id: int, session: SessionDep, actor: WriterDep) -> None:
    """Delete a task."""
    task = await crud.get_or_404(session, Task, task_id, for_update=True)
    await crud.delete(session, actor=actor, obj=task, entity_type="task")
