"""Read-only item pages: what a chat card's button opens (HTML, no JavaScript), with a bearer token
or the signed, expiring link the card carries."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials

from services.api.deps import NowDep, SessionDep, SettingsDep, bearer
from services.api.problems import ERROR_RESPONSES, NOT_FOUND
from services.api.routing import Router
from shared.errors import Gone, Unauthorized
from shared.links import LinkExpired, verify
from shared.org.tokens import authenticate
from shared.pages import render
from shared.pages.links import page_path
from shared.pages.service import item_view, require_page_reader

router = Router(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["pages"])


@router.get(
    "/pages/{subject_type}/{subject_id}",
    response_class=HTMLResponse,
    operation_id="getItemPage",
    responses={
        **NOT_FOUND,
        410: {"description": "the signed link has expired (ask for a fresh card or sign in)"},
        200: {"content": {"text/html": {}}, "description": "the item's page"},
    },
)
async def item_page(
    subject_type: str,
    subject_id: int,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    exp: Annotated[int | None, Query(description="signed link: expiry (unix seconds)")] = None,
    sig: Annotated[str | None, Query(max_length=128, description="signed link: HMAC-SHA256 signature")] = None,
) -> HTMLResponse:
    """Any timed item (`{subject_type}`: a registered subject type, e.g. `task`, `review_response`) as
    a page for a phone: title, owner, department, campaign, its deadlines on the company's clock
    with the SLA state, and its trail. Opens with a bearer token, or without one through the signed
    link of a chat card (`?exp=…&sig=…`): a tampered link is a 403, an expired one a 410."""
    if credentials is not None and credentials.credentials:
        actor = await authenticate(session, bearer=credentials.credentials, now=now)
        await require_page_reader(session, actor, subject_type, subject_id)
    elif exp is not None and sig is not None:
        try:
            verify(page_path(subject_type, subject_id), exp=exp, sig=sig, now=now, secrets=settings.secret_keys)
        except LinkExpired as exc:
            raise Gone(exc.detail) from None
    else:
        raise Unauthorized("send `Authorization: Bearer <token>` or open the signed link (`exp` and `sig`)")
    view = await item_view(session, subject_type, subject_id, now=now)
    return HTMLResponse(render.page(view, tz=settings.tz))
