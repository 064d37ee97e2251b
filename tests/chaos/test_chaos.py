"""Chaos, the short version of bench/chaos.py: api + 2 workers + 2 notifiers as real processes on
servers of their own; 150 tasks fall due within 3 s to a receiver failing 20 % of requests while
a worker and a notifier are killed with SIGKILL, Redis is flushed and restarted and PostgreSQL
restarted. Nothing is lost, nothing fires twice, and the survivors ride it out by themselves."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chaos import run
from tests.conftest import REPO

pytestmark = pytest.mark.e2e


@pytest.fixture
def folder() -> Iterator[Path]:
    """Inside the checkout, not pytest's tmp_path: PostgreSQL runs as its own user (as root) and
    another pytest session of the same user may close /tmp/pytest-of-<user> to 0700 meanwhile."""
    base = REPO / ".closeloop"
    base.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="chaos-", dir=base))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_kill_flush_and_restarts_lose_nothing_and_the_survivors_carry_on(folder):
    report = run(tasks=150, spread_s=3.0, failure_rate=0.2, folder=folder, timeout_s=60, lease_s=12, send_timeout_s=5)
    assert (report.breaches_fired, report.duplicate_escalation_rows) == (150, 0)
    assert (report.delivered, report.lost) == (150, 0)
    # A duplicate (same webhook-id) only for a message whose outcome its sender never learned: in
    # flight at the kill, or sent but answered too late on a loaded machine.
    assert report.receiver_duplicates <= report.in_flight_at_kill + report.timed_out_sends
    assert report.refused_by_receiver > 0  # the receiver really failed some, and they were retried
    assert report.ok
    assert report.survivors_alive == {"api": True, "worker-1": True, "notifier-1": True}
    # They saw the outages (logged, backed off) instead of exiting …
    assert report.outage_log_lines["worker-1"] > 0 and report.outage_log_lines["notifier-1"] > 0
    # … /readyz named the server that was down meanwhile, and said ok again after every fault.
    assert report.readyz_while_down["Redis"].startswith("503") and "redis" in report.readyz_while_down["Redis"]
    assert "database" in report.readyz_while_down["PostgreSQL"]
    assert all(seconds is not None for seconds in report.recovery_s.values()), report.recovery_s
