"""The period scheme, and bad query parameters answered 422 naming the parameter."""

from __future__ import annotations

from datetime import date

import pytest

from shared.analytics.period import Bucket, Period, parse_period
from shared.errors import InvalidInput
from shared.models import Role
from tests.factories import auth

TODAY = date(2026, 10, 20)


@pytest.mark.parametrize(
    ("text", "first", "last", "bucket"),
    [
        ("2026", date(2026, 1, 1), date(2026, 12, 31), Bucket.month),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), Bucket.month),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28), Bucket.week),
        ("2026-W40", date(2026, 9, 28), date(2026, 10, 4), Bucket.day),
        ("2026-10-08", date(2026, 10, 8), date(2026, 10, 8), Bucket.day),
    ],
)
def test_named_periods(text, first, last, bucket):
    period = parse_period(text, None, None, today=TODAY)
    assert (period.first, period.last, period.label, period.bucket) == (first, last, text, bucket)


def test_no_period_is_the_current_month_and_from_to_include_both_days():
    assert parse_period(None, None, None, today=TODAY) == Period(date(2026, 10, 1), date(2026, 10, 31), "2026-10")
    span = parse_period(None, date(2026, 9, 28), date(2026, 10, 11), today=TODAY)
    assert (span.first, span.last, span.label) == (date(2026, 9, 28), date(2026, 10, 11), "2026-09-28_2026-10-11")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2026-13", "query.period"),
        ("period=2026-Q5", "query.period"),
        ("period=2026-W54", "query.period"),
        ("period=last-month", "query.period"),
        ("period=2026-10&from=2026-10-01&to=2026-10-31", "query.period"),
        ("from=2026-10-10&to=2026-10-01", "query.to"),
        ("from=2026-10-10", "query.to"),
        ("to=2026-10-10", "query.from"),
        ("from=2026-10-32&to=2026-11-01", "query.from"),
        ("department_id=abc", "query.department_id.0"),
        ("format=xlsx", "query.format"),
        ("periode=2026-10", "query.periode"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(sessions, client, query, field):
    headers = await auth(sessions, Role.director)
    r = await client.get(f"/api/v1/analytics/stages?{query}", headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in r.json()["errors"]}


async def test_group_by_and_benchmark_are_checked_too(sessions, client):
    headers = await auth(sessions, Role.director)
    r = await client.get("/api/v1/analytics/task-timeliness?group_by=foo", headers=headers)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.group_by"]
    r = await client.get("/api/v1/analytics/campaign-cycle?benchmark_days=0", headers=headers)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.benchmark_days"]


async def test_analytics_need_a_token(client):
    assert (await client.get("/api/v1/analytics/stages")).status_code == 401


def test_a_bad_period_is_invalid_input():
    with pytest.raises(InvalidInput):
        parse_period("2026-00", None, None, today=TODAY)


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("2026", "2025"),
        ("2026-Q1", "2025-Q4"),
        ("2026-Q4", "2026-Q3"),
        ("2026-01", "2025-12"),
        ("2026-W01", "2025-W52"),
        ("2026-W41", "2026-W40"),
        ("2026-10-08", "2026-10-07"),
    ],
)
def test_the_previous_period_for_a_change_against_it(text, previous):
    assert parse_period(text, None, None, today=TODAY).previous() == parse_period(previous, None, None, today=TODAY)


def test_the_previous_span_has_as_many_days():
    span = parse_period(None, date(2026, 10, 8), date(2026, 10, 14), today=TODAY).previous()
    assert (span.first, span.last) == (date(2026, 10, 1), date(2026, 10, 7))
