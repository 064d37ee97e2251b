"""Request bodies are limited before anything parses them (`CLOSELOOP_MAX_BODY_BYTES`, default
1 MiB): a declared `Content-Length` over the limit is refused at once, and a body sent without one
(chunked) is counted as it arrives and refused when it passes the limit — 413 problem+json either
way, on every route, the signed inbound webhook included."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.problems import PROBLEM_MEDIA_TYPE, BodyTooLarge


class LimitBodies:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send, BodyTooLarge(self.max_bytes))
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)  # the app's handler answers 413 problem+json
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge as exc:  # read outside a route (no handler ran): answer here
            if not started:
                await self._refuse(scope, send, exc)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, exc: BodyTooLarge) -> None:
        body = json.dumps(exc.problem(scope["path"])).encode()
        headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
