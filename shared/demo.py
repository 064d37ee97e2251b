"""Idempotent demo data for `make run`: a marketing org, a campaign, a few tasks, a goal breakdown."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import crud
from shared.actor import Actor
from shared.approvals.schemas import ApprovalDecision, Verdict
from shared.approvals.service import decide
from shared.budget.models import BudgetCategory
from shared.budget.schemas import BudgetLineCreate, ExpenseCreate, ExpensePayment
from shared.budget.service import create_line, mark_paid, request_expense
from shared.campaigns.sla import CampaignItem
from shared.goals.models import Goal, GoalPeriodKind, GoalStatus
from shared.goals.sla import GoalItem
from shared.kpis import service as kpis
from shared.kpis.catalogue import MetricKey
from shared.kpis.schemas import KpiCreate, ReadingCreate
from shared.models import ApprovalRule, Campaign, CampaignStatus, Department, Priority, Role, User
from shared.org.tokens import ensure_bootstrap_admin
from shared.rectifications import service as rectifications
from shared.rectifications.models import RectificationSource
from shared.rectifications.schemas import RectificationCreate
from shared.reports import service as reports
from shared.reports.models import Report, ReportKind, ReportSchedule, ReportScope
from shared.risks import service as risks
from shared.risks.models import Grade, ResponseStrategy, RiskCategory
from shared.risks.schemas import RiskCreate
from shared.tasks.schemas import TaskCreate
from shared.tasks.service import create_task
from shared.workflow.defaults import BUDGET_CHANGE_RULE, LINE_OVERRUN_RULE
from shared.workflow.templates import ensure_workflow_defaults

DEMO_ADMIN_EMAIL = "admin@demo.closeloop.local"
DEMO_REPORT_SCHEDULE = "每周经营周报 Weekly company report (demo)"
DEPARTMENTS = ["市场部 Marketing", "销售部 Sales", "产品部 Product", "设计部 Design", "法务部 Legal", "财务部 Finance"]
PEOPLE = [  # email, name, role, department, manager email
    ("director@demo.closeloop.local", "王总监 Wang (director)", Role.director, "市场部 Marketing", None),
    (
        "manager@demo.closeloop.local",
        "李经理 Li (manager)",
        Role.manager,
        "市场部 Marketing",
        "director@demo.closeloop.local",
    ),
    (
        "planner@demo.closeloop.local",
        "张策划 Zhang (planner)",
        Role.member,
        "市场部 Marketing",
        "manager@demo.closeloop.local",
    ),
    ("sales@demo.closeloop.local", "陈销售 Chen (sales)", Role.member, "销售部 Sales", None),
    ("finance@demo.closeloop.local", "钱总监 Qian (finance director)", Role.director, "财务部 Finance", None),
]


async def seed_demo(session: AsyncSession, *, admin_token: str, now: datetime) -> None:
    """Create the demo org once; later calls change nothing."""
    actor = Actor.system("demo-seed")
    await ensure_bootstrap_admin(session, token=admin_token, email=DEMO_ADMIN_EMAIL)
    await ensure_workflow_defaults(session)
    departments: dict[str, Department] = {}
    for name in DEPARTMENTS:
        dept = (await session.scalars(select(Department).where(Department.name == name))).one_or_none()
        departments[name] = dept or await crud.create(
            session, actor=actor, obj=Department(name=name), entity_type="department"
        )
    users: dict[str, User] = {}
    for email, name, role, dept_name, manager_email in PEOPLE:
        user = (await session.scalars(select(User).where(func.lower(User.email) == email))).one_or_none()
        if user is None:
            user = await crud.create(
                session,
                actor=actor,
                entity_type="user",
                obj=User(
                    name=name,
                    email=email,
                    role=role,
                    department_id=departments[dept_name].id,
                    manager_id=users[manager_email].id if manager_email else None,
                ),
            )
        users[email] = user
    marketing = departments["市场部 Marketing"]
    if marketing.head_user_id is None:
        marketing.head_user_id = users["director@demo.closeloop.local"].id
    finance = departments["财务部 Finance"]
    if finance.head_user_id is None:
        finance.head_user_id = users["finance@demo.closeloop.local"].id
    await _name_the_directors(session, marketing=marketing, finance=finance)
    campaign_name = "双十一大促 Singles' Day promotion"
    if await session.scalar(select(Campaign.id).where(Campaign.name == campaign_name)) is None:
        campaign = await crud.create(
            session,
            actor=actor,
            entity_type=CampaignItem.campaign,
            obj=Campaign(
                name=campaign_name,
                owner_id=users["manager@demo.closeloop.local"].id,
                department_id=marketing.id,
                budget=Decimal("500000.00"),
                start_date=date(2026, 10, 20),
                end_date=date(2026, 11, 30),
                status=CampaignStatus.active,
            ),
        )
        planner = users["planner@demo.closeloop.local"].id
        for title, due, priority in (
            ("《需求调研报告》 research report", now + timedelta(days=3), Priority.high),
            ("《活动策划方案》 campaign plan", now + timedelta(days=8), Priority.normal),
            ("竞品分析 competitor scan (already late)", now - timedelta(hours=2), Priority.urgent),
        ):
            await create_task(
                session,
                actor=actor,
                now=now,
                data=TaskCreate(
                    title=title, campaign_id=campaign.id, assignee_id=planner, priority=priority, due_at=due
                ),
            )
        # KPIs (seed 000's examples): leads 5000 → 4200 is −16 %, beyond ±10 %: a variance asking for a cause.
        for key, target, value in (
            (MetricKey.leads, "5000", "4200"),
            (MetricKey.conversion_rate, "8", "10"),
            (MetricKey.revenue, "2000000", "1850000"),
        ):
            kpi = await kpis.create_kpi(
                session,
                actor=actor,
                campaign_id=campaign.id,
                data=KpiCreate(metric_key=key, target=Decimal(target), owner_id=planner),
                now=now,
            )
            await kpis.add_reading(
                session,
                actor=actor,
                campaign_id=campaign.id,
                kpi_id=kpi.id,
                data=ReadingCreate(value=Decimal(value), source="CRM"),
                now=now,
            )
        await _budget(session, campaign=campaign, users=users, now=now)
        await _risks_and_rectification(session, actor=actor, campaign=campaign, owner=planner, now=now)
    await _seed_goals(session, actor=actor, now=now)
    await _seed_report(session, actor=actor, now=now)
    await session.flush()


async def _risks_and_rectification(
    session: AsyncSession, *, actor: Actor, campaign: Campaign, owner: int, now: datetime
) -> None:
    """Two risks on the 3 × 3 matrix (one high: the director hears of it) and a rectification item
    from the leads variance, so the weekly report's risk and rectification sections show something."""
    for title, category, likelihood, impact, strategy, plan in (
        (
            "竞品提前降价 competitor cuts prices early",
            RiskCategory.competition,
            Grade.high,
            Grade.medium,
            ResponseStrategy.mitigate,
            "提前锁定达人档期，准备满减预案",
        ),
        (
            "物流爆仓 carrier overload",
            RiskCategory.execution,
            Grade.medium,
            Grade.medium,
            ResponseStrategy.transfer,
            "与第二家快递签约分流",
        ),
    ):
        await risks.create(
            session,
            actor=actor,
            now=now,
            data=RiskCreate(
                title=title,
                category=category,
                likelihood=likelihood,
                impact=impact,
                owner_id=owner,
                strategy=strategy,
                response_plan=plan,
                campaign_id=campaign.id,
            ),
        )
    await rectifications.create(
        session,
        actor=actor,
        now=now,
        data=RectificationCreate(
            title="线索获取不足 leads below target",
            source=RectificationSource.kpi_variance,
            problem="线索 4200，低于目标 5000（−16 %）",
            measure="增加信息流投放预算并优化落地页",
            acceptance_criteria="下周线索日均 ≥ 180",
            owner_id=owner,
            campaign_id=campaign.id,
        ),
    )


async def _seed_report(session: AsyncSession, *, actor: Actor, now: datetime) -> None:
    """A weekly company report schedule (no chat channel: the demo has none) and this week's
    report built from the demo data, so a newcomer can open a report page at once."""
    if await session.scalar(select(ReportSchedule.id).where(ReportSchedule.name == DEMO_REPORT_SCHEDULE)):
        return
    schedule = await crud.create(
        session,
        actor=actor,
        entity_type=reports.SCHEDULE,
        obj=ReportSchedule(
            name=DEMO_REPORT_SCHEDULE,
            kind=ReportKind.weekly,
            scope=ReportScope.company,
            channel_ids=[],
            send_at="17:00",
            locale="zh-CN",
            enabled=True,
            active_from=now,
        ),
    )
    await reports.run_now(session, schedule_id=schedule.id, now=now, links=None)


async def demo_report_id(session: AsyncSession) -> int | None:
    """The latest report of the demo's weekly schedule (for the start-up banner's link)."""
    return await session.scalar(
        select(func.max(Report.id)).join(ReportSchedule).where(ReportSchedule.name == DEMO_REPORT_SCHEDULE)
    )


async def _seed_goals(session: AsyncSession, *, actor: Actor, now: datetime) -> None:
    """A company annual leads goal broken down into quarters, Q4 (the Singles' Day quarter)
    approved, and the demo campaign serving it."""
    title = "2026 全年线索 Company leads 2026"
    if await session.scalar(select(Goal.id).where(Goal.title == title)) is not None:
        return
    director = await session.scalar(select(User.id).where(User.email == "director@demo.closeloop.local"))
    year = await crud.create(
        session,
        actor=actor,
        entity_type=GoalItem.goal,
        obj=Goal(
            title=title,
            metric="leads",
            target=Decimal(20000),
            period_kind=GoalPeriodKind.year,
            period="2026",
            owner_id=director,
            status=GoalStatus.draft,
        ),
    )
    for quarter, target in ((1, 4000), (2, 4000), (3, 5000), (4, 7000)):
        approved = quarter == 4
        q = await crud.create(
            session,
            actor=actor,
            entity_type=GoalItem.goal,
            obj=Goal(
                title=f"2026 Q{quarter} 线索 Leads Q{quarter}",
                parent_id=year.id,
                metric="leads",
                target=Decimal(target),
                period_kind=GoalPeriodKind.quarter,
                period=f"2026-Q{quarter}",
                owner_id=director,
                status=GoalStatus.approved if approved else GoalStatus.draft,
                approved_at=now if approved else None,
            ),
        )
        if approved:
            campaign = (
                await session.scalars(select(Campaign).where(Campaign.name == "双十一大促 Singles' Day promotion"))
            ).first()
            if campaign is not None and campaign.goal_id is None:
                campaign.goal_id = q.id


async def _name_the_directors(session: AsyncSession, *, marketing: Department, finance: Department) -> None:
    """The seeded 双签 rules (budget change, expense beyond 115 %) name the two directors."""
    await session.flush()
    for name in (BUDGET_CHANGE_RULE, LINE_OVERRUN_RULE):
        rule = (await session.scalars(select(ApprovalRule).where(ApprovalRule.name == name))).one_or_none()
        if rule is not None and rule.steps[0]["approvers"] == ["department_head", "director"]:
            approvers = [f"department:{marketing.id}", f"department:{finance.id}"]
            rule.steps = [{**rule.steps[0], "approvers": approvers}]


async def _budget(session: AsyncSession, *, campaign: Campaign, users: dict[str, User], now: datetime) -> None:
    """Budget lines for the whole 500 000, one expense approved and paid, one waiting for approval."""
    actor = Actor.system("demo-seed")
    lines = {}
    for category, name, planned in (
        (BudgetCategory.media, "抖音 + 微信信息流 feeds", "250000"),
        (BudgetCategory.design, "主视觉与物料 key visuals", "80000"),
        (BudgetCategory.events, "线下快闪 pop-up stores", "120000"),
        (BudgetCategory.gifts, "满赠礼品 gifts", "50000"),
    ):
        data = BudgetLineCreate(category=category, name=name, planned=Decimal(planned))
        lines[category] = await create_line(session, actor=actor, campaign_id=campaign.id, data=data, now=now)

    def person(email: str) -> Actor:
        user = users[email]
        return Actor.user(user.id, user.role)

    planner = person("planner@demo.closeloop.local")
    feeds = await request_expense(
        session,
        actor=planner,
        data=ExpenseCreate(
            line_id=lines[BudgetCategory.media].id, amount=Decimal("120000"), vendor="巨量引擎 Ocean Engine"
        ),
        now=now,
    )
    if feeds.approval_id is not None:  # always: an expense asks for its approval
        await decide(
            session,
            actor=person("director@demo.closeloop.local"),
            approval_id=feeds.approval_id,
            data=ApprovalDecision(decision=Verdict.approve),
            now=now,
        )
        await mark_paid(
            session, actor=person("finance@demo.closeloop.local"), expense_id=feeds.id, data=ExpensePayment(), now=now
        )
    await request_expense(
        session,
        actor=planner,
        data=ExpenseCreate(
            line_id=lines[BudgetCategory.design].id, amount=Decimal("30000"), vendor="设计工作室 design studio"
        ),
        now=now,
    )
