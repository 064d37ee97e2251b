"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.calendar import CalendarError
from shared.errors import AppError, describe, must_be_one_of

log = logging.getLogger("closeloop.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://closeloop.dev/problems/"


class FieldProblem(BaseModel):
    field: str = Field(description="where the problem is: body.x, query.y, path.z, header.w")
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


class BodyTooLarge(StarletteHTTPException):
    """A request body over `CLOSELOOP_MAX_BODY_BYTES` (raised while it is read: services.api.limits)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes

    def problem(self, path: str) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + "body-too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": str(self.detail),
            "instance": path,
            "errors": [{"field": "body", "message": f"at most {self.max_bytes} bytes", "type": "too_large"}],
        }


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "errors": errors or [],
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    # Pydantic puts the union/model tag into loc for some errors; keep the path readable.
    return ".".join(parts) if parts else "body"


_QUOTED = re.compile(r"'([^']*)'")


def _message(err: dict[str, Any]) -> str:
    """Pydantic's message, except where one wording serves every field: an enum or a literal reads
    "must be one of: approve, reject" whether the schema declares an Enum or a Literal."""
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "unknown field (not accepted here)"
    if kind in ("enum", "literal_error"):
        allowed = _QUOTED.findall(str((err.get("ctx") or {}).get("expected", "")))
        if allowed:
            return must_be_one_of(allowed)
    return str(err.get("msg"))


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        headers = {**({"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}), **exc.headers}
        errors, detail = exc.errors, exc.detail
        if exc.input_fields:  # domain code names its command's fields; here they are the body's
            errors = [e.located() for e in exc.errors]
            if exc.composed:
                detail = describe(errors)
        return problem_response(
            request,
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=detail,
            errors=[e.as_dict() for e in errors],
            headers=headers or None,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if malformed:  # not JSON at all: the request is malformed, nothing in it could be validated
            where = (malformed[0].get("ctx") or {}).get("error", "invalid JSON")
            return problem_response(
                request,
                status=400,
                slug="malformed-json",
                title="Malformed JSON",
                detail=f"the request body is not valid JSON: {where}",
                errors=[{"field": "body", "message": f"not valid JSON: {where}", "type": "json_invalid"}],
            )
        errors = []
        for err in exc.errors():
            field = _loc_to_field(err.get("loc", ()))
            errors.append({"field": field, "message": _message(err), "type": str(err.get("type", "invalid"))})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return problem_response(
            request, status=422, slug="validation-error", title="Invalid input", detail=detail, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyTooLarge):
            return JSONResponse(exc.problem(request.url.path), status_code=413, media_type=PROBLEM_MEDIA_TYPE)
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}
        return problem_response(
            request,
            status=exc.status_code,
            slug=f"http-{exc.status_code}",
            title=titles.get(exc.status_code, "Error"),
            detail=str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # Services check uniqueness and references first; this only catches a race between two writers.
        log.info("integrity error: %s", db_error_summary(exc))
        return problem_response(
            request,
            status=409,
            slug="conflict",
            title="Conflict",
            detail="the change conflicts with data written concurrently; retry",
        )

    @app.exception_handler(CalendarError)
    async def calendar_error(request: Request, exc: CalendarError) -> JSONResponse:
        # A target or calendar that parses but cannot be scheduled (no working time within the
        # search horizon): the input's fault, never a 500.
        return problem_response(
            request,
            status=422,
            slug="validation-error",
            title="Invalid input",
            detail=str(exc),
            errors=[{"field": exc.field, "message": exc.message, "type": "calendar"}],
        )

    @app.exception_handler(PoolTimeout)
    async def pool_exhausted(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every connection of this process is busy (a saturated API): the client should come back
        # shortly, not read it as a fault of ours or of its request.
        log.warning("no free database connection within the pool timeout")
        return problem_response(
            request,
            status=503,
            slug="unavailable",
            title="Service unavailable",
            detail="the API is saturated: no database connection came free in time; retry shortly",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(DBAPIError)
    async def db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if _is_data_error(exc):
            # A value PostgreSQL or its driver refuses (an id beyond BIGINT, a number out of its
            # column's range): the request's fault, not an outage.
            log.info("data error: %s", db_error_summary(exc))
            return problem_response(
                request,
                status=422,
                slug="validation-error",
                title="Invalid input",
                detail="a value is out of range for its field",
                errors=[{"field": "request", "message": "a number or id is out of range", "type": "range"}],
            )
        log.warning("database error: %s", db_error_summary(exc))
        return problem_response(
            request,
            status=503,
            slug="unavailable",
            title="Service unavailable",
            detail="the database is unavailable or rejected the request; retry later",
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            status=500,
            slug="internal",
            title="Internal error",
            detail="an unexpected error occurred; it has been logged",
        )


def db_error_summary(exc: DBAPIError) -> str:
    """What a log line says of a database error: the driver's error class, SQLSTATE, constraint and
    column — never its message, which quotes values (`Key (email)=(…) already exists`, `invalid
    input for query argument $1: '…'`)."""
    source: BaseException = exc.orig or exc
    cause: BaseException | None = source
    while cause is not None:  # the driver's own exception (deepest with a SQLSTATE) has the names
        if getattr(cause, "sqlstate", None):
            source = cause
        cause = cause.__cause__
    parts = [type(source).__name__]
    for attr in ("sqlstate", "table_name", "constraint_name", "column_name"):
        if value := getattr(source, attr, None):
            parts.append(f"{attr}={value}")
    return " ".join(parts)


def _is_data_error(exc: DBAPIError) -> bool:
    import asyncpg

    if isinstance(exc, DataError):
        return True
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, asyncpg.exceptions.DataError):
            return True
        cause = cause.__cause__
    return False


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": desc, "content": {PROBLEM_MEDIA_TYPE: {}}}
    for code, desc in (
        (401, "Missing or invalid bearer token"),
        (403, "Role not allowed"),
        (422, "Invalid input; `errors` names each field"),
    )
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such entity", "content": {PROBLEM_MEDIA_TYPE: {}}}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "Conflicts with existing data", "content": {PROBLEM_MEDIA_TYPE: {}}}
}


BODY_ERRORS = {
    "400": "Malformed JSON: the body could not be parsed (`errors[0].field` is `body`)",
    "413": "Request body too large (`CLOSELOOP_MAX_BODY_BYTES`, default 1 MiB)",
}


def document_body_errors(app: FastAPI) -> None:
    """Every operation that takes a body documents its 400 (malformed JSON) and 413 (too large)
    problems, generated once with the rest of the document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict) and "requestBody" in operation:
                    for code, description in BODY_ERRORS.items():
                        operation["responses"].setdefault(
                            code, {"description": description, "content": {PROBLEM_MEDIA_TYPE: problem}}
                        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
