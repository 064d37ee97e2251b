"""The one error family. The API renders these as RFC 9457 problem+json."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

LOCATIONS = ("body", "query", "path", "header")


@dataclass
class FieldError:
    # A dotted path. In a 422, a field of the command ("due_at", "steps.0.approvers"), which the API
    # reports as body.due_at, or a path with its location already ("query.limit"); in a 409, the
    # state that blocks ("stage", "review").
    field: str
    message: str
    type: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "type": self.type}

    def located(self) -> FieldError:
        """As the API reports it: a command's field is a field of the request body."""
        if self.field.split(".", 1)[0] in LOCATIONS:
            return self
        return FieldError(f"body.{self.field}", self.message, self.type)


def must_be_one_of(values: Iterable[str]) -> str:
    """How every API message words a value outside its set, whether pydantic or a domain found it."""
    return "must be one of: " + ", ".join(values)


def describe(errors: list[FieldError]) -> str:
    return "; ".join(f"{e.field}: {e.message}" for e in errors)


class AppError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    slug: ClassVar[str] = "bad-request"

    def __init__(
        self, detail: str, *, errors: list[FieldError] | None = None, composed: bool = False, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.composed = composed  # the detail is just the list of errors (describe())
        self.input_fields = False  # the errors name fields of the command (the API's request body)
        self.extra = extra
        self.headers: dict[str, str] = {}  # HTTP headers the answer carries (Retry-After …)

    @classmethod
    def on_input(cls, detail: str, field: str, message: str, type: str) -> Self:
        """Caused by one field of the command (a 409: a name already taken; a 403: a department
        that is not the caller's)."""
        exc = cls(detail, errors=[FieldError(field, message, type)])
        exc.input_fields = True
        return exc


class TooManyRequests(AppError):
    """Over the caller's request rate; `Retry-After` says when to come back."""

    status, title, slug = 429, "Too many requests", "rate-limited"


class PreconditionFailed(AppError):
    """`If-Match` names a version the item no longer has: nothing was changed."""

    status, title, slug = 412, "Precondition failed", "precondition-failed"


class PreconditionRequired(AppError):
    """A write without `If-Match` where the deployment requires one."""

    status, title, slug = 428, "Precondition required", "precondition-required"


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"

    @classmethod
    def for_field(cls, field: str, message: str) -> Forbidden:
        """Refused because of what one field of the command names: "field: message"."""
        return cls.on_input(f"{field}: {message}", field, message, "forbidden")


class NotFound(AppError):
    status, title, slug = 404, "Not found", "not-found"


class Gone(AppError):
    status, title, slug = 410, "Gone", "gone"


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class InvalidInput(AppError):
    status, title, slug = 422, "Invalid input", "validation-error"

    @classmethod
    def for_field(cls, field: str, message: str, type: str = "invalid") -> InvalidInput:
        return cls.for_fields([FieldError(field, message, type)])

    @classmethod
    def for_fields(cls, errors: list[FieldError]) -> InvalidInput:
        """Every bad field at once; the detail lists them (the API re-lists them as it locates them)."""
        return cls(describe(errors), errors=errors, composed=True)

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.input_fields = True


class Unavailable(AppError):
    status, title, slug = 503, "Service unavailable", "unavailable"
