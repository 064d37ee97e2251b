"""Benchmark data (not a test): seeds a scratch database at scale with PostgreSQL COPY, not the API.

At scale 1.0: 50 departments (a head and members each, one director above the heads), one chat
channel per department, the product's own reference data (default calendar, SLA and escalation
policies, the campaign template, approval rules, the KPI catalogue — `ensure_workflow_defaults`),
20 000 campaigns across 2025–2026 with their stage histories, 1 000 000 tasks, 200 000 SLA timers
(tasks', stages' and review responses'), reviews, collaboration requests, customer feedback, KPI
readings, budget lines and expenses, risks and rectification items. Deterministic: one seeded RNG.

    .venv/bin/python bench/seed.py --scale 0.01            # into a recreated `closeloop_bench`
    .venv/bin/python bench/seed.py --tasks 200000 --campaigns 4000

One generator per table yields dicts keyed by the model's column names; `Copier` turns them into
COPY records with the table's columns taken from the SQLAlchemy model, so a column added later is
filled by adding one key (guarded with `has(Model, column)` while the column is not merged yet).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Column, Table, select
from sqlalchemy.dialects.postgresql import JSONB

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared import subjects  # noqa: E402, F401 — registers every domain's subject types and tables
from shared.approvals.sla import ApprovalSubject  # noqa: E402
from shared.budget.models import BudgetCategory, BudgetLine, Expense, ExpenseStatus  # noqa: E402
from shared.calendar.core import BusinessCalendar, Target  # noqa: E402
from shared.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from shared.kpis.models import Kpi, KpiReading, Metric  # noqa: E402
from shared.models import (  # noqa: E402
    Approval,
    ApprovalAssignment,
    ApprovalKind,
    ApprovalStatus,
    ApprovalStep,
    AssignmentStatus,
    Calendar,
    Campaign,
    CampaignStage,
    CampaignStatus,
    Channel,
    ChannelDepartment,
    ChannelKind,
    CollaborationOccurrence,
    CollaborationRequest,
    CollaborationStatus,
    Department,
    EscalationPolicy,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    OccurrenceStatus,
    ResponseStatus,
    ReviewDecision,
    ReviewRequest,
    ReviewResponse,
    ReviewStatus,
    Role,
    SlaPolicy,
    SlaTimer,
    StageStatus,
    StepMode,
    StepStatus,
    Task,
    TaskStatus,
    TimerState,
    User,
    WorkflowTemplate,
)
from shared.models.base import Base  # noqa: E402
from shared.rectifications.models import Rectification, RectificationSource, RectificationStatus  # noqa: E402
from shared.reviews.sla import ReviewSubject  # noqa: E402
from shared.risks.models import Grade, ResponseStrategy, Risk, RiskCategory, RiskLevelChange, RiskStatus  # noqa: E402
from shared.risks.service import level_of  # noqa: E402
from shared.sla.directory import calendar_from_row  # noqa: E402
from shared.sla.timers import target_length  # noqa: E402
from shared.tasks.sla import TaskSubject  # noqa: E402
from shared.workflow.sla import StageSubject  # noqa: E402
from shared.workflow.templates import ensure_workflow_defaults  # noqa: E402

DEFAULT_NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: "today" of the seeded world
FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2026, 12, 31)
CHUNK = 50_000


@dataclass(frozen=True)
class Scale:
    departments: int = 50
    members_per_department: int = 20
    campaigns: int = 20_000
    tasks: int = 1_000_000
    timers: int = 200_000

    @classmethod
    def of(cls, factor: float, **overrides: int | None) -> Scale:
        """The issue's scale times `factor` (departments stay 50: the org does not shrink)."""
        full = cls()
        scaled = cls(
            departments=full.departments,
            members_per_department=full.members_per_department,
            campaigns=max(10, round(full.campaigns * factor)),
            tasks=max(100, round(full.tasks * factor)),
            timers=max(20, round(full.timers * factor)),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(**{**scaled.__dict__, **given})


# ---- COPY from the models ------------------------------------------------------------------------
def table_of(model: type[Base]) -> Table:
    return model.__table__  # type: ignore[return-value]


def has(model: type[Base], column: str) -> bool:
    """Whether the model has the column (analytics columns arrive with another branch's migration)."""
    return column in table_of(model).c


def _python_default(col: Column[Any]) -> tuple[bool, Any]:
    d = col.default
    if d is None or (not getattr(d, "is_scalar", False) and not getattr(d, "is_callable", False)):
        return False, None
    if d.is_scalar:
        return True, d.arg
    return True, d.arg(None)  # SQLAlchemy wraps a zero-arg callable into one that takes a context


def _as_copy_value(col: Column[Any]) -> Callable[[Any], Any] | None:
    if isinstance(col.type, JSONB):
        return lambda v: v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return None


@dataclass
class Copier:
    """COPY rows (dicts keyed by column name) into a model's table, in chunks; counts rows/s."""

    conn: asyncpg.Connection
    timings: dict[str, tuple[int, float]] = field(default_factory=dict)

    async def copy(self, model: type[Base], rows: Iterable[dict[str, Any]]) -> int:
        table = table_of(model)
        started = time.perf_counter()
        it = iter(rows)
        first = next(it, None)
        if first is None:
            return 0
        unknown = set(first) - set(table.c.keys())
        if unknown:
            raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
        given = [c.name for c in table.columns if c.name in first]
        filled: list[str] = []
        fill_values: list[Any] = []
        for col in table.columns:
            if col.name in first or col.nullable or col.server_default is not None:
                continue  # left out: NULL or the database's default
            ok, value = _python_default(col)
            if not ok:
                raise KeyError(f"{table.name}.{col.name} is NOT NULL without a default: the generator must fill it")
            filled.append(col.name)
            conv = _as_copy_value(col)
            fill_values.append(conv(value) if conv else value)
        getter = itemgetter(*given)
        converters = [(i, conv) for i, name in enumerate(given) if (conv := _as_copy_value(table.c[name]))]
        tail = tuple(fill_values)

        def record(row: dict[str, Any]) -> tuple[Any, ...]:
            got = getter(row)
            if not converters:
                return (*got, *tail) if isinstance(got, tuple) else (got, *tail)
            values = list(got) if isinstance(got, tuple) else [got]
            for i, conv in converters:
                values[i] = conv(values[i])
            return (*values, *tail)

        count = 0
        for chunk in _chunks(itertools.chain([first], it), CHUNK):
            records = [record(r) for r in chunk]
            await self.conn.copy_records_to_table(table.name, records=records, columns=given + filled)
            count += len(records)
        seconds = time.perf_counter() - started
        before = self.timings.get(table.name, (0, 0.0))
        self.timings[table.name] = (before[0] + count, before[1] + seconds)
        return count


def _chunks(it: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(it)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


# ---- the reference data the product seeds itself -------------------------------------------------
@dataclass(frozen=True)
class PolicyRef:
    id: int
    target_kind: str
    target_value: str
    calendar_id: int | None
    levels: list[dict[str, Any]]


@dataclass
class Reference:
    calendar_id: int
    calendar: BusinessCalendar
    template: WorkflowTemplate
    policies: dict[str, PolicyRef]  # subject type → its first enabled default policy
    metric_keys: list[str]

    @property
    def day_s(self) -> float:
        """A standard working day's length in seconds (the calendar's Monday)."""
        return float(sum(e - s for s, e in self.calendar.weekly_hours[0]) * 60)


async def seed_reference(url: str) -> Reference:
    """The product's own defaults (calendar, policies, template, rules, metrics), then read back."""
    engine = make_engine(url, pool_size=1)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            await ensure_workflow_defaults(session)
        async with unit_of_work(make_sessionmaker(engine)) as session:
            cal = (await session.scalars(select(Calendar).where(Calendar.is_default))).one()
            template = (
                await session.scalars(select(WorkflowTemplate).where(WorkflowTemplate.is_current).order_by("id"))
            ).first()
            assert template is not None, "ensure_workflow_defaults seeds the default template"
            policies: dict[str, PolicyRef] = {}
            rows = await session.execute(
                select(SlaPolicy, EscalationPolicy)
                .outerjoin(EscalationPolicy, EscalationPolicy.id == SlaPolicy.escalation_policy_id)
                .where(SlaPolicy.enabled)
                .order_by(SlaPolicy.id)
            )
            for policy, escalation in rows:
                policies.setdefault(
                    policy.subject_type,
                    PolicyRef(
                        policy.id,
                        policy.target_kind,
                        policy.target_value,
                        policy.calendar_id,
                        list(escalation.levels) if escalation else [],
                    ),
                )
            metric_keys = list(await session.scalars(select(Metric.key).order_by(Metric.key)))
            return Reference(
                calendar_id=cal.id,
                calendar=calendar_from_row(cal),
                template=template,
                policies=policies,
                metric_keys=metric_keys,
            )
    finally:
        await engine.dispose()


# ---- the seeded world ----------------------------------------------------------------------------
@dataclass
class Org:
    admin_id: int
    director_id: int
    heads: list[int]  # per department index
    members: list[list[int]]  # per department index
    department_ids: list[int]
    user_department: dict[int, int]


@dataclass
class StageRow:
    id: int
    campaign_id: int
    department_id: int
    key: str
    status: StageStatus
    entered_at: datetime | None
    exited_at: datetime | None
    limit_wd: int | None


@dataclass
class CampaignRow:
    id: int
    department_id: int
    owner_id: int
    start: datetime
    status: CampaignStatus
    stages: list[StageRow]


class Seeder:
    def __init__(self, conn: asyncpg.Connection, ref: Reference, scale: Scale, *, seed: int, now: datetime) -> None:
        self.conn, self.ref, self.scale, self.now = conn, ref, scale, now
        self.rng = random.Random(seed)
        self.copier = Copier(conn)
        self.cal = ref.calendar
        self.next_ids: dict[str, int] = {}
        self.timers: list[dict[str, Any]] = []

    async def ids_from(self, model: type[Base]) -> None:
        """Ids are given, not drawn from the sequence: the next free one per table (empty: 1)."""
        name = table_of(model).name
        self.next_ids[name] = int(await self.conn.fetchval(f"SELECT coalesce(max(id), 0) FROM {name}")) + 1

    def working_instant(self, day: date) -> datetime:
        """A working instant on or after `day`, at a random hour of the morning (local time)."""
        local = datetime(
            day.year, day.month, day.day, 9 + self.rng.randrange(3), self.rng.randrange(60), tzinfo=self.cal.tz
        )
        return self.cal.roll_forward(local)

    def random_day(self) -> date:
        return FIRST_DAY + timedelta(days=self.rng.randrange((LAST_DAY - FIRST_DAY).days + 1))

    def wd(self, a: datetime, b: datetime) -> Decimal:
        return Decimal(round(self.cal.working_between(a, b).total_seconds() / self.ref.day_s, 2)).quantize(
            Decimal("0.01")
        )

    # ---- org ------------------------------------------------------------------------------------
    async def org(self) -> Org:
        for model in (Department, User, Channel):
            await self.ids_from(model)
        d0, u0 = self.next_ids["departments"], self.next_ids["users"]
        n, per = self.scale.departments, self.scale.members_per_department
        department_ids = [d0 + i for i in range(n)]
        admin_id, director_id = u0, u0 + 1
        heads = [u0 + 2 + i for i in range(n)]
        members = [[u0 + 2 + n + i * per + j for j in range(per)] for i in range(n)]
        await self.copier.copy(
            Department,
            ({"id": d, "name": f"部门{i + 1:02d} dept {i + 1}"} for i, d in enumerate(department_ids)),
        )

        def users() -> Iterator[dict[str, Any]]:
            base = {"mobile": None, "locale": "zh-CN", "is_active": True}
            yield {
                "id": admin_id,
                "name": "bench admin",
                "email": "admin@bench.local",
                "department_id": None,
                "manager_id": None,
                "role": Role.admin,
                **base,
            }
            yield {
                "id": director_id,
                "name": "总监 director",
                "email": "director@bench.local",
                "department_id": None,
                "manager_id": None,
                "role": Role.manager,
                **base,
            }
            for i, d in enumerate(department_ids):
                yield {
                    "id": heads[i],
                    "name": f"负责人{i + 1}",
                    "email": f"head{i + 1}@bench.local",
                    "department_id": d,
                    "manager_id": director_id,
                    "role": Role.manager,
                    **base,
                }
            for i, d in enumerate(department_ids):
                for j, uid in enumerate(members[i]):
                    yield {
                        "id": uid,
                        "name": f"成员{i + 1}-{j + 1}",
                        "email": f"m{i + 1}.{j + 1}@bench.local",
                        "department_id": d,
                        "manager_id": heads[i],
                        "role": Role.member,
                        **base,
                    }

        await self.copier.copy(User, users())
        await self.conn.executemany(
            "UPDATE departments SET head_user_id = $2 WHERE id = $1", list(zip(department_ids, heads, strict=True))
        )
        c0 = self.next_ids["channels"]
        await self.copier.copy(
            Channel,
            (
                {
                    "id": c0 + i,
                    "name": f"bench-{i + 1}",
                    "kind": ChannelKind.webhook,
                    "url": f"http://127.0.0.1:9/hooks/dept{i + 1}",
                    "enabled": True,
                    "healthy": True,
                }
                for i in range(n)
            ),
        )
        await self.copier.copy(
            ChannelDepartment,
            ({"channel_id": c0 + i, "department_id": d} for i, d in enumerate(department_ids)),
        )
        user_department = {h: department_ids[i] for i, h in enumerate(heads)}
        user_department |= {u: department_ids[i] for i, ms in enumerate(members) for u in ms}
        return Org(admin_id, director_id, heads, members, department_ids, user_department)

    # ---- campaigns and their stage histories ----------------------------------------------------
    def plan_campaigns(self, org: Org) -> list[CampaignRow]:
        """Each campaign walks the template's stages from a start in 2025–2026; a stage takes about
        its limit (a quarter of them over it), execution 5–20 working days; 4 % are cancelled."""
        rng, cal, now = self.rng, self.cal, self.now
        stages_spec = self.ref.template.stages
        out: list[CampaignRow] = []
        stage_id = self.next_ids["campaign_stages"]
        slowness = [0.7 + 0.8 * rng.random() for _ in stages_spec]  # some stages are the bottleneck
        for c in range(self.scale.campaigns):
            cid = self.next_ids["campaigns"] + c
            dept_i = rng.randrange(len(org.department_ids))
            start = self.working_instant(self.random_day())
            cancel_at = rng.randrange(len(stages_spec)) if rng.random() < 0.04 else None
            t: datetime | None = start
            stages: list[StageRow] = []
            status = CampaignStatus.completed
            for pos, spec in enumerate(stages_spec):
                limit = spec.get("time_limit")
                limit_wd = int(limit["value"]) if limit and limit["kind"] == "working_days" else None
                row = StageRow(
                    stage_id, cid, org.department_ids[dept_i], spec["key"], StageStatus.pending, None, None, limit_wd
                )
                stage_id += 1
                stages.append(row)
                if t is None or t > now:
                    if status == CampaignStatus.completed:
                        status = CampaignStatus.planned if pos == 0 else CampaignStatus.active
                    row.status = StageStatus.cancelled if status == CampaignStatus.cancelled else StageStatus.pending
                    t = None
                    continue
                row.entered_at = t
                days = max(1, round((limit_wd or rng.randint(5, 20)) * slowness[pos] * rng.lognormvariate(0, 0.35)))
                exit_at = cal.add_working(cal.add_working_days(t, days - 1), timedelta(hours=rng.uniform(1, 7)))
                if cancel_at == pos and exit_at <= now:
                    row.status, row.exited_at, status = StageStatus.cancelled, exit_at, CampaignStatus.cancelled
                    t = None
                elif exit_at > now:
                    row.status = StageStatus.active
                    status = CampaignStatus.active
                    t = None
                else:
                    row.status, row.exited_at = StageStatus.done, exit_at
                    t = exit_at
            out.append(
                CampaignRow(cid, org.department_ids[dept_i], rng.choice(org.members[dept_i]), start, status, stages)
            )
        return out

    def campaign_rows(self, campaigns: list[CampaignRow]) -> Iterator[dict[str, Any]]:
        for c in campaigns:
            last_exit = c.stages[-1].exited_at
            completed = c.status == CampaignStatus.completed
            row = {
                "id": c.id,
                "name": f"活动 campaign {c.id}",
                "owner_id": c.owner_id,
                "department_id": c.department_id,
                "budget": Decimal(self.rng.randrange(5, 500) * 10_000),
                "is_major": self.rng.random() < 0.05,
                "is_big_promotion": self.rng.random() < 0.1,
                "start_date": c.start.astimezone(self.cal.tz).date(),
                "end_date": (last_exit or c.start + timedelta(days=45)).astimezone(self.cal.tz).date(),
                "status": c.status,
                "template_id": self.ref.template.id,
                "created_at": c.start - timedelta(days=7),
                "updated_at": last_exit or c.start,
            }
            if has(Campaign, "completed_at"):
                row["completed_at"] = last_exit if completed else None
            if has(Campaign, "cycle_wd"):
                row["cycle_wd"] = self.wd(c.stages[0].entered_at, last_exit) if completed and last_exit else None
            yield row

    def stage_rows(self, campaigns: list[CampaignRow]) -> Iterator[dict[str, Any]]:
        by_key = {s["key"]: s for s in self.ref.template.stages}
        for c in campaigns:
            for pos, s in enumerate(c.stages):
                spec = by_key[s.key]
                row = {
                    "id": s.id,
                    "campaign_id": c.id,
                    "key": s.key,
                    "position": pos,
                    "name": spec["name"],
                    "name_en": spec.get("name_en"),
                    "spec": spec,
                    "owner_id": c.owner_id,
                    "status": s.status,
                    "entered_at": s.entered_at,
                    "exited_at": s.exited_at,
                }
                if has(CampaignStage, "cycle_wd"):
                    done = s.status == StageStatus.done and s.entered_at and s.exited_at
                    row["cycle_wd"] = self.wd(s.entered_at, s.exited_at) if done else None
                if has(CampaignStage, "limit_wd"):
                    row["limit_wd"] = None if s.limit_wd is None or s.entered_at is None else Decimal(s.limit_wd)
                yield row

    # ---- SLA timers -----------------------------------------------------------------------------
    def timer(
        self,
        subject_type: str,
        subject_id: int,
        *,
        department_id: int | None,
        started_at: datetime,
        due_at: datetime,
        met_at: datetime | None,
        cancelled_at: datetime | None = None,
        subject_due_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A timer consistent with its subject: met (on time or late), cancelled, or running (breached
        once its due time is past)."""
        policy = self.ref.policies[subject_type]
        end = met_at or cancelled_at or self.now
        breached = due_at <= end
        if cancelled_at is not None:
            state = TimerState.cancelled
        elif met_at is not None:
            state = TimerState.met
        else:
            state = TimerState.running
        fired = [f"{i}:0" for i, level in enumerate(policy.levels) if breached and _fired_by(level, end - due_at)]
        return {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "policy_id": policy.id,
            "calendar_id": policy.calendar_id,
            "department_id": department_id,
            "target_kind": policy.target_kind,
            "target_value": policy.target_value,
            "subject_due_at": subject_due_at,
            "target_s": target_length(self.cal, policy.target_kind, started_at, due_at),
            "levels": policy.levels,
            "state": state,
            "started_at": started_at,
            "due_at": due_at,
            "paused_total_s": 0.0,
            "met_at": met_at,
            "breached_at": due_at if breached and cancelled_at is None else None,
            "cancelled_at": cancelled_at,
            "cancel_reason": "campaign cancelled" if cancelled_at else None,
            "next_fire_at": due_at if state == TimerState.running and not breached else None,
            "fired": fired,
            "created_at": started_at,
            "updated_at": end if end <= self.now else self.now,
        }

    def stage_timers(self, campaigns: list[CampaignRow], quota: int) -> None:
        for c in campaigns:
            for s in c.stages:
                if len(self.timers) >= quota:
                    return
                if s.limit_wd is None or s.entered_at is None:
                    continue
                due = self.cal.add_working_days(s.entered_at, s.limit_wd)
                cancelled = s.exited_at if s.status == StageStatus.cancelled else None
                met = s.exited_at if s.status == StageStatus.done else None
                self.timers.append(
                    self.timer(
                        StageSubject.stage,
                        s.id,
                        department_id=c.department_id,
                        started_at=s.entered_at,
                        due_at=due,
                        met_at=met,
                        cancelled_at=cancelled,
                    )
                )

    # ---- reviews --------------------------------------------------------------------------------
    def reviews(
        self, campaigns: list[CampaignRow], org: Org, timer_quota: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One review per campaign that reached its review stage; 2–4 other departments answer,
        most within 24 h, some late, the latest still pending."""
        rng, now = self.rng, self.now
        requests: list[dict[str, Any]] = []
        responses: list[dict[str, Any]] = []
        rid, resp_id = self.next_ids["review_requests"], self.next_ids["review_responses"]
        timers_before = len(self.timers)
        for c in campaigns:
            stage = next((s for s in c.stages if s.key == "review"), None)
            if stage is None or stage.entered_at is None:
                continue
            others = rng.sample([d for d in org.department_ids if d != c.department_id], rng.randint(2, 4))
            decided = stage.exited_at if stage.status == StageStatus.done else None
            status = {StageStatus.done: ReviewStatus.approved, StageStatus.cancelled: ReviewStatus.cancelled}.get(
                stage.status, ReviewStatus.in_review
            )
            requests.append(
                {
                    "id": rid,
                    "title": f"评审 review of campaign {c.id}",
                    "campaign_id": c.id,
                    "stage_id": stage.id,
                    "requester_id": c.owner_id,
                    "department_id": c.department_id,
                    "status": status,
                    "round": 1,
                    "reviewers": [{"department_id": d, "user_id": None} for d in others],
                    "response_target": {"kind": "calendar", "value": "PT24H"},
                    "decided_at": decided,
                    "created_at": stage.entered_at,
                    "updated_at": decided or stage.entered_at,
                }
            )
            for d in others:
                asked = stage.entered_at
                answered = asked + timedelta(hours=rng.lognormvariate(math.log(10), 0.8))
                if answered > now or (
                    stage.status == StageStatus.cancelled and stage.exited_at and answered > stage.exited_at
                ):
                    answered = None
                head = org.heads[org.department_ids.index(d)]
                r_status = (
                    ResponseStatus.answered
                    if answered
                    else (ResponseStatus.cancelled if status == ReviewStatus.cancelled else ResponseStatus.pending)
                )
                responses.append(
                    {
                        "id": resp_id,
                        "review_id": rid,
                        "round": 1,
                        "department_id": d,
                        "user_id": None,
                        "status": r_status,
                        "decision": ReviewDecision.approve if answered else None,
                        "requested_at": asked,
                        "answered_by": head if answered else None,
                        "answered_at": answered,
                        "created_at": asked,
                        "updated_at": answered or asked,
                    }
                )
                if len(self.timers) - timers_before < timer_quota:
                    cancelled = stage.exited_at if r_status == ResponseStatus.cancelled else None
                    self.timers.append(
                        self.timer(
                            ReviewSubject.response,
                            resp_id,
                            department_id=d,
                            started_at=asked,
                            due_at=asked + timedelta(hours=24),
                            met_at=answered,
                            cancelled_at=cancelled,
                        )
                    )
                resp_id += 1
            rid += 1
        return requests, responses

    # ---- approvals ------------------------------------------------------------------------------
    def approvals(
        self, campaigns: list[CampaignRow], org: Org, timer_quota: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Each campaign asked its department head's approval one to four weeks before it starts,
        and its execution stage the head's sign-off when resources were coordinated; every tenth
        campaign also a budget change signed by its head and the finance department's (双签, step
        mode `all`). Decided a few hours later, mostly; those not decided by "now" (and half of
        those of campaigns not started yet or still coordinating resources) are pending, each
        approver under their timer."""
        rng, now = self.rng, self.now
        policy = self.ref.policies[ApprovalSubject.assignment]
        target = Target.parse(policy.target_kind, policy.target_value)
        finance_head = org.heads[-1]
        approvals: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        assignments: list[dict[str, Any]] = []
        aid, sid, xid = (
            self.next_ids["approvals"],
            self.next_ids["approval_steps"],
            self.next_ids["approval_assignments"],
        )
        timers_before = len(self.timers)

        def ask(
            c: CampaignRow,
            kind: ApprovalKind,
            asked: datetime,
            approvers: list[int],
            stage_id: int | None,
            *,
            waiting: bool = False,
        ) -> None:
            nonlocal aid, sid, xid
            if asked > now:
                return
            head = org.heads[org.department_ids.index(c.department_id)]
            decided: datetime | None = asked + timedelta(hours=rng.lognormvariate(math.log(6), 1.0))
            if waiting or (decided is not None and decided > now):
                decided = None
            rejected = decided is not None and rng.random() < 0.05
            status = (
                ApprovalStatus.pending
                if decided is None
                else (ApprovalStatus.rejected if rejected else ApprovalStatus.approved)
            )
            approvals.append(
                {
                    "id": aid,
                    "kind": kind,
                    "title": f"审批 {kind.value} campaign {c.id}",
                    "campaign_id": c.id,
                    "stage_id": stage_id,
                    "requester_id": c.owner_id if kind != ApprovalKind.stage else head,
                    "department_id": c.department_id,
                    "status": status,
                    "details": {},
                    "decided_at": decided,
                    "created_at": asked,
                    "updated_at": decided or asked,
                }
            )
            step_status = {
                ApprovalStatus.pending: StepStatus.active,
                ApprovalStatus.approved: StepStatus.approved,
                ApprovalStatus.rejected: StepStatus.rejected,
            }[status]
            steps.append(
                {
                    "id": sid,
                    "approval_id": aid,
                    "position": 0,
                    "name": "部门负责人审批 department head" if len(approvers) == 1 else "双签 dual sign",
                    "mode": StepMode.one if len(approvers) == 1 else StepMode.all,
                    "approver_ids": approvers,
                    "time_limit": None,
                    "status": step_status,
                    "entered_at": asked,
                    "decided_at": decided,
                    "created_at": asked,
                    "updated_at": decided or asked,
                }
            )
            for approver in approvers:
                a_status = {
                    ApprovalStatus.pending: AssignmentStatus.pending,
                    ApprovalStatus.approved: AssignmentStatus.approved,
                    ApprovalStatus.rejected: AssignmentStatus.rejected,
                }[status]
                assignments.append(
                    {
                        "id": xid,
                        "step_id": sid,
                        "approval_id": aid,
                        "approver_id": approver,
                        "status": a_status,
                        "assigned_at": asked,
                        "decided_at": decided,
                        "created_at": asked,
                        "updated_at": decided or asked,
                    }
                )
                if len(self.timers) - timers_before < timer_quota:
                    self.timers.append(
                        self.timer(
                            ApprovalSubject.assignment,
                            xid,
                            department_id=self.user_department(org, approver),
                            started_at=asked,
                            due_at=self.cal.deadline(asked, target),
                            met_at=decided,
                        )
                    )
                xid += 1
            aid, sid = aid + 1, sid + 1

        for c in campaigns:
            head = org.heads[org.department_ids.index(c.department_id)]
            upcoming = c.start > now  # half of the campaigns not started yet still wait for their approval
            asked = c.start - timedelta(days=rng.uniform(7, 30))
            ask(c, ApprovalKind.campaign, asked, [head], None, waiting=upcoming and rng.random() < 0.5)
            resources = next((s for s in c.stages if s.key == "resources"), None)
            execution = next((s for s in c.stages if s.key == "execution"), None)
            if resources is not None and resources.entered_at is not None and execution is not None:
                waiting = resources.status == StageStatus.active and rng.random() < 0.5
                ask(c, ApprovalKind.stage, resources.entered_at, [head], execution.id, waiting=waiting)
            if c.id % 10 == 0 and head != finance_head:
                ask(c, ApprovalKind.budget_change, c.start + timedelta(days=3), [head, finance_head], None)
        return approvals, steps, assignments

    @staticmethod
    def user_department(org: Org, user_id: int) -> int | None:
        return org.user_department.get(user_id)

    # ---- tasks ----------------------------------------------------------------------------------
    def tasks(self, campaigns: list[CampaignRow], org: Org, timer_quota: int) -> Iterator[dict[str, Any]]:
        """Due dates spread over 2025–2026. Past due: done on time ~62 %, done late ~18 %, still open
        ~12 %, cancelled ~8 % (departments differ: each has its own lateness); future: mostly open.
        Every task created before "now" and due after it carries its timer (they run now); the rest
        of `timer_quota` is sampled evenly from the history."""
        rng, now, tz = self.rng, self.now, self.cal.tz
        rand = rng.random  # int(rand() * n) over randrange/choice: a third of the time per row at 1 M rows
        n_departments, n_members, n_campaigns = (
            len(org.department_ids),
            self.scale.members_per_department,
            len(campaigns),
        )
        first = datetime(FIRST_DAY.year, 1, 1, tzinfo=tz).timestamp()
        span = datetime(LAST_DAY.year, 12, 31, 18, tzinfo=tz).timestamp() - first
        lateness = [0.5 + rng.random() for _ in org.department_ids]
        priorities = ("low", "normal", "normal", "normal", "high", "urgent")
        task_id = self.next_ids["tasks"]
        running = round(self.scale.tasks * 10.5 / ((LAST_DAY - FIRST_DAY).days + 1))  # created ≤ 20 d before due
        timer_every = max(1, round(self.scale.tasks * 0.95 / max(1, timer_quota - running)))
        quota = len(self.timers) + timer_quota
        for i in range(self.scale.tasks):
            dept_i = int(rand() * n_departments)
            assignee = org.members[dept_i][int(rand() * n_members)]
            due = datetime.fromtimestamp(first + rand() * span, tz=UTC).replace(microsecond=0)
            created = due - timedelta(seconds=int(86_400 + rand() * 19 * 86_400))
            completed = None
            r = rand()
            if due < now:
                late = 0.18 * lateness[dept_i]
                if r < 0.08:
                    status = TaskStatus.cancelled
                elif r < 0.08 + 0.12 * lateness[dept_i]:
                    status = rng.choice(
                        (TaskStatus.todo, TaskStatus.in_progress, TaskStatus.in_progress, TaskStatus.blocked)
                    )
                elif r < 0.20 + 0.12 * lateness[dept_i] + late:
                    status, completed = TaskStatus.done, due + timedelta(seconds=int(600 + rand() * 10 * 86_400))
                else:
                    status, completed = TaskStatus.done, due - timedelta(seconds=int(rand() * 3 * 86_400))
            elif r < 0.03:
                status = TaskStatus.cancelled
            elif r < 0.13 and created < now:
                status, completed = TaskStatus.done, created + (now - created) * rand()
            else:
                status = rng.choice((TaskStatus.todo, TaskStatus.todo, TaskStatus.in_progress, TaskStatus.blocked))
            if completed is not None and completed > now:
                completed = now - timedelta(seconds=rng.randrange(60, 86_400))
            campaign = campaigns[int(rand() * n_campaigns)] if campaigns and rand() < 0.85 else None
            updated = completed or min(created, now)
            if created < now and (due >= now or i % timer_every == 0) and len(self.timers) < quota:
                self.timers.append(
                    self.timer(
                        TaskSubject.task,
                        task_id,
                        department_id=org.department_ids[dept_i],
                        started_at=created,
                        due_at=due,
                        met_at=completed,
                        subject_due_at=due,
                        cancelled_at=updated if status == TaskStatus.cancelled else None,
                    )
                )
            yield {
                "id": task_id,
                "title": f"任务 task {task_id}",
                "campaign_id": campaign.id if campaign else None,
                "assignee_id": assignee,
                "reporter_id": org.heads[dept_i],
                "status": status,
                "priority": priorities[int(rand() * len(priorities))],
                "due_at": due,
                "completed_at": completed,
                "created_at": created,
                "updated_at": updated,
            }
            task_id += 1

    # ---- the modest tables ----------------------------------------------------------------------
    def collaboration(
        self, campaigns: list[CampaignRow], org: Org
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng, now = self.rng, self.now
        requests, occurrences = [], []
        rid, oid = self.next_ids["collaboration_requests"], self.next_ids["collaboration_occurrences"]
        for c in campaigns[::4]:
            if c.start > now:
                continue
            others = rng.sample([d for d in org.department_ids if d != c.department_id], rng.randint(1, 3))
            opened = c.start + timedelta(hours=rng.uniform(1, 200))
            if opened > now:
                continue
            due = opened + timedelta(hours=24)
            done = opened + timedelta(hours=rng.lognormvariate(math.log(12), 0.9))
            done = done if done <= now else None
            requests.append(
                {
                    "id": rid,
                    "matter": f"协作 collaboration {rid}",
                    "initiating_department_id": c.department_id,
                    "collaborating_department_ids": others,
                    "owner_id": org.heads[org.department_ids.index(others[0])],
                    "requester_id": c.owner_id,
                    "campaign_id": c.id,
                    "calendar_id": self.ref.calendar_id,
                    "deadline_kind": "calendar",
                    "deadline_value": "PT24H",
                    "status": CollaborationStatus.closed if done else CollaborationStatus.open,
                    "closed_at": done,
                    "created_at": opened,
                    "updated_at": done or opened,
                }
            )
            occurrences.append(
                {
                    "id": oid,
                    "request_id": rid,
                    "occurrence_date": due.astimezone(self.cal.tz).date(),
                    "status": OccurrenceStatus.done if done else OccurrenceStatus.open,
                    "opened_at": opened,
                    "due_at": due,
                    "done_at": done,
                    "done_by": requests[-1]["owner_id"] if done else None,
                    "created_at": opened,
                    "updated_at": done or opened,
                }
            )
            rid, oid = rid + 1, oid + 1
        return requests, occurrences

    def feedback(self, campaigns: list[CampaignRow], org: Org) -> Iterator[dict[str, Any]]:
        """Feedback (24 h first-response target) and complaints (2 h), answered mostly in time."""
        rng, now = self.rng, self.now
        fid = self.next_ids["feedback"]
        for c in campaigns[::2]:
            received = c.start + timedelta(hours=rng.uniform(0, 30 * 24))
            if received > now:
                continue
            kind = FeedbackKind.complaint if rng.random() < 0.3 else FeedbackKind.feedback
            median_h = 1.2 if kind == FeedbackKind.complaint else 10
            responded = received + timedelta(hours=rng.lognormvariate(math.log(median_h), 0.9))
            responded = responded if responded <= now else None
            owner = org.heads[org.department_ids.index(c.department_id)]
            yield {
                "id": fid,
                "kind": kind,
                "severity": rng.choice(("low", "normal", "normal", "high")),
                "status": FeedbackStatus.responded if responded else FeedbackStatus.new,
                "channel": rng.choice(("phone", "wechat", "email", "web", "store")),
                "customer_name": f"客户 {fid}",
                "content": "活动体验反馈 feedback on the campaign",
                "campaign_id": c.id,
                "department_id": c.department_id,
                "owner_id": owner,
                "source": "api",
                "received_at": received,
                "first_response_at": responded,
                "first_response_by": owner if responded else None,
                "first_response": "已收到，正在处理 received" if responded else None,
                "created_at": received,
                "updated_at": responded or received,
            }
            fid += 1

    def kpis(self, campaigns: list[CampaignRow]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng, now = self.rng, self.now
        kpis, readings = [], []
        kid, rid = self.next_ids["kpis"], self.next_ids["kpi_readings"]
        keys = self.ref.metric_keys[:2]
        for c in campaigns[::4]:
            for key in keys:
                target = Decimal(rng.randrange(100, 10_000))
                kpis.append(
                    {
                        "id": kid,
                        "campaign_id": c.id,
                        "metric_key": key,
                        "target": target,
                        "warning_threshold": Decimal("0.10"),
                        "owner_id": c.owner_id,
                        "created_at": c.start,
                        "updated_at": c.start,
                    }
                )
                for n in range(3):
                    as_of = c.start + timedelta(days=7 * (n + 1))
                    if as_of > now:
                        break
                    value = (target * Decimal(rng.uniform(0.6, 1.2))).quantize(Decimal("0.01"))
                    readings.append(
                        {
                            "id": rid,
                            "kpi_id": kid,
                            "value": value,
                            "as_of": as_of,
                            "source": "bench",
                            "created_by": c.owner_id,
                            "created_at": as_of,
                            "updated_at": as_of,
                        }
                    )
                    rid += 1
                kid += 1
        return kpis, readings

    def budget(self, campaigns: list[CampaignRow]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng, now = self.rng, self.now
        lines, expenses = [], []
        lid, eid = self.next_ids["budget_lines"], self.next_ids["expenses"]
        for c in campaigns[::4]:
            for category in (BudgetCategory.media, BudgetCategory.design):
                planned = Decimal(rng.randrange(10, 200) * 1_000)
                lines.append(
                    {
                        "id": lid,
                        "campaign_id": c.id,
                        "category": category,
                        "name": category.value,
                        "planned": planned,
                        "currency": "CNY",
                        "created_at": c.start,
                        "updated_at": c.start,
                    }
                )
                for n in range(2):
                    at = c.start + timedelta(days=10 * (n + 1))
                    if at > now:
                        break
                    amount = (planned * Decimal(rng.uniform(0.3, 0.6))).quantize(Decimal("0.01"))
                    expenses.append(
                        {
                            "id": eid,
                            "line_id": lid,
                            "campaign_id": c.id,
                            "amount": amount,
                            "currency": "CNY",
                            "vendor": "供应商 vendor",
                            "status": ExpenseStatus.paid,
                            "requester_id": c.owner_id,
                            "decided_at": at,
                            "paid_at": at,
                            "created_at": at,
                            "updated_at": at,
                        }
                    )
                    eid += 1
                lid += 1
        return lines, expenses

    def risks(self, campaigns: list[CampaignRow]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        grades = (Grade.low, Grade.medium, Grade.high)
        risks, changes = [], []
        rid, chid = self.next_ids["risks"], self.next_ids["risk_level_changes"]
        for c in campaigns[::20]:
            likelihood, impact = rng.choice(grades), rng.choice(grades)
            level = level_of(likelihood, impact)  # the register's own 3 × 3 mapping
            risks.append(
                {
                    "id": rid,
                    "title": f"风险 risk {rid}",
                    "category": rng.choice(list(RiskCategory)),
                    "likelihood": likelihood,
                    "impact": impact,
                    "level": level,
                    "owner_id": c.owner_id,
                    "strategy": rng.choice(list(ResponseStrategy)),
                    "response_plan": "监控 monitor",
                    "review_every_days": 5,
                    "status": rng.choice((RiskStatus.open, RiskStatus.mitigating, RiskStatus.closed)),
                    "campaign_id": c.id,
                    "created_by": c.owner_id,
                    "created_at": c.start,
                    "updated_at": c.start,
                }
            )
            changes.append(
                {"id": chid, "risk_id": rid, "from_level": None, "to_level": level, "at": c.start, "by": c.owner_id}
            )
            rid, chid = rid + 1, chid + 1
        return risks, changes

    def rectifications(self, campaigns: list[CampaignRow], org: Org) -> Iterator[dict[str, Any]]:
        rng, now = self.rng, self.now
        xid = self.next_ids["rectifications"]
        for c in campaigns[::10]:
            retro = c.stages[-1]
            if retro.entered_at is None:
                continue
            created = retro.entered_at
            due = created + timedelta(days=14)
            done = created + timedelta(days=rng.uniform(2, 20))
            verified = done + timedelta(days=rng.uniform(0.5, 4))
            status = (
                RectificationStatus.verified
                if verified <= now
                else RectificationStatus.done
                if done <= now
                else RectificationStatus.open
            )
            yield {
                "id": xid,
                "title": f"整改 rectification {xid}",
                "owner_id": c.owner_id,
                "campaign_id": c.id,
                "created_by": c.owner_id,
                "status": status,
                "source": RectificationSource.retrospective,
                "problem": "执行延期 execution slipped",
                "measure": "提前锁定资源 book resources earlier",
                "acceptance_criteria": "下次活动准时 next campaign on time",
                "due_at": due,
                "done_at": done if done <= now else None,
                "verified_at": verified if verified <= now else None,
                "verified_by": org.heads[org.department_ids.index(c.department_id)] if verified <= now else None,
                "created_at": created,
                "updated_at": min(now, verified),
            }
            xid += 1


def _fired_by(level: dict[str, Any], overdue: timedelta) -> bool:
    """Warnings and the breach have fired by the breach; an escalation (`+…`) once a day overdue."""
    return not str(level.get("offset", "0")).startswith("+") or overdue >= timedelta(days=1)


SEEDED_MODELS: tuple[type[Base], ...] = (
    Department,
    User,
    Channel,
    ChannelDepartment,
    Campaign,
    CampaignStage,
    Task,
    SlaTimer,
    ReviewRequest,
    ReviewResponse,
    Approval,
    ApprovalStep,
    ApprovalAssignment,
    CollaborationRequest,
    CollaborationOccurrence,
    Feedback,
    Kpi,
    KpiReading,
    BudgetLine,
    Expense,
    Risk,
    RiskLevelChange,
    Rectification,
)


@dataclass
class SeedReport:
    timings: dict[str, tuple[int, float]]
    seconds: float
    admin_id: int
    director_id: int

    @property
    def rows(self) -> int:
        return sum(n for n, _ in self.timings.values())


async def seed(
    url: str, scale: Scale, *, seed: int = 12, now: datetime = DEFAULT_NOW, analyze: bool = True
) -> SeedReport:
    """Seed the database at `url` (migrated, with no org data yet); returns rows and seconds per table."""
    started = time.perf_counter()
    ref = await seed_reference(url)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        seeder = Seeder(conn, ref, scale, seed=seed, now=now)
        for model in SEEDED_MODELS:
            if has(model, "id"):
                await seeder.ids_from(model)
        async with conn.transaction():
            org = await seeder.org()
            campaigns = seeder.plan_campaigns(org)
            await seeder.copier.copy(Campaign, seeder.campaign_rows(campaigns))
            await seeder.copier.copy(CampaignStage, seeder.stage_rows(campaigns))
            seeder.stage_timers(campaigns, quota=scale.timers // 4)
            requests, responses = seeder.reviews(campaigns, org, timer_quota=scale.timers * 3 // 20)
            await seeder.copier.copy(ReviewRequest, requests)
            await seeder.copier.copy(ReviewResponse, responses)
            approvals, steps, assignments = seeder.approvals(campaigns, org, timer_quota=scale.timers // 10)
            await seeder.copier.copy(Approval, approvals)
            await seeder.copier.copy(ApprovalStep, steps)
            await seeder.copier.copy(ApprovalAssignment, assignments)
            task_quota = max(1, scale.timers - len(seeder.timers))
            await seeder.copier.copy(Task, seeder.tasks(campaigns, org, timer_quota=task_quota))
            ids = itertools.count(seeder.next_ids["sla_timers"])
            await seeder.copier.copy(SlaTimer, ({"id": next(ids), **t} for t in seeder.timers))
            collab, occurrences = seeder.collaboration(campaigns, org)
            await seeder.copier.copy(CollaborationRequest, collab)
            await seeder.copier.copy(CollaborationOccurrence, occurrences)
            await seeder.copier.copy(Feedback, seeder.feedback(campaigns, org))
            kpis, readings = seeder.kpis(campaigns)
            await seeder.copier.copy(Kpi, kpis)
            await seeder.copier.copy(KpiReading, readings)
            lines, expenses = seeder.budget(campaigns)
            await seeder.copier.copy(BudgetLine, lines)
            await seeder.copier.copy(Expense, expenses)
            risks, changes = seeder.risks(campaigns)
            await seeder.copier.copy(Risk, risks)
            await seeder.copier.copy(RiskLevelChange, changes)
            await seeder.copier.copy(Rectification, seeder.rectifications(campaigns, org))
            for model in SEEDED_MODELS:  # explicit ids were copied: move each sequence past them
                if has(model, "id"):
                    name = table_of(model).name
                    await conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                    )
        if analyze:
            await conn.execute("ANALYZE")
        return SeedReport(seeder.copier.timings, time.perf_counter() - started, org.admin_id, org.director_id)
    finally:
        await conn.close()


def print_report(report: SeedReport) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    table = RichTable(title="seeded with COPY (a table's seconds include generating its rows)")
    for col in ("table", "rows", "seconds", "rows/s"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for name, (rows, seconds) in sorted(report.timings.items(), key=lambda kv: -kv[1][0]):
        table.add_row(name, f"{rows:,}", f"{seconds:.2f}", f"{rows / seconds:,.0f}" if seconds else "")
    console = Console(width=150)
    console.print(table)
    console.print(
        f"seeded {report.rows:,} rows in {report.seconds:.1f} s: {report.rows / report.seconds:,.0f} rows/s "
        "(reference data, planning and ANALYZE included)"
    )


def add_scale_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--scale", type=float, default=1.0, help="the issue's scale times this (0.01: a quick run)")
    ap.add_argument("--tasks", type=int, default=None)
    ap.add_argument("--campaigns", type=int, default=None)
    ap.add_argument("--timers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=12, help="the RNG's seed: the same seed gives the same rows")


def scale_from(args: argparse.Namespace) -> Scale:
    return Scale.of(args.scale, tasks=args.tasks, campaigns=args.campaigns, timers=args.timers)


async def _main() -> None:
    from bench.stack import scratch_database

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_scale_arguments(ap)
    args = ap.parse_args()
    async with scratch_database("closeloop_bench") as stack:
        print_report(await seed(stack.database_url, scale_from(args), seed=args.seed))


if __name__ == "__main__":
    asyncio.run(_main())
