"""Route dispatch: a router that cannot serve a path is skipped without asking its routes, and
every request still reaches the route it reached before (the same match, 405, redirect or 404)."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Match

from services.api.app import ROUTERS
from services.api.routers import health, tasks
from services.api.routing import Router
from shared.models import Role
from tests.factories import auth


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _answers(app, path: str, method: str) -> list[Match]:
    """What each router the app includes answers for a request (the app asks them in this order)."""
    found = []
    for route in app.router.routes:
        scope = {"type": "http", "path": path, "root_path": "", "method": method, "headers": [], "query_string": b""}
        found.append(route.matches(scope)[0])
    return found


def test_every_router_answers_every_documented_request_as_it_did_without_the_shortcut(app, monkeypatch):
    requests = [
        (_concrete(path), method.upper())
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    requests += [("/api/v1/tasks/", "GET"), ("/api/v1/nope", "GET"), ("/healthz", "DELETE"), ("/", "GET")]
    assert len(requests) > 150
    shortcut = {request: _answers(app, *request) for request in requests}
    monkeypatch.setattr(Router, "may_serve", lambda self, path: True)
    assert {request: _answers(app, *request) for request in requests} == shortcut
    # …and each documented one is served (a full match, before any other).
    assert all(Match.FULL in shortcut[r] for r in requests[:-4])


def test_a_path_is_asked_of_the_routers_that_declare_it_only():
    assert all(isinstance(m.router, Router) for m in ROUTERS)  # a plain APIRouter would be asked everything
    assert [m for m in ROUTERS if m.router.may_serve("/healthz")] == [health]
    assert [m for m in ROUTERS if m.router.may_serve("/api/v1/tasks/7")] == [tasks]
    assert [m.__name__.rsplit(".", 1)[1] for m in ROUTERS if m.router.may_serve("/api/v1/campaigns/7/kpis")] == [
        "kpis",
        "campaigns",
        "budget",
        "money",
        "workflow",
        "rectifications",
        "roi",
    ]
    assert not any(m.router.may_serve("/api/v2/tasks") for m in ROUTERS)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/tasks", 200),
        ("DELETE", "/healthz", 405),  # a known path, another method
        ("GET", "/api/v1/no-such-thing", 404),
        ("GET", "/api/v1/tasks/", 307),  # the trailing-slash redirect
    ],
)
async def test_requests_answer_as_before(client, sessions, method, path, status):
    headers = await auth(sessions, Role.member)
    r = await client.request(method, path, headers=headers, follow_redirects=False)
    assert r.status_code == status, r.text
    if status == 307:
        assert r.headers["location"].endswith("/api/v1/tasks")
