"""Log lines: human-readable by default, one JSON object per event with
`CLOSELOOP_LOG_FORMAT=json`, each carrying the request id of the API request it belongs to.

The API takes the caller's `X-Request-ID` (or makes one), answers with it, and puts it in a
context variable every log record of that request picks up."""

from __future__ import annotations

import json
import logging
import logging.config
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from shared.redact import loggable_url, mask_urls

request_id: ContextVar[str | None] = ContextVar("closeloop_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has: anything else was passed in `extra=` and goes into the JSON.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def for_request(rid: str | None) -> Iterator[None]:
    """Log lines written inside carry `rid`: work a request caused, done later by another process
    (the delivery of the outbox rows it wrote)."""
    token = request_id.set(rid)
    try:
        yield
    finally:
        request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class NoSecretsFilter(logging.Filter):
    """The last guard before a line is written, whatever logger it comes from and at any level:
    SQLAlchemy's DEBUG result rows are dropped (they carry whatever the tables hold — emails,
    mobiles, bot URLs, token hashes; statements are logged without their bind values, see
    `hide_parameters` in shared/db.py); every URL, and the path of an access-log line, is written
    as `shared.redact.loggable_url` makes it (no bot credential, no query value)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("sqlalchemy.engine") and "Row %r" in str(record.msg):
            return False
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5 and "?" in str(args[2]):
            record.args = (args[0], args[1], loggable_url(str(args[2])), args[3], args[4])
        message = record.getMessage()
        if "://" in message:
            masked = mask_urls(message)
            if masked != message:
                record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:  # a traceback may quote a URL too
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and "://" in record.exc_text:
            record.exc_text = mask_urls(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        if rid := getattr(record, "request_id", None):
            line["request_id"] = rid
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def dict_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for a Closeloop process — also uvicorn's `log_config`, so
    every API worker process applies it, uvicorn's own loggers included."""
    formatter: dict[str, Any] = {"()": f"{__name__}.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": f"{__name__}.RequestIdFilter"},
            "no_secrets": {"()": f"{__name__}.NoSecretsFilter"},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id", "no_secrets"],
            },
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq")
        },
    }


def configure(log_format: str = "text", level: str = "INFO") -> None:
    """Root logging for a Closeloop process (worker, notifier, CLI)."""
    logging.config.dictConfig(dict_config(log_format, level))
