"""Customer feedback commands and the feedback item as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from shared.models import FeedbackKind, FeedbackSeverity, FeedbackStatus
from shared.schemas import Instant, ReadModel, WriteModel
from shared.sla.schemas import TimerSummary

Channel = Annotated[str, Field(min_length=1, max_length=32, description="phone, wechat, email, web, store, weibo …")]
Customer = Annotated[str, Field(max_length=200)]
Content = Annotated[str, Field(min_length=1, max_length=20_000)]
Message = Annotated[str, Field(min_length=1, max_length=20_000)]
# The statuses a PATCH may set (`new` is only where an item starts: its first-response clock runs),
# as the FeedbackStatus they are.
SettableStatus = Annotated[Literal["responded", "resolved", "closed"], AfterValidator(FeedbackStatus)]


class FeedbackCreate(WriteModel):
    kind: FeedbackKind = Field(description="feedback (first response in 24 h) or complaint (2 h) by default")
    severity: FeedbackSeverity = FeedbackSeverity.normal
    channel: Channel
    customer_name: Customer | None = None
    customer_contact: Customer | None = None
    content: Content
    campaign_id: int | None = None
    department_id: int | None = Field(default=None, description="default: the owner's department")
    owner_id: int | None = Field(default=None, description="who answers; SLA alerts go to them and their chain")
    received_at: Instant | None = Field(
        default=None, description="when the customer got in touch (not in the future; default now); for reporting"
    )


class FeedbackUpdate(WriteModel):
    owner_id: int | None = None
    department_id: int | None = None
    severity: FeedbackSeverity | None = None
    status: SettableStatus | None = Field(
        default=None, description="resolved records resolved_at; leaving `new` meets the first-response timer"
    )


class FeedbackResponseCreate(WriteModel):
    message: Message


class FeedbackRead(ReadModel):
    id: int
    kind: FeedbackKind
    severity: FeedbackSeverity
    status: FeedbackStatus
    channel: str
    customer_name: str | None = Field(
        description="raw for its department, its owner and managers; masked (张*) for everyone else"
    )
    customer_contact: str | None = Field(
        description="raw for its department, its owner and managers; masked (138****5678, a***@example.com) "
        "for everyone else"
    )
    content: str
    campaign_id: int | None
    department_id: int | None
    owner_id: int | None
    source: str = Field(description="api or webhook")
    external_id: str | None = Field(description="the inbound webhook-id")
    received_at: datetime
    first_response_at: datetime | None
    first_response_by: int | None
    first_response: str | None
    resolved_at: datetime | None
    anonymised_at: datetime | None = Field(
        default=None, description="when the retention purge cleared the customer's data (`closeloop privacy purge`)"
    )
    created_at: datetime
    updated_at: datetime
    sla: list[TimerSummary] = Field(default=[], description="the first-response timers (running, paused or met)")


class FeedbackResponseRead(FeedbackRead):
    """The item after an answer, and how the answer was recorded."""

    recorded_as: Literal["first_response", "comment"] = Field(
        description="first_response: this answer is the item's first response (it met the first-response timer); "
        "comment: the item was already answered, so this one was added to its trail as a comment "
        "(GET /trail/feedback/{id}) and the first response is unchanged"
    )
    comment_id: int | None = Field(description="the trail comment that holds this answer, when recorded_as=comment")
