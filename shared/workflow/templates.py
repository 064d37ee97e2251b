"""Workflow templates: created, versioned (an edit is a new version), and the default seeded."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.approvals.rules import create_rule
from shared.approvals.schemas import ApprovalRuleCreate
from shared.errors import Conflict, InvalidInput, NotFound
from shared.kpis.catalogue import ensure_default_metrics
from shared.models import ApprovalRule, WorkflowTemplate
from shared.sla import policies
from shared.workflow import defaults
from shared.workflow.schemas import TemplateCreate, TemplateVersionCreate
from shared.workflow.spec import KEY, parse_stages


async def current(session: AsyncSession, key: str, *, for_update: bool = False) -> WorkflowTemplate:
    stmt = select(WorkflowTemplate).where(WorkflowTemplate.key == key, WorkflowTemplate.is_current)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.scalars(stmt)).first()
    if row is None:
        raise NotFound(f"no workflow template {key!r}")
    return row


async def version(session: AsyncSession, key: str, number: int) -> WorkflowTemplate:
    row = (
        await session.scalars(
            select(WorkflowTemplate).where(WorkflowTemplate.key == key, WorkflowTemplate.version == number)
        )
    ).first()
    if row is None:
        raise NotFound(f"workflow template {key!r} has no version {number}")
    return row


async def create_template(session: AsyncSession, *, actor: Actor, data: TemplateCreate) -> WorkflowTemplate:
    if not KEY.match(data.key):
        raise InvalidInput.for_field("key", "must be lower_snake_case, starting with a letter")
    exists = await session.scalar(select(WorkflowTemplate.id).where(WorkflowTemplate.key == data.key).limit(1))
    if exists is not None:
        raise Conflict.on_input(
            f"a template {data.key!r} exists; publish a new version of it instead (publishWorkflowTemplateVersion)",
            "key",
            "already taken",
            "unique",
        )
    stages = parse_stages(data.stages)
    row = WorkflowTemplate(
        key=data.key,
        version=1,
        name=data.name,
        name_en=data.name_en,
        description=data.description,
        stages=stages,
        is_current=True,
        open_tasks_at_completion=data.open_tasks_at_completion,
    )
    return await crud.create(session, actor=actor, obj=row, entity_type="workflow_template")


async def publish_version(
    session: AsyncSession, *, actor: Actor, key: str, data: TemplateVersionCreate
) -> WorkflowTemplate:
    """A new version from the current one plus the fields `data` gives (left out or null: kept);
    campaigns on older versions keep theirs."""
    old = await current(session, key, for_update=True)
    stages = parse_stages(data.stages if data.stages is not None else old.stages)
    old.is_current = False
    await session.flush()
    row = WorkflowTemplate(
        key=key,
        version=old.version + 1,
        name=data.name if data.name is not None else old.name,
        name_en=data.name_en if data.name_en is not None else old.name_en,
        description=data.description if data.description is not None else old.description,
        stages=stages,
        is_current=True,
        open_tasks_at_completion=data.open_tasks_at_completion or old.open_tasks_at_completion,
    )
    return await crud.create(session, actor=actor, obj=row, entity_type="workflow_template")


async def ensure_workflow_defaults(session: AsyncSession) -> None:
    """Seed once (by key/name): the default calendar and task SLA set, the default campaign
    template, the SLA sets of stages, reviews, approvals, collaboration and customer feedback, and
    the routine approval rule."""
    actor = Actor.system("workflow-defaults")
    # Several API replicas may start at once: one seeds, the others wait and then find it done.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('closeloop:seed-defaults'))"))
    await policies.ensure_sla_defaults(session)
    default = TemplateCreate.model_validate(defaults.DEFAULT_TEMPLATE)
    if await session.scalar(select(WorkflowTemplate.id).where(WorkflowTemplate.key == default.key)) is None:
        await create_template(session, actor=actor, data=default)
    for raw in defaults.DEFAULT_APPROVAL_RULES:
        rule = ApprovalRuleCreate.model_validate(raw)  # validated like any rule a manager adds
        if await session.scalar(select(ApprovalRule.id).where(ApprovalRule.name == rule.name)) is None:
            await create_rule(session, actor=actor, data=rule)
    await ensure_default_metrics(session)  # the KPI metric catalogue
