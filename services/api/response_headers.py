"""Headers a dependency decides for the answer — `RateLimit-*` when the caller is counted, `ETag`
once a write has happened — added when the answer starts. A dependency's response headers are
copied before its own exit code runs (where the version after a write is known), so those travel
in the request's scope and this middleware puts them on the answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_KEY = "closeloop.response_headers"


def add_response_headers(request: Request, headers: dict[str, str]) -> None:
    """Put `headers` on this request's answer (later calls win per name)."""
    request.scope.setdefault(_KEY, {}).update(headers)


class ResponseHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            extra = scope.get(_KEY)
            if message["type"] == "http.response.start" and extra:
                names = {k.lower().encode("latin-1") for k in extra}
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in names]
                message["headers"] = [*kept, *((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())]
            await send(message)

        await self.app(scope, receive, send_with_headers)
