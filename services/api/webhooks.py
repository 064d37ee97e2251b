"""The generic webhook's events, published as OpenAPI 3.1 `webhooks`: one entry per event type,
each with the Standard Webhooks headers and its body schema (shared/notify/events.py)."""

# No `from __future__ import annotations`: FastAPI reads the receiver's annotations at runtime,
# and the body's is a local variable.
import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Header
from fastapi.responses import Response

from shared.notify import events
from shared.notify.work import WorkEvent

TAG = "webhooks"
TAG_DESCRIPTION = """Events Closeloop POSTs to a channel of kind `webhook` (all event types go to the
channel's one URL; switch on `type`). Signed per the Standard Webhooks spec; see each entry."""

DELIVERY = """
**Headers** (Standard Webhooks): `webhook-id` (the message id, equal to the body's `id`),
`webhook-timestamp` (Unix seconds of this attempt), and, when the channel has a secret,
`webhook-signature: v1,<signature>`. `Content-Type: application/json`.

**Verifying the signature**: take the secret shown once when the channel was saved
(`whsec_<base64>`), base64-decode the part after `whsec_` to get the key, and compute
`base64(HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{raw body}"))` over the raw request
bytes (do not re-serialise the JSON). Compare it in constant time with each space-separated
`v1,<signature>` entry of the header, and reject timestamps more than a few minutes from now.
Any Standard Webhooks library verifies this for you.

**Delivery is at least once**: dedupe on `webhook-id`. A retry keeps the same id (and body) with a
fresh timestamp and signature. Answer with any 2xx quickly; the response body is ignored.
Network errors, timeouts, 408, 429 and 5xx are retried with exponential backoff (by default up
to 12 attempts within 24 h). Any other status (3xx — redirects are not followed — or 4xx) is
permanent: the message is dead-lettered, the channel is marked unhealthy and its queue is held
until an operator fixes it and tests the channel.

**Compatibility**: fields may be added within `version` "1"; ignore the ones you do not know.
"""

RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "Permanent failure (except 408 and 429, which are retried): the channel is held"},
    "5XX": {"description": "Retried with backoff, with the same `webhook-id`"},
}

# (event type, operationId, summary)
ENTRIES = (
    ("sla.warning", "slaWarningWebhook", "An SLA deadline is near"),
    ("sla.breach", "slaBreachWebhook", "An SLA deadline passed"),
    ("sla.escalation", "slaEscalationWebhook", "An overdue subject escalated"),
    ("sla.resolved", "slaResolvedWebhook", "An alerted subject met its SLA"),
    ("notification.digest", "notificationDigestWebhook", "Several events in one delivery"),
    ("ops.channel_unhealthy", "opsChannelUnhealthyWebhook", "A channel was refused and is held"),
    ("channel.test", "channelTestWebhook", "A test message"),
    (WorkEvent.review_requested, "workReviewRequestedWebhook", "A review round opened"),
    (WorkEvent.approval_waiting, "workApprovalWaitingWebhook", "An approval step became active"),
    (WorkEvent.collaboration_received, "workCollaborationReceivedWebhook", "A collaboration request arrived"),
    (WorkEvent.complaint_received, "workComplaintReceivedWebhook", "A customer complaint arrived"),
    (WorkEvent.stage_advanced, "workStageAdvancedWebhook", "A campaign entered its next stage"),
    (WorkEvent.campaign_completed, "workCampaignCompletedWebhook", "A campaign completed"),
    (WorkEvent.decision_made, "workDecisionMadeWebhook", "An approval or review was decided"),
)


def _receiver(model: type[events.Event]) -> Callable[..., None]:
    """A stand-in receiver whose signature is what FastAPI documents: the headers and the body."""

    def receive(
        body: model,  # type: ignore[valid-type]
        webhook_id: Annotated[
            str, Header(description="the message id; dedupe on it", examples=["5b1e0c52-5f2a-4e8f-9a55-1c7f3c1d2b9e"])
        ],
        webhook_timestamp: Annotated[int, Header(description="Unix seconds of this attempt")],
        webhook_signature: Annotated[
            str | None,
            Header(description="`v1,<base64 HMAC-SHA256>`, space-separated if several; absent without a secret"),
        ] = None,
    ) -> None:
        raise NotImplementedError  # documentation only: receivers implement this

    return receive


def install(app: FastAPI) -> None:
    for event_type, operation_id, summary in ENTRIES:
        model = events.EVENT_MODELS[event_type]
        app.webhooks.post(
            event_type,
            tags=[TAG],
            operation_id=operation_id,
            summary=summary,
            description=inspect.cleandoc(model.__doc__ or "") + "\n" + DELIVERY,
            response_class=Response,
            response_description="Received (any 2xx)",
            responses=RESPONSES,
        )(_receiver(model))
