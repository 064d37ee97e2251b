"""All ORM models; importing this package registers every table on Base.metadata."""

from shared.models.audit import AuditLog
from shared.models.base import Base
from shared.models.notify import (
    AttemptOutcome,
    Channel,
    ChannelDepartment,
    ChannelKind,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
)
from shared.models.org import ApiToken, Department, Locale, Role, User
from shared.models.sla import Calendar, Escalation, EscalationKind, EscalationPolicy, SlaPolicy, SlaTimer, TimerState
from shared.models.work import OPEN_TASK_STATUSES, Campaign, CampaignStatus, Priority, Task, TaskStatus

__all__ = [
    "OPEN_TASK_STATUSES",
    "ApiToken",
    "AttemptOutcome",
    "AuditLog",
    "Base",
    "Calendar",
    "Campaign",
    "CampaignStatus",
    "Channel",
    "ChannelDepartment",
    "ChannelKind",
    "DeliveryAttempt",
    "Department",
    "Escalation",
    "EscalationKind",
    "EscalationPolicy",
    "Locale",
    "Notification",
    "NotificationStatus",
    "Priority",
    "Role",
    "SlaPolicy",
    "SlaTimer",
    "Task",
    "TaskStatus",
    "TimerState",
    "User",
]
