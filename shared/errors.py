"""The one error family. The API renders these as RFC 9457 problem+json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

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


class AppError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    slug: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class InvalidInput(AppError):
    status, title, slug = 422, "Invalid input", "validation-error"

    @classmethod
    def for_field(cls, field: str, message: str, type: str = "invalid") -> InvalidInput:
        return cls(f"{field}: {message}", errors=[FieldError(field, message, type)])


class Unavailable(AppError):
    status, title, slug = 503, "Service unavailable", "unavailable"
