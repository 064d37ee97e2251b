"""The generic webhook's event schema, version 1: what `Envelope.as_json()` carries for each event.

These models document the wire format (the API publishes them as OpenAPI webhooks) and check it:
tests validate real payloads against them, with unknown fields forbidden, so a producer that
drifts from the contract fails the build. The published JSON Schema leaves objects open, because
receivers must ignore fields added later within version 1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from shared import subjects  # noqa: F401 — every subject type is registered: the schema lists them all
from shared.calendar.core import TargetKind
from shared.models import ChannelKind, EscalationKind, Locale
from shared.notify.work import WorkEvent
from shared.sla import registry
from shared.sla.levels import PastWhenSet


def _open_for_receivers(schema: dict[str, Any]) -> None:
    schema.pop("additionalProperties", None)


class EventModel(BaseModel):
    """Strict when validating (drift fails tests), open in the published schema."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_open_for_receivers)


# ---- the pieces of an SLA event ----------------------------------------------------------------
class EventSubject(EventModel):
    """What the timer runs on: a task, a campaign stage, a review request or one reviewer's answer, an
    approver on an approval step, a collaboration occurrence, or customer feedback."""

    type: Literal[registry.names()] = Field(examples=["task"])  # type: ignore[valid-type]
    id: int
    title: str
    status: str = Field(description="the subject's status when the event fired", examples=["in_progress"])
    priority: str | None = Field(examples=["high"])
    tags: list[str] = Field(
        default=[], description="the subject's tags; feedback carries its kind (`feedback` or `complaint`)"
    )
    url: str = Field(
        description="the subject in the Closeloop API", examples=["https://closeloop.example/api/v1/tasks/7"]
    )
    page_url: str | None = Field(
        default=None,
        description="a page for people: the team's frontend (`CLOSELOOP_APP_URL`), else Closeloop's read-only item "
        "page behind a signed, expiring link; the chat cards' button opens it",
        examples=["https://closeloop.example/api/v1/pages/task/7?exp=1767225600&sig=3f2a…"],
    )


class EventTimerTarget(EventModel):
    kind: TargetKind
    value: str = Field(description="an ISO 8601 duration, a day count or a time of day, per `kind`", examples=["PT8H"])


class EventTimer(EventModel):
    id: int
    policy_id: int | None
    started_at: datetime
    due_at: datetime
    target: EventTimerTarget


class EventPerson(EventModel):
    """Someone to mention, with their ids in each chat tool (null where unknown)."""

    id: int
    name: str
    mobile: str | None = Field(description="11-digit mainland mobile, or E.164 `+<digits>`")
    feishu_open_id: str | None
    dingtalk_user_id: str | None
    wecom_user_id: str | None
    locale: Locale


class EventCampaign(EventModel):
    id: int
    name: str


class EventPersonRecipient(EventModel):
    """A person this level reached, and in which role; `via` says how a fallback found them."""

    as_: str = Field(
        alias="as",
        description="assignee, assignee_manager, director, department_head, campaign_owner, user:<id>, "
        "or previously_notified (on sla.resolved)",
        examples=["assignee_manager"],
    )
    user_id: int
    name: str
    via: str | None = Field(
        default=None,
        description="present only when the role fell back up the chain",
        examples=["department_head (no manager)"],
    )


class EventChannelRecipient(EventModel):
    """A whole channel named by the level (`channel:<id>`)."""

    as_: Literal["channel"] = Field(alias="as")
    channel_id: int


class SlaEventData(EventModel):
    kind: EscalationKind = Field(description="the event type without its `sla.` prefix")
    subject: EventSubject
    timer: EventTimer
    level: int = Field(description="index of the escalation level; -1 on sla.resolved")
    repeat: int = Field(description="0 for a level's first firing, then 1, 2, … for its repeats")
    scheduled_at: datetime = Field(description="when the level was due to fire")
    fired_at: datetime
    late_by_s: float = Field(
        description="how late the worker fired the level: seconds from when it could first have fired — "
        "scheduled_at, or when the timer was set if that came later — to fired_at (catch-up after downtime)"
    )
    past_when_set: PastWhenSet | None = Field(
        default=None,
        description="set when scheduled_at had already passed as the timer was set — `created`: the item was "
        "created already overdue; `rescheduled`: its due date was moved into the past. Nothing was missed: "
        "this is the level's first message, not a catch-up after downtime",
    )
    assignee: EventPerson | None
    campaign: EventCampaign | None
    mentions: list[EventPerson] = Field(description="who this message is for, on this channel")
    recipients: list[EventPersonRecipient | EventChannelRecipient] = Field(description="everyone the level reached")
    notes: list[str] = Field(description="fallbacks and routing problems, in words")
    locale: Locale | None = Field(description="the language the chat text was written in")


# ---- work-arrival events' data ----------------------------------------------------------------
class EventRef(EventModel):
    id: int
    name: str


class WorkEventData(EventModel):
    kind: Literal[tuple(e.kind for e in WorkEvent)] = Field(  # type: ignore[valid-type]
        description="the event type without its `work.` prefix"
    )
    subject: EventSubject = Field(
        description="the work that arrived: a reviewer's answer (review_requested), an approver's step "
        "(approval_waiting, and the deciding approver's on an approval's decision_made), a collaboration "
        "occurrence, a complaint, the stage entered (stage_advanced) or left last (campaign_completed), a review "
        "(its decision_made)"
    )
    campaign: EventCampaign | None
    departments: list[EventRef] = Field(description="the departments whose group this message is for, on this channel")
    due_at: datetime | None = Field(description="the subject's deadline when it has a running timer")
    by: EventRef | None = Field(description="who caused it: the requester, the approver or reviewer who decided …")
    outcome: str | None = Field(
        description="decision_made: `approved`, `rejected` or `changes_requested`", examples=["approved"]
    )
    reason: str | None = Field(description="decision_made: the decider's reason or comment")
    stage_from: str | None = Field(description="stage_advanced, campaign_completed: the stage left")
    stage_to: str | None = Field(description="stage_advanced: the stage entered")
    mentions: list[EventPerson] = Field(description="who this message is for, on this channel")
    locale: Locale | None = Field(description="the language the chat text was written in")
    occurred_at: datetime


# ---- other events' data ------------------------------------------------------------------------
class EventUnhealthyChannel(EventModel):
    id: int
    name: str
    kind: ChannelKind


class ChannelUnhealthyData(EventModel):
    channel: EventUnhealthyChannel
    reason: str | None = Field(description="the vendor's refusal", examples=["19021: sign match fail"])
    since: datetime
    url: str | None


class EventTestedChannel(EventModel):
    id: int
    name: str


class ChannelTestData(EventModel):
    channel: EventTestedChannel
    requested_by: int | None = Field(description="the user who asked for the test; null from the CLI")


# ---- envelopes -----------------------------------------------------------------------------------
class Event(EventModel):
    id: str = Field(description="the message id, equal to the `webhook-id` header; the same on every retry")
    type: str
    version: Literal["1"] = Field(description="the schema version of this body")
    timestamp: datetime = Field(description="when the event was created (not when this attempt was sent)")


class SlaEvent(Event):
    data: SlaEventData

    @model_validator(mode="after")
    def _kind_matches_type(self) -> SlaEvent:
        if f"sla.{self.data.kind.value}" != self.type:
            raise ValueError(f"data.kind {self.data.kind.value!r} does not match type {self.type!r}")
        return self


class SlaWarningEvent(SlaEvent):
    """An SLA deadline is near (a level with a negative offset fired)."""

    type: Literal["sla.warning"]


class SlaBreachEvent(SlaEvent):
    """An SLA deadline passed (the level at offset 0 fired, or one of its repeats)."""

    type: Literal["sla.breach"]


class SlaEscalationEvent(SlaEvent):
    """Still open after the deadline: a level with a positive offset fired, usually higher up the chain."""

    type: Literal["sla.escalation"]


class SlaResolvedEvent(SlaEvent):
    """The subject met its SLA after a level had fired; sent to the channels that were alerted."""

    type: Literal["sla.resolved"]


class WorkArrivalEvent(Event):
    data: WorkEventData

    @model_validator(mode="after")
    def _kind_matches_type(self) -> WorkArrivalEvent:
        if f"work.{self.data.kind}" != self.type:
            raise ValueError(f"data.kind {self.data.kind!r} does not match type {self.type!r}")
        return self


class ReviewRequestedEvent(WorkArrivalEvent):
    """A review round opened: sent for each reviewer, in their department's group."""

    type: Literal[WorkEvent.review_requested]


class ApprovalWaitingEvent(WorkArrivalEvent):
    """An approval step became active: sent for each of its approvers."""

    type: Literal[WorkEvent.approval_waiting]


class CollaborationReceivedEvent(WorkArrivalEvent):
    """A collaboration request was created: sent to each collaborating department."""

    type: Literal[WorkEvent.collaboration_received]


class ComplaintReceivedEvent(WorkArrivalEvent):
    """A customer complaint was recorded: sent to the owning department at once."""

    type: Literal[WorkEvent.complaint_received]


class StageAdvancedEvent(WorkArrivalEvent):
    """A campaign left a stage through its gate and entered the next."""

    type: Literal[WorkEvent.stage_advanced]


class CampaignCompletedEvent(WorkArrivalEvent):
    """A campaign left its last stage."""

    type: Literal[WorkEvent.campaign_completed]


class DecisionMadeEvent(WorkArrivalEvent):
    """An approval was decided or a review concluded: sent to the requester."""

    type: Literal[WorkEvent.decision_made]


WORK_EVENT_MODELS: tuple[type[WorkArrivalEvent], ...] = (
    ReviewRequestedEvent,
    ApprovalWaitingEvent,
    CollaborationReceivedEvent,
    ComplaintReceivedEvent,
    StageAdvancedEvent,
    CampaignCompletedEvent,
    DecisionMadeEvent,
)


class ChannelUnhealthyEvent(Event):
    """Operator alert: a vendor refused a channel's configuration; its queue is held until fixed."""

    type: Literal["ops.channel_unhealthy"]
    data: ChannelUnhealthyData


class ChannelTestEvent(Event):
    """A test message an operator requested (`POST /api/v1/channels/{id}/test`)."""

    type: Literal["channel.test"]
    data: ChannelTestData


QueuedEvent = Annotated[
    SlaWarningEvent
    | SlaBreachEvent
    | SlaEscalationEvent
    | SlaResolvedEvent
    | ChannelUnhealthyEvent
    | ReviewRequestedEvent
    | ApprovalWaitingEvent
    | CollaborationReceivedEvent
    | ComplaintReceivedEvent
    | StageAdvancedEvent
    | CampaignCompletedEvent
    | DecisionMadeEvent,
    Field(discriminator="type"),
]


class DigestData(EventModel):
    count: int = Field(description="how many events this digest carries")
    counts: dict[str, int] = Field(description="events per type", examples=[{"sla.breach": 12, "sla.warning": 3}])
    url: str = Field(description="these notifications in the Closeloop API")
    items: list[QueuedEvent] = Field(description="each event as it would have been sent alone, most severe first")


class DigestEvent(Event):
    """Several queued events in one delivery, sent when a channel's rate limit would otherwise be
    exceeded. Each item keeps its own `id`: dedupe items on it as well."""

    type: Literal["notification.digest"]
    data: DigestData


WebhookEvent = Annotated[QueuedEvent | DigestEvent | ChannelTestEvent, Field(discriminator="type")]
_MODELS: tuple[type[Event], ...] = (
    SlaWarningEvent,
    SlaBreachEvent,
    SlaEscalationEvent,
    SlaResolvedEvent,
    DigestEvent,
    ChannelUnhealthyEvent,
    ChannelTestEvent,
    *WORK_EVENT_MODELS,
)
EVENT_MODELS: dict[str, type[Event]] = {str(get_args(m.model_fields["type"].annotation)[0]): m for m in _MODELS}
webhook_event = TypeAdapter[Any](WebhookEvent)


def validate_event(body: dict[str, Any]) -> Event:
    """Check a generic-webhook body against the version 1 schema (raises pydantic's ValidationError)."""
    return webhook_event.validate_python(body)  # type: ignore[no-any-return]
