"""Customer feedback and complaints (客户反馈 / 客诉) with their first-response SLA; signed inbound intake."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import select

from services.api import versions
from services.api.common import ANY_OF, AnyOf, CursorQ, LimitQ, PageOut, reject_nulls
from services.api.deps import ActorDep, NowDep, SessionDep, SettingsDep, WriterDep
from services.api.problems import ERROR_RESPONSES, NOT_FOUND, PROBLEM_MEDIA_TYPE, Problem
from services.api.routing import Router
from services.api.sla_state import read_with_sla
from shared import crud
from shared.access import policy as access
from shared.actor import Actor
from shared.campaigns.sla import CampaignItem
from shared.errors import InvalidInput, NotFound
from shared.feedback import inbound, privacy
from shared.feedback import service as feedback_service
from shared.feedback.schemas import (
    FeedbackCreate,
    FeedbackRead,
    FeedbackResponseCreate,
    FeedbackResponseRead,
    FeedbackUpdate,
)
from shared.feedback.sla import FeedbackSubject
from shared.models import Feedback, FeedbackKind, FeedbackSeverity, FeedbackStatus
from shared.pagination import paginate

router = Router(prefix="/api/v1", tags=["feedback"])
api = APIRouter(responses=ERROR_RESPONSES)  # bearer-authenticated operations
inbound_api = APIRouter()  # signed, no bearer token: 401/403 mean something else there

_FEEDBACK = versions.row(Feedback, id="feedback_id")  # where its version (ETag) is
_NOT_FOUND: dict[int | str, dict[str, Any]] = dict(NOT_FOUND.items())


async def _read_page(
    session: SessionDep, rows: list[Feedback], now: datetime, actor: Actor | None
) -> list[FeedbackRead]:
    """The items with their SLA state, the customer masked for readers who do not handle them
    (`actor` None: the signed sender of an inbound item, who sent the data)."""
    items = await read_with_sla(session, FeedbackSubject.feedback, rows, FeedbackRead, now)
    return items if actor is None else await privacy.shown_to(session, actor, items)


@api.post("/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackRead, operation_id="createFeedback")
async def create_feedback(
    body: FeedbackCreate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> FeedbackRead:
    """Record customer feedback or a complaint; its first-response timer starts now."""
    access.require_department(actor, body.department_id)
    await access.require_reference(session, actor, CampaignItem.campaign, body.campaign_id, field="campaign_id")
    feedback = await feedback_service.create_feedback(session, actor=actor, data=body, now=now)
    return (await _read_page(session, [feedback], now, actor))[0]


@api.get("/feedback", response_model=PageOut[FeedbackRead], operation_id="listFeedback")
async def list_feedback(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    limit: LimitQ = 50,
    cursor: CursorQ = None,
    kind: FeedbackKind | None = None,
    status: Annotated[list[FeedbackStatus] | None, AnyOf, Query(description=ANY_OF)] = None,
    severity: FeedbackSeverity | None = None,
    department_id: int | None = None,
    owner_id: int | None = None,
    campaign_id: int | None = None,
    overdue: Annotated[bool | None, Query(description="a first-response timer is past due")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text the content or customer name contains")] = None,
) -> dict[str, Any]:
    """List feedback and complaints; each carries its SLA state."""
    stmt = feedback_service.feedback_filter(
        access.visible(select(Feedback), actor),
        kind=kind,
        statuses=status,
        severity=severity,
        department_id=department_id,
        owner_id=owner_id,
        campaign_id=campaign_id,
        overdue=overdue,
        q=q,
        customer_readable=await privacy.readable_clause(session, actor) if q else None,
        now=now,
    )
    page = await paginate(session, stmt, Feedback.id, limit=limit, cursor=cursor)
    return {"items": await _read_page(session, list(page.items), now, actor), "next_cursor": page.next_cursor}


@api.get(
    "/feedback/{feedback_id}",
    dependencies=[versions.reads(_FEEDBACK)],
    response_model=FeedbackRead,
    operation_id="getFeedback",
    responses=_NOT_FOUND,
)
async def get_feedback(feedback_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> FeedbackRead:
    """One piece of feedback, with its SLA state."""
    await access.require_read(session, actor, FeedbackSubject.feedback, feedback_id)
    return (await _read_page(session, [await crud.get_or_404(session, Feedback, feedback_id)], now, actor))[0]


@api.patch(
    "/feedback/{feedback_id}",
    dependencies=[versions.writes(_FEEDBACK)],
    response_model=FeedbackRead,
    operation_id="updateFeedback",
    responses=_NOT_FOUND,
)
async def update_feedback(
    feedback_id: int, body: FeedbackUpdate, session: SessionDep, actor: WriterDep, now: NowDep, settings: SettingsDep
) -> FeedbackRead:
    """Reassign, re-grade or move an item on. Its timers follow in the same transaction: a new owner
    receives the escalations, a new severity re-matches the policies."""
    await access.require_write(session, actor, FeedbackSubject.feedback, feedback_id)
    reject_nulls(body.model_dump(exclude_unset=True), ("severity", "status"))
    feedback = await feedback_service.update_feedback(
        session, actor=actor, feedback_id=feedback_id, changes=body, now=now
    )
    return (await _read_page(session, [feedback], now, actor))[0]


@api.post(
    "/feedback/{feedback_id}/responses",
    response_model=FeedbackResponseRead,
    operation_id="respondToFeedback",
    responses=_NOT_FOUND,
)
async def respond_to_feedback(
    feedback_id: int,
    body: FeedbackResponseCreate,
    session: SessionDep,
    actor: WriterDep,
    now: NowDep,
    settings: SettingsDep,
) -> FeedbackResponseRead:
    """Answer the customer. The first answer is the first response: it meets the timer and moves
    `new` to `responded`. Later answers are kept as trail comments — the answer says so
    (`recorded_as: comment`, `comment_id`) — and the first-response time never moves."""
    await access.require_write(session, actor, FeedbackSubject.feedback, feedback_id)
    feedback, comment = await feedback_service.respond(
        session, actor=actor, feedback_id=feedback_id, data=body, now=now
    )
    item = (await _read_page(session, [feedback], now, actor))[0]
    return FeedbackResponseRead(
        **item.model_dump(),
        recorded_as="comment" if comment is not None else "first_response",
        comment_id=comment.id if comment is not None else None,
    )


# ---- signed inbound intake -----------------------------------------------------------------------
INBOUND_DESCRIPTION = """Other systems (a call centre, a store's POS, a social-listening tool) POST
customer feedback here. **No bearer token**: the request is signed per the Standard Webhooks spec
with the secret in `CLOSELOOP_INBOUND_WEBHOOK_SECRET` (`whsec_<base64>`):
`webhook-signature: v1,<base64(HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{raw body}"))>`,
key = the base64-decoded part after `whsec_`; several space-separated signatures may be sent (any
one matching is enough); the timestamp (Unix seconds) must be within 5 minutes of now.

The body is the same as `createFeedback`. Deliveries are deduped on `webhook-id`: a redelivery
returns 200 with the item recorded the first time and changes nothing. When no secret is
configured, intake is disabled (404)."""


@inbound_api.post(
    "/inbound/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackRead,
    operation_id="receiveFeedbackWebhook",
    description=INBOUND_DESCRIPTION,
    summary="Receive feedback from another system (signed webhook)",
    responses={
        200: {"model": FeedbackRead, "description": "A redelivery: the item recorded the first time"},
        401: {
            "model": Problem,
            "description": "Missing or invalid signature, or a stale timestamp",
            "content": {PROBLEM_MEDIA_TYPE: {}},
        },
        404: {"model": Problem, "description": "Inbound intake is disabled", "content": {PROBLEM_MEDIA_TYPE: {}}},
        422: ERROR_RESPONSES[422],
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FeedbackCreate"}}},
        }
    },
)
async def receive_feedback_webhook(
    request: Request,
    response: Response,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    webhook_id: Annotated[str | None, Header(description="the message id: deliveries are deduped on it")] = None,
    webhook_timestamp: Annotated[str | None, Header(description="Unix seconds")] = None,
    webhook_signature: Annotated[str | None, Header(description="`v1,<base64>` (space-separated)")] = None,
) -> FeedbackRead:
    secret = settings.inbound_webhook_secret.get_secret_value() if settings.inbound_webhook_secret else ""
    if not secret:  # an empty secret would make every signature forgeable: treat it as unset
        raise NotFound("inbound feedback intake is disabled (CLOSELOOP_INBOUND_WEBHOOK_SECRET is not set)")
    raw = await request.body()
    inbound.verify(
        secret,
        message_id=webhook_id,
        timestamp=webhook_timestamp,
        signature=webhook_signature,
        body=raw,
        now=now,
    )
    assert webhook_id is not None  # verify() refused a delivery without one
    if len(webhook_id) > 200:
        raise InvalidInput.for_field("header.webhook-id", "at most 200 characters")
    try:
        body = FeedbackCreate.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        ) from None
    feedback, created = await inbound.receive_feedback(session, message_id=webhook_id, data=body, now=now)
    if not created:
        response.status_code = status.HTTP_200_OK
    return (await _read_page(session, [feedback], now, None))[0]


router.include_router(api)
router.include_router(inbound_api)
