"""bench/api.py's own arithmetic: the event-loop lag read from two scrapes, the plan verdict, the
profile summary and the route mix — so the figures it prints can be trusted."""

from __future__ import annotations

import math
import random
from pathlib import Path

from bench.api import Ids, filtered_rows, lag_buckets, lag_p99_ms, profile_summary, routes_for, scans, verdict

EXPOSITION = """# HELP closeloop_event_loop_lag_seconds How late the event loop wakes a 100 ms sleep
# TYPE closeloop_event_loop_lag_seconds histogram
closeloop_event_loop_lag_seconds_bucket{le="0.001"} 90.0
closeloop_event_loop_lag_seconds_bucket{le="0.005"} 97.0
closeloop_event_loop_lag_seconds_bucket{le="0.01"} 99.0
closeloop_event_loop_lag_seconds_bucket{le="1.0"} 100.0
closeloop_event_loop_lag_seconds_bucket{le="+Inf"} 100.0
closeloop_event_loop_lag_seconds_count 100.0
closeloop_event_loop_lag_seconds_sum 1.5
"""


def test_lag_p99_counts_only_the_samples_between_the_two_scrapes() -> None:
    before = {0.001: 10.0, 0.005: 10.0, 0.01: 10.0, 1.0: 11.0, math.inf: 11.0}  # start-up's slow sample
    after = lag_buckets(EXPOSITION)

    assert after[0.005] == 97.0
    # 89 samples during the run: 80 under 1 ms, 87 under 5 ms, all 89 under 10 ms.
    assert lag_p99_ms(before, after) == (10.0, 89)
    # Read from the start instead, the start-up's samples count too.
    assert lag_p99_ms({}, after) == (10.0, 100)
    assert lag_p99_ms({}, {0.001: 0.0, 1.0: 1.0, math.inf: 1.0}) == (1000.0, 1)
    assert math.isnan(lag_p99_ms(after, after)[0])


def test_a_sequential_scan_of_a_growing_table_is_named_and_a_small_one_is_not() -> None:
    plan = """Limit
  ->  Nested Loop
        ->  Seq Scan on tasks  (cost=0.00..1.00 rows=1 width=8)
        ->  Seq Scan on users  (cost=0.00..1.00 rows=1 width=8)
        ->  Index Scan using pk_sla_timers on sla_timers"""
    assert scans(plan) == ["tasks"]
    assert scans("Index Scan using ix_tasks_assignee_id on tasks\n  ->  Seq Scan on users") == []
    assert scans("Seq Scan on tasks_archive") == []


def test_an_index_scan_that_discards_most_of_what_it_reads_is_not_served_by_an_index() -> None:
    walk = """Limit  (cost=0.43..4858.95 rows=51 width=453) (actual time=1.268..39.176 rows=51.00 loops=1)
  ->  Index Scan using pk_sla_timers on sla_timers  (cost=0.43..105649.45 rows=1109) (actual rows=51.00 loops=1)
        Filter: ((state)::text = 'running'::text)
        Rows Removed by Filter: 201617"""
    assert filtered_rows(walk) == 201_617
    assert verdict(walk) == "NOT served by an index: an index scan reads and discards 201,617 rows"
    # A few rows discarded per loop, counted over every loop: 300 × 8 = 2 400.
    nested = """Nested Loop  (actual rows=5.00 loops=1)
  ->  Index Scan using ix_review_responses_status on review_responses  (actual rows=1.00 loops=300)
        Rows Removed by Filter: 8"""
    assert filtered_rows(nested) == 2_400
    served = """Limit  (actual rows=51.00 loops=1)
  ->  Index Scan using ix_sla_timers_board on sla_timers  (actual rows=51.00 loops=1)
        Rows Removed by Filter: 40"""
    assert verdict(served) == "served by an index"
    assert verdict("Seq Scan on review_responses  (actual rows=36.00 loops=1)").startswith(
        "NOT served by an index: sequential scan of review_responses"
    )


def test_profile_summary_shares_samples_by_project_function_counting_recursion_once(tmp_path: Path) -> None:
    raw = tmp_path / "api.txt"
    raw.write_text(
        "run (asyncio/events.py:80);list_tasks (/r/services/api/routers/tasks.py:60);"
        "summarize (/r/shared/sla/read.py:30);summarize (/r/shared/sla/read.py:31) 30\n"
        "run (asyncio/events.py:80);list_tasks (/r/services/api/routers/tasks.py:60) 10\n"
        "run (asyncio/events.py:80);select (selectors.py:10) 60\n"
    )
    assert profile_summary([raw]) == [
        ("list_tasks (routers/tasks.py)", 40.0),
        ("summarize (sla/read.py)", 30.0),
    ]
    assert profile_summary([tmp_path / "missing.txt"]) == []


def test_every_route_of_the_mix_fills_its_ids_from_the_seeded_data() -> None:
    ids = Ids(
        departments=[3, 4],
        members=[10, 11],
        approvers=[20],
        campaigns=[7],
        task_range=(100, 200),
        open_tasks=[150],
    )
    rnd = random.Random(1)
    for route in routes_for(ids):
        path = route.path.format(**route.fill(rnd)) if route.fill else route.path
        assert "{" not in path and path.startswith("/api/v1/")
        if route.method == "GET":
            assert route.body is None
    paths = {r.name: r.path.format(**r.fill(rnd)) if r.fill else r.path for r in routes_for(ids)}
    assert paths["approvals ?approver &pending"] == "/api/v1/approvals?limit=50&approver_id=20&status=pending"
    assert paths["PATCH tasks/{id}"] == "/api/v1/tasks/150"
    post = next(r for r in routes_for(ids) if r.method == "POST")
    assert post.body is not None
    body = post.body(rnd)
    assert body["campaign_id"] == 7 and body["assignee_id"] in (10, 11)
