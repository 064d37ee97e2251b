"""What the API refuses before reading what a request says: malformed JSON (400) and bodies over
the limit (413), both problem+json and documented; and no bind parameter in a logged SQL error."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from services.api.problems import db_error_summary
from shared.db import unit_of_work
from shared.models import Task
from shared.settings import load_settings
from tests.factories import auth

LIMIT = load_settings(database_url=None, redis_url=None).max_body_bytes


async def tasks(sessions) -> int:
    async with unit_of_work(sessions) as s:
        return await s.scalar(select(func.count()).select_from(Task)) or 0


async def test_malformed_json_is_a_400_problem_naming_the_body(client, sessions):
    headers = {**(await auth(sessions)), "content-type": "application/json"}
    r = await client.post("/api/v1/tasks", headers=headers, content='{"title": "竞品分析", '.encode())
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"].endswith("/malformed-json") and problem["errors"][0]["field"] == "body"
    assert await tasks(sessions) == 0


async def test_a_body_over_the_limit_is_refused_before_it_is_parsed(client, sessions):
    headers = {**(await auth(sessions)), "content-type": "application/json"}
    big = b'{"title": "' + b"x" * LIMIT + b'"}'
    r = await client.post("/api/v1/tasks", headers=headers, content=big)  # with Content-Length
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/body-too-large") and r.json()["errors"][0]["field"] == "body"

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(LIMIT // 65536 + 2):
            yield b" " * 65536

    r = await client.post("/api/v1/tasks", headers=headers, content=chunks())
    assert r.status_code == 413 and r.json()["status"] == 413
    # The signed inbound webhook too: refused before its signature is even looked at.
    r = await client.post("/api/v1/inbound/feedback", headers={"content-type": "application/json"}, content=big)
    assert r.status_code == 413
    assert await tasks(sessions) == 0
    # Just under the limit is read as usual (here: a title too long for the field, 422).
    r = await client.post("/api/v1/tasks", headers=headers, content=b'{"title": "' + b"x" * (LIMIT - 100) + b'"}')
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.title"


def test_every_operation_with_a_body_documents_400_and_413(client):
    from services.api.app import openapi_document

    doc = openapi_document()
    post = doc["paths"]["/api/v1/tasks"]["post"]["responses"]
    assert {"400", "413"} <= set(post)
    assert post["400"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "400" not in doc["paths"]["/api/v1/tasks"]["get"]["responses"]
    with_body = [op for path in doc["paths"].values() for op in path.values() if "requestBody" in op]
    assert len(with_body) > 50 and all({"400", "413"} <= set(op["responses"]) for op in with_body)


async def test_a_database_error_is_logged_without_the_values_it_quotes(sessions):
    secret = "13800138000-secret@example.com"
    with pytest.raises(DBAPIError) as bad_value:
        async with unit_of_work(sessions) as s:
            await s.execute(text("SELECT CAST(:v AS integer)"), {"v": secret})
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(bad_value.value)
    async with unit_of_work(sessions) as s:
        await s.execute(text("INSERT INTO departments (name) VALUES (:n)"), {"n": secret})
    with pytest.raises(DBAPIError) as duplicate:
        async with unit_of_work(sessions) as s:
            await s.execute(text("INSERT INTO departments (name) VALUES (:n)"), {"n": secret})
    # The driver's message quotes the value (a unique violation's detail does too); the summary the
    # API logs does not.
    assert secret in str(bad_value.value.orig)
    assert "sqlstate=22000" in db_error_summary(bad_value.value) and secret not in db_error_summary(bad_value.value)
    summary = db_error_summary(duplicate.value)
    assert secret not in summary
    assert summary.startswith("UniqueViolationError sqlstate=23505 table_name=departments constraint_name=")
