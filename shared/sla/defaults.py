"""The default SLA set seeded on a new installation (idempotent by name)."""

from __future__ import annotations

from typing import Any

DEFAULT_CALENDAR: dict[str, Any] = {
    "name": "中国大陆工作日 CN office",
    "timezone": "Asia/Shanghai",
    "holiday_country": "CN",
    "weekly_hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "workday_hours": [["09:00", "18:00"]],
    "overrides": {},
    "is_default": True,
}

# Tasks: warn at 80 %, breach → assignee + manager (reminded every 4 working hours, at most 3
# times), +24 working hours → director.
DEFAULT_TASK_ESCALATION: dict[str, Any] = {
    "name": "任务默认升级 Task default escalation",
    "description": "warn at 80 %; breach → assignee + manager, repeated every 4 working hours (max 3); "
    "+24 working hours → director",
    "levels": [
        {"offset": "-20%", "recipients": ["assignee"]},
        {"offset": "0", "recipients": ["assignee", "assignee_manager"], "repeat_every": "PT4H", "max_repeats": 3},
        {"offset": "+PT24H", "recipients": ["director"]},
    ],
}

DEFAULT_TASK_POLICY: dict[str, Any] = {
    "name": "任务截止 Task deadline",
    "description": "every open task: its own due date, else 3 working days; blocked pauses the clock",
    "subject_type": "task",
    "conditions": {},
    "target_kind": "working_days",
    "target_value": "3",
    "start_statuses": ["todo", "in_progress"],
    "pause_statuses": ["blocked"],
    "stop_statuses": ["done"],
    "cancel_statuses": ["cancelled"],
}
