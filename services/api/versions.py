"""Lost updates: `ETag` on an item's reads and writes, `If-Match` on its PATCH and PUT.

An item's version is its row's `updated_at`: every write of the row changes it (the column's
`onupdate`, the database's `now()` of the writing transaction), and a write that changes nothing
leaves it. The ETag is an opaque strong tag derived from it. What a read embeds from elsewhere —
SLA countdowns, deliverables, comments — is not the item's own state and does not change it.

Every PATCH and PUT route declares `dependencies=[writes(...)]` with where its row is; every
single-item GET of such an item `dependencies=[reads(...)]`. For a write:

- no `If-Match`: fine, unless `CLOSELOOP_REQUIRE_IF_MATCH=true` (428);
- with it, the row is locked (`FOR UPDATE`) before the route runs, so nobody changes it between
  the check and the write; the route then runs as usual — a 404 or 403 stays what it is, so the
  header tells nothing about items the caller may not see — and if the version it was locked at is
  not one of the tags (`*`: any, if the item exists) the whole change is rolled back: 412, nothing
  changed;
- the answer carries the new `ETag`.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.routing import iter_route_contexts
from sqlalchemy import Select, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from services.api.deps import ActorDep, SessionDep, SettingsDep
from services.api.problems import PROBLEM_MEDIA_TYPE
from services.api.response_headers import add_response_headers
from shared.errors import PreconditionFailed, PreconditionRequired

# Path (and query) parameters → the select of the item's id and `updated_at` (None: they name no item).
Locator = Callable[[Mapping[str, Any]], Select[int, datetime] | None]

_BIGINT = 2**63


Version = tuple[int, datetime]  # the row's id and `updated_at`


def etag(version: Version) -> str:
    """The strong entity tag of a version (opaque: clients compare it, never parse it). The row's
    id is in it: a PUT that publishes a new row (a template version) in the same transaction that
    retires the old one gives both the same `updated_at`, never the same tag."""
    row_id, updated_at = version
    return '"' + hashlib.sha256(f"{row_id}:{updated_at.isoformat()}".encode()).hexdigest()[:20] + '"'


class RowLocator:
    """The `model` row whose columns equal these path parameters (`row(Task, id="task_id")`);
    `where` adds a fixed condition (the current version of a template)."""

    def __init__(self, model: Any, where: Any, columns: Mapping[str, str]) -> None:
        self.model, self.where, self.columns = model, where, dict(columns)

    def __call__(self, params: Mapping[str, Any]) -> Select[int, datetime] | None:
        stmt = select(self.model.id, self.model.updated_at)
        for column, param in self.columns.items():
            attr = getattr(self.model, column)
            value: Any = params.get(param)
            if attr.type.python_type is int:
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    return None  # FastAPI answers the 422 for the parameter
                if not -_BIGINT <= value < _BIGINT:
                    return None
            stmt = stmt.where(attr == value)
        return stmt if self.where is None else stmt.where(self.where)

    def held(self, session: AsyncSession, params: Mapping[str, Any]) -> Version | None:
        """The version of a row located by its id as this request's session already holds it (the
        route read it in this transaction: the tag is the version of what it answers), without a
        statement; None when the session does not hold it loaded."""
        if self.where is not None or list(self.columns) != ["id"]:
            return None
        try:
            key = identity_key(self.model, int(params[self.columns["id"]]))
        except (KeyError, TypeError, ValueError):
            return None
        obj = session.identity_map.get(key)
        if obj is None or "updated_at" not in obj.__dict__:  # expired by a write: read it again
            return None
        return obj.id, obj.updated_at


# The session's identity map holds its objects weakly: once the route has turned its row into the
# answer, the row would be gone by the time the tag is made. A request that tags its answer keeps
# what it loads here until the session closes (one item and what it embeds).
_HOLD = "closeloop.versions.hold"


@event.listens_for(Session, "loaded_as_persistent")
def _hold_loaded(session: Session, instance: Any) -> None:
    held = session.info.get(_HOLD)
    if held is not None:
        held.append(instance)


def row(model: Any, *, where: Any = None, **columns: str) -> RowLocator:
    """The `model` row whose columns equal these path parameters (`row(Task, id="task_id")`);
    `where` adds a fixed condition (the current version of a template)."""
    return RowLocator(model, where, columns)


async def _version(session: AsyncSession, stmt: Select[int, datetime]) -> Version | None:
    found = (await session.execute(stmt)).one_or_none()
    return None if found is None else (found[0], found[1])


def _params(request: Request) -> dict[str, Any]:
    return {**request.query_params, **request.path_params}


def _matches(if_match: str, version: Version | None) -> bool:
    """RFC 9110 If-Match: `*` needs the item to exist; otherwise a strong tag must equal its ETag."""
    if version is None:
        return False
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or etag(version) in tags


IF_MATCH_DESCRIPTION = (
    "the item's `ETag` as last read: the change is made only if nobody changed the item since "
    "(412 otherwise); `*` for any version"
)


def writes(locate: Locator) -> Any:
    """The PATCH / PUT dependency: honours `If-Match`, answers the new `ETag`."""

    async def precondition(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        actor: ActorDep,  # authenticated (and rate-limited) before anything is locked
        if_match: Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DESCRIPTION)] = None,
    ) -> AsyncIterator[None]:
        if if_match is None and settings.require_if_match:
            raise PreconditionRequired(
                "send `If-Match` with the item's ETag (from its last read), or `*`: this API refuses blind overwrites"
            )
        params = _params(request)
        stmt = locate(params)
        locked = None
        if if_match is not None and stmt is not None:
            locked = await _version(session, stmt.with_for_update())
        session.info[_HOLD] = []  # the row the route writes stays in the session's identity map
        yield
        if stmt is None:
            return
        if if_match is not None and not _matches(if_match, locked):
            raise PreconditionFailed(
                "the item changed since the version in `If-Match` (or does not exist): read it again, "
                "then retry; nothing was changed",
                current_etag=etag(locked) if locked is not None else None,
            )
        # What the route changed but did not flush yet is written now (a row's write expires or
        # returns its new `updated_at`): the row as the session holds it is then the new version,
        # with no statement to read it again.
        await session.flush()
        version = locate.held(session, params) if isinstance(locate, RowLocator) else None
        if version is None:
            version = await _version(session, stmt)
        if version is not None:
            add_response_headers(request, {"ETag": etag(version)})

    precondition._closeloop_versioned = "write"  # type: ignore[attr-defined]
    return Depends(precondition, scope="function")


def reads(locate: Locator) -> Any:
    """The single-item GET dependency: answers the item's `ETag`."""

    async def tag(request: Request, session: SessionDep) -> AsyncIterator[None]:
        session.info[_HOLD] = []  # the rows the route loads stay in the session's identity map
        yield  # only once the route has answered: a 404 or 403 carries no tag
        params = _params(request)
        version = locate.held(session, params) if isinstance(locate, RowLocator) else None
        if version is None and (stmt := locate(params)) is not None:
            version = await _version(session, stmt)
        if version is not None:
            add_response_headers(request, {"ETag": etag(version)})

    tag._closeloop_versioned = "read"  # type: ignore[attr-defined]
    return Depends(tag, scope="function")


def _kind(route: Any) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if kind := getattr(dep.call, "_closeloop_versioned", None):
            return str(kind)
        stack.extend(dep.dependencies)
    return None


ETAG_HEADER = {"ETag": {"description": "the item's version, for `If-Match`", "schema": {"type": "string"}}}
PRECONDITION_RESPONSES = {
    "412": "`If-Match` names a version the item no longer has (or it does not exist): nothing was changed",
    "428": "`If-Match` is required (`CLOSELOOP_REQUIRE_IF_MATCH=true`) and was not sent",
}


def document(app: FastAPI) -> None:
    """Versioned operations document their `ETag` header and their 412 / 428 problems."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for route in iter_route_contexts(app.routes):  # the routers' routes as included, prefixes applied
            if getattr(route, "dependant", None) is None or (kind := _kind(route)) is None:
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format or "", {}).get(method.lower())
                if operation is None:
                    continue
                for code, response in operation["responses"].items():
                    if code.startswith("2"):
                        response.setdefault("headers", {}).update(ETAG_HEADER)
                if kind == "write":
                    for code, description in PRECONDITION_RESPONSES.items():
                        operation["responses"].setdefault(
                            code, {"description": description, "content": {PROBLEM_MEDIA_TYPE: problem}}
                        )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
