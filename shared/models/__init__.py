"""All ORM models; importing this package registers every table on Base.metadata."""

# campaigns.goal_id references the goals table, which its domain owns: registered with every model.
# channels.chat_app_id references the chat apps, which shared/chat owns: registered the same way.
import shared.chat.models
import shared.goals.models  # noqa: F401
from shared.models.approvals import (
    Approval,
    ApprovalAssignment,
    ApprovalKind,
    ApprovalRule,
    ApprovalStatus,
    ApprovalStep,
    AssignmentStatus,
    StepMode,
    StepStatus,
)
from shared.models.audit import AuditLog
from shared.models.base import Base
from shared.models.collaboration import (
    CollaborationOccurrence,
    CollaborationRequest,
    CollaborationStatus,
    OccurrenceStatus,
)
from shared.models.comments import Comment
from shared.models.feedback import Feedback, FeedbackKind, FeedbackSeverity, FeedbackStatus
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
from shared.models.reviews import ResponseStatus, ReviewDecision, ReviewRequest, ReviewResponse, ReviewStatus
from shared.models.sla import (
    Calendar,
    Escalation,
    EscalationKind,
    EscalationPolicy,
    SlaAcknowledgement,
    SlaPolicy,
    SlaTimer,
    TimerState,
)
from shared.models.work import OPEN_TASK_STATUSES, Campaign, CampaignStatus, Priority, Task, TaskStatus
from shared.models.workflow import (
    CampaignStage,
    OpenTasksAtCompletion,
    StageDeliverable,
    StageStatus,
    WorkflowTemplate,
)

__all__ = [
    "OPEN_TASK_STATUSES",
    "ApiToken",
    "Approval",
    "ApprovalAssignment",
    "ApprovalKind",
    "ApprovalRule",
    "ApprovalStatus",
    "ApprovalStep",
    "AssignmentStatus",
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
    "CollaborationOccurrence",
    "CollaborationRequest",
    "CollaborationStatus",
    "Comment",
    "DeliveryAttempt",
    "Department",
    "Escalation",
    "EscalationKind",
    "EscalationPolicy",
    "Feedback",
    "FeedbackKind",
    "FeedbackSeverity",
    "FeedbackStatus",
    "Locale",
    "Notification",
    "NotificationStatus",
    "OccurrenceStatus",
    "OpenTasksAtCompletion",
    "Priority",
    "ResponseStatus",
    "ReviewDecision",
    "ReviewRequest",
    "ReviewResponse",
    "ReviewStatus",
    "Role",
    "SlaAcknowledgement",
    "SlaPolicy",
    "SlaTimer",
    "StageDeliverable",
    "StageStatus",
    "StepMode",
    "StepStatus",
    "Task",
    "TaskStatus",
    "TimerState",
    "User",
    "WorkflowTemplate",
]
