"""SLA compliance per subject type and policy (met on time, met late, breached, open), and the
first-response times of feedback and complaints against their 24 h / 2 h targets."""

from __future__ import annotations

from datetime import datetime

from shared.db import unit_of_work
from shared.models import Feedback, FeedbackKind, Role, SlaTimer, TimerState
from tests.analytics.helpers import by, table
from tests.factories import BREACH_ONLY, auth, make_department, make_policy

T = datetime.fromisoformat


async def test_sla_compliance_categories_per_subject_type_and_policy(sessions, client, clock):
    clock.set(T("2026-10-20T12:00:00+08:00"))
    dept = await make_department(sessions, name="市场部")
    tasks = await make_policy(sessions, levels=BREACH_ONLY, name="任务时限 task deadline")
    complaints = await make_policy(sessions, levels=BREACH_ONLY, name="客诉 2 小时", subject_type="feedback")
    due_9 = T("2026-10-09T18:00:00+08:00")
    async with unit_of_work(sessions) as s:
        for n, (policy, state, due, met) in enumerate(
            (
                (tasks, TimerState.met, due_9, "2026-10-09T10:00:00+08:00"),  # met on time
                (tasks, TimerState.met, due_9, "2026-10-09T18:00:00+08:00"),  # at the due instant: on time
                (tasks, TimerState.met, due_9, "2026-10-10T10:00:00+08:00"),  # met late
                (tasks, TimerState.running, T("2026-10-15T18:00:00+08:00"), None),  # breached
                (tasks, TimerState.running, T("2026-10-25T18:00:00+08:00"), None),  # open
                (tasks, TimerState.paused, T("2026-10-14T18:00:00+08:00"), None),  # paused: open
                (tasks, TimerState.cancelled, due_9, None),  # not counted
                (tasks, TimerState.running, T("2026-11-05T18:00:00+08:00"), None),  # November
                (complaints, TimerState.met, due_9, "2026-10-09T09:30:00+08:00"),
            )
        ):
            s.add(
                SlaTimer(
                    subject_type=policy.subject_type,
                    subject_id=n + 1,
                    policy_id=policy.id,
                    department_id=dept.id,
                    target_kind="calendar",
                    target_value="PT8H",
                    target_s=8 * 3600.0,
                    state=state,
                    started_at=due.replace(hour=9),
                    due_at=due,
                    met_at=T(met) if met else None,
                )
            )
    headers = await auth(sessions, Role.director)
    rows = by((await table(client, headers, "sla-compliance"))["rows"], "subject_type", "policy")
    assert rows["task", "任务时限 task deadline"] == {
        "subject_type": "task",
        "policy_id": tasks.id,
        "policy": "任务时限 task deadline",
        "met_on_time": 2,
        "met_late": 1,
        "breached": 1,
        "open": 2,
        "compliance_rate": 0.5,  # 2 ÷ (2 + 1 + 1)
    }
    complaint = rows["feedback", "客诉 2 小时"]
    assert (complaint["met_on_time"], complaint["compliance_rate"]) == (1, 1.0)
    other = await make_department(sessions, name="销售部")
    assert (await table(client, headers, "sla-compliance", f"period=2026-10&department_id={other.id}"))["rows"] == []


async def test_feedback_and_complaint_first_response_against_24h_and_2h(sessions, client, clock):
    clock.set(T("2026-10-20T12:00:00+08:00"))
    async with unit_of_work(sessions) as s:
        for kind, received, responded in (
            (FeedbackKind.feedback, "2026-10-09T10:00", "2026-10-09T16:00"),  # 6 h: within 24 h
            (FeedbackKind.feedback, "2026-10-12T09:00", "2026-10-13T21:00"),  # 36 h: late
            (FeedbackKind.feedback, "2026-10-20T09:00", None),  # 3 h ago: still within its target
            (FeedbackKind.complaint, "2026-10-09T10:00", "2026-10-09T11:30"),  # 1.5 h: within 2 h
            (FeedbackKind.complaint, "2026-10-12T09:00", None),  # never answered: late
            (FeedbackKind.complaint, "2026-09-30T10:00", None),  # September
        ):
            s.add(
                Feedback(
                    kind=kind,
                    channel="wechat",
                    content="赠品没有收到",
                    source="api",
                    received_at=T(f"{received}:00+08:00"),
                    first_response_at=T(f"{responded}:00+08:00") if responded else None,
                )
            )
    headers = await auth(sessions, Role.director)
    rows = by((await table(client, headers, "feedback-response"))["rows"], "kind")
    assert rows["feedback"] == {
        "kind": "feedback",
        "received": 3,
        "responded": 2,
        "mean_hours": 21.0,
        "p90_hours": 33.0,  # 6 + 0.9 × 30
        "target_hours": 24.0,
        "within_target": 1,
        "late": 1,
        "awaiting": 1,
        "share_within_target": 0.5,
    }
    assert rows["complaint"] == {
        "kind": "complaint",
        "received": 2,
        "responded": 1,
        "mean_hours": 1.5,
        "p90_hours": 1.5,
        "target_hours": 2.0,
        "within_target": 1,
        "late": 1,
        "awaiting": 0,
        "share_within_target": 0.5,
    }
