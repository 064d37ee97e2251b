"""Route dispatch that rules a whole router out by the path's first segments.

FastAPI finds a request's route by asking every route in turn, router by router in `ROUTERS`'
order: a request for `/healthz` asked every route of the twenty-five routers before it (~85
`matches()` calls, ~10 % of the API's CPU per request under bench/api.py's mix). A `Router` knows
the literal leading segments of its routes' paths (`/api/v1/tasks/{task_id}`: `api`, `v1`, `tasks`)
and answers "no match" at once for a path that starts with none of them; a path it may serve goes
through FastAPI's own matching, in the same order as before — so which route answers, a 405 for a
known path with another method, and a trailing-slash redirect are what they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

_DEPTH = 3  # leading segments compared: `/api/v1/<resource>` tells the routers apart

# A router's keys by length: the leading literal segments of each of its paths (fewer when a
# segment holds a parameter; none — any path may match — for a path that starts with one).
Keys = dict[int, frozenset[tuple[str, ...]]]


def _keys_of(path: str) -> tuple[str, ...]:
    literal: list[str] = []
    for segment in path.split("/")[1 : _DEPTH + 1]:
        if "{" in segment:
            break
        literal.append(segment)
    return tuple(literal)


def _paths(routes: Iterable[Any], prefix: str = "") -> Iterable[str] | None:
    """Every path these routes answer, nested routers' included ones too (None: a route with no
    path, which any request might reach)."""
    paths: list[str] = []
    for route in routes:
        context, nested = getattr(route, "include_context", None), getattr(route, "original_router", None)
        if context is not None and nested is not None:  # a router included in this one
            found = _paths(nested.routes, prefix + context.prefix)
        else:
            path = getattr(route, "path", None)
            found = [prefix + path] if isinstance(path, str) and path.startswith("/") else None
        if found is None:
            return None
        paths.extend(found)
    return paths


class Router(APIRouter):
    """An `APIRouter` (the app includes it without a prefix: its paths are the ones its routes
    declare) that a request whose path starts with none of its paths' literal segments skips."""

    _keys_for: tuple[int, Keys | None] | None = None  # (the routes' version, the keys)

    def _keys(self) -> Keys | None:
        version = len(self.routes)  # routes are added at import time; a later one re-reads them
        if self._keys_for is None or self._keys_for[0] != version:
            paths = _paths(self.routes)
            keys: Keys | None = None
            if paths is not None:
                by_length: dict[int, set[tuple[str, ...]]] = {}
                for path in paths:
                    key = _keys_of(path)
                    by_length.setdefault(len(key), set()).add(key)
                keys = {n: frozenset(found) for n, found in by_length.items()}
            self._keys_for = (version, keys)
        return self._keys_for[1]

    def may_serve(self, path: str) -> bool:
        """False when none of this router's routes can match `path` (True: let FastAPI look)."""
        keys = self._keys()
        if keys is None or 0 in keys:
            return True
        segments = tuple(path.split("/")[1 : _DEPTH + 1])
        return any(segments[:n] in found for n, found in keys.items())

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not self.may_serve(get_route_path(scope)):
            return Match.NONE, {}
        return super().matches(scope)
