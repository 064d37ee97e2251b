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
from shared.models.workflow import CampaignStage, StageDeliverable, StageStatus, WorkflowTemplate

__all__ = [
    "OPEN_TASK_STATUSES",
    "ApiToken",
    "AttemptOutcome",
    "AuditLog",
    "Base",
    "Calendar",
    "Campaign",
    "CampaignStage",
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
    "StageDeliverable",
    "StageStatus",
    "Task",
    "TaskStatus",
    "TimerState",
    "User",
    "WorkflowTemplate",
]
