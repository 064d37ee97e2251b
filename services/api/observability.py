"""Per-request observation: the request id (taken from `X-Request-ID` or made, answered back, put
into every log line of the request) and the latency histogram by route template.

A plain ASGI middleware, not Starlette's BaseHTTPMiddleware: it adds no task and no copy of the
body per request (board reads target 50 ms p99 at 300 requests/s)."""

from __future__ import annotations

import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability import logs
from shared.observability.metrics import HTTP_LATENCY

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class ObserveRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = given if given is not None and _VALID_ID.match(given) else logs.new_request_id()
        token = logs.request_id.set(rid)
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # The route's template, never the raw path: ids would make one series per item.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_LATENCY.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)
            logs.request_id.reset(token)
