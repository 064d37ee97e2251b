"""Lost updates: ETag on reads and writes, If-Match on PATCH/PUT (412 on a stale version, nothing
changed; `*`; 428 when required), and every PATCH/PUT in the document declares it."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from shared.db import unit_of_work
from shared.models import AuditLog, Role
from shared.settings import load_settings
from tests.factories import auth
from tests.sql import statements


async def audit_rows(sessions, entity_type: str, entity_id: int) -> int:
    async with unit_of_work(sessions) as s:
        return int(
            await s.scalar(
                select(func.count()).where(AuditLog.entity_type == entity_type, AuditLog.entity_id == entity_id)
            )
            or 0
        )


async def test_a_campaign_changed_since_it_was_read_is_not_overwritten(client, sessions):
    headers = await auth(sessions, Role.manager)
    created = await client.post("/api/v1/campaigns", headers=headers, json={"name": "双十一"})
    url = f"/api/v1/campaigns/{created.json()['id']}"
    read = await client.get(url, headers=headers)
    first = read.headers["etag"]
    assert first.startswith('"') and first.endswith('"')
    assert (await client.get(url, headers=headers)).headers["etag"] == first  # reading changes nothing

    # Two people read the same version; the first to write wins…
    r = await client.patch(url, headers={**headers, "If-Match": first}, json={"name": "双十一 预热"})
    assert r.status_code == 200 and r.json()["name"] == "双十一 预热"
    second = r.headers["etag"]
    assert second != first and (await client.get(url, headers=headers)).headers["etag"] == second
    rows = await audit_rows(sessions, "campaign", created.json()["id"])

    # …the second, still holding the first version, is refused and changes nothing.
    r = await client.patch(url, headers={**headers, "If-Match": first}, json={"name": "双十二"})
    assert r.status_code == 412
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["current_etag"] == second and "etag" not in r.headers
    assert (await client.get(url, headers=headers)).json()["name"] == "双十一 预热"
    assert await audit_rows(sessions, "campaign", created.json()["id"]) == rows

    # A list of tags matches if one does; a weak tag never does (strong comparison); `*` is any version.
    r = await client.patch(url, headers={**headers, "If-Match": f'"nope", {second}'}, json={"description": "a"})
    assert r.status_code == 200
    third = r.headers["etag"]
    r = await client.patch(url, headers={**headers, "If-Match": f"W/{third}"}, json={"description": "b"})
    assert r.status_code == 412
    r = await client.patch(url, headers={**headers, "If-Match": "*"}, json={"description": "c"})
    assert r.status_code == 200 and r.headers["etag"] != third
    # Without If-Match a write goes through (the default) and still answers its ETag.
    r = await client.patch(url, headers=headers, json={"description": "d"})
    assert r.status_code == 200 and r.headers["etag"] == (await client.get(url, headers=headers)).headers["etag"]


async def test_a_task_with_a_stale_if_match_is_refused_and_a_missing_one_says_404(client, sessions):
    headers = await auth(sessions, Role.member)
    task = (await client.post("/api/v1/tasks", headers=headers, json={"title": "写方案"})).json()
    url = f"/api/v1/tasks/{task['id']}"
    version = (await client.get(url, headers=headers)).headers["etag"]
    r = await client.patch(url, headers={**headers, "If-Match": version}, json={"status": "in_progress"})
    assert r.status_code == 200 and r.headers["etag"] != version
    r = await client.patch(url, headers={**headers, "If-Match": version}, json={"status": "done"})
    assert r.status_code == 412
    assert (await client.get(url, headers=headers)).json()["status"] == "in_progress"
    # An item that does not exist is a 404 whatever If-Match says (`*` needs the item to exist).
    for tag in (version, "*"):
        r = await client.patch("/api/v1/tasks/999999", headers={**headers, "If-Match": tag}, json={"title": "x"})
        assert r.status_code == 404
    r = await client.get("/api/v1/tasks/999999", headers=headers)
    assert r.status_code == 404 and "etag" not in r.headers


async def test_if_match_can_be_required(settings, clock, engine, sessions):
    from services.api.app import create_app

    app = create_app(load_settings(**{**settings.model_dump(), "require_if_match": True}), clock)
    headers = await auth(sessions, Role.member)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        task = (await client.post("/api/v1/tasks", headers=headers, json={"title": "写方案"})).json()
        url = f"/api/v1/tasks/{task['id']}"
        r = await client.patch(url, headers=headers, json={"title": "改"})
        assert r.status_code == 428 and r.headers["content-type"].startswith("application/problem+json")
        assert (await client.get(url, headers=headers)).json()["title"] == "写方案"
        version = (await client.get(url, headers=headers)).headers["etag"]
        r = await client.patch(url, headers={**headers, "If-Match": version}, json={"title": "改"})
        assert r.status_code == 200 and r.json()["title"] == "改"
        assert (await client.post("/api/v1/tasks", headers=headers, json={"title": "新"})).status_code == 201


async def test_a_template_put_publishes_against_the_version_read(client, sessions):
    from shared.workflow.templates import ensure_workflow_defaults

    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)
    headers = await auth(sessions, Role.manager)
    url = "/api/v1/workflow-templates/campaign_default"
    read = await client.get(url, headers=headers)
    r = await client.put(url, headers={**headers, "If-Match": read.headers["etag"]}, json={"name": "v2"})
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    assert r.headers["etag"] == (await client.get(url, headers=headers)).headers["etag"] != read.headers["etag"]
    # A past version has its own tag, even though it was retired in the same transaction.
    old = await client.get(url, headers=headers, params={"version": 1})
    assert old.json()["version"] == 1 and old.headers["etag"] != r.headers["etag"]
    r = await client.put(url, headers={**headers, "If-Match": read.headers["etag"]}, json={"name": "v3"})
    assert r.status_code == 412
    assert (await client.get(url, headers=headers)).json()["version"] == 2


def test_every_patch_and_put_declares_if_match_and_its_problems(app):
    document = app.openapi()
    writes = [
        (f"{method.upper()} {path}", operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("patch", "put")
    ]
    assert len(writes) >= 21
    undeclared = [
        name
        for name, operation in writes
        if not any(p["in"] == "header" and p["name"] == "If-Match" for p in operation.get("parameters", []))
        or not {"412", "428"} <= set(operation["responses"])
        or "ETag" not in operation["responses"]["200"].get("headers", {})
    ]
    assert undeclared == []
    for path in ("/api/v1/campaigns/{campaign_id}", "/api/v1/tasks/{task_id}"):
        assert "ETag" in document["paths"][path]["get"]["responses"]["200"]["headers"]


async def test_a_task_read_tags_the_row_it_answers_without_reading_it_again(app, client, sessions):
    headers = await auth(sessions, Role.member)
    created = await client.post("/api/v1/tasks", headers=headers, json={"title": "海报"})
    url = f"/api/v1/tasks/{created.json()['id']}"
    first = await client.get(url, headers=headers)  # the token is resolved (and kept) before counting
    with statements(app.state.engine.sync_engine) as sent:
        read = await client.get(url, headers=headers)
    # Whether the member may read it, the task, its timers: the tag's `updated_at` came with the task.
    tables = [re.search(r"\bFROM (\w+)", s)[1] for s in sent]  # type: ignore[index]
    assert tables == ["tasks", "tasks", "sla_timers"]
    assert read.headers["etag"] == first.headers["etag"]
    r = await client.patch(url, headers={**headers, "If-Match": read.headers["etag"]}, json={"priority": "high"})
    assert r.status_code == 200, r.text


async def test_a_task_write_tags_its_new_version_without_reading_it_again(app, client, sessions):
    headers = await auth(sessions, Role.member)
    created = await client.post("/api/v1/tasks", headers=headers, json={"title": "海报"})
    url = f"/api/v1/tasks/{created.json()['id']}"
    read = await client.get(url, headers=headers)
    with statements(app.state.engine.sync_engine) as sent:
        r = await client.patch(url, headers={**headers, "If-Match": read.headers["etag"]}, json={"priority": "high"})
    assert r.status_code == 200, r.text
    # The version is read once, locked, to check If-Match; the new one came back with the UPDATE.
    versions = [s for s in sent if s.startswith("SELECT tasks.id, tasks.updated_at FROM tasks")]
    assert len(versions) == 1 and versions[0].endswith("FOR UPDATE")
    assert r.headers["etag"] != read.headers["etag"]
    assert r.headers["etag"] == (await client.get(url, headers=headers)).headers["etag"]
    # Changing nothing changes no version: the same tag again.
    same = await client.patch(url, headers={**headers, "If-Match": r.headers["etag"]}, json={"priority": "high"})
    assert same.status_code == 200 and same.headers["etag"] == r.headers["etag"]
