"""The default working calendar seeded on a new installation (idempotent by name). The default
SLA policies are declared by each subject type (`shared.sla.registry`)."""

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
