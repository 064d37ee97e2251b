"""JSON text for the hot paths (the outbox, escalation rows, every JSONB column through the
engine): orjson, ~8× the standard library's `json.dumps` on an SLA event payload (bench/sweep.py
profile: JSON was ~0.3 s of every 10 000 fired levels).

Same text semantics the code relied on: UTF-8 kept as is (like `ensure_ascii=False`), non-string
dict keys become strings (like `json`), str/int subclasses (StrEnum) serialise as their value."""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, option=_OPTIONS).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
