"""The process-local instruments every Closeloop process updates, and the exposition of them.

Counters and histograms live in the process that observes them (the API its requests, the worker
its fired levels, the notifier its deliveries). With `PROMETHEUS_MULTIPROC_DIR` set — `closeloop
run` sets it, the compose file shares a volume — each process writes its samples there and the
API's `/metrics` adds up every process's (prometheus-client's multiprocess mode), so one scrape
sees several API processes, the workers and the notifiers. Without it (one process, tests) the
default registry answers.

Gauges that describe the system rather than one process (sweep lag, outbox depth, dead letters,
heartbeats, channel health) are read from PostgreSQL and Redis at scrape time: see
`shared.observability.gauges`.

Series (all prefixed `closeloop_`):

| series | type | labels | from |
|---|---|---|---|
| `http_request_duration_seconds` | histogram | method, route (the template, `/api/v1/tasks/{task_id}`), status | api |
| `event_loop_lag_seconds` | histogram | — | api, worker |
| `sla_levels_fired_total` | counter | kind (warning, breach, escalation, repeat …) | worker |
| `sla_sweeps_total` | counter | — | worker |
| `notifier_deliveries_total` | counter | outcome (success, retryable, permanent, held) | notifier |
| `notifier_rate_limit_waits_total` | counter | — | notifier |
| `api_rate_limited_total` | counter | — (requests refused 429) | api |
| `api_rate_limit_unavailable_total` | counter | — (Redis unreachable: let through unlimited) | api |
| `sla_sweep_lag_seconds` | gauge | — | scrape |
| `outbox_depth` | gauge | channel_id | scrape |
| `dead_letters` | gauge | channel_id | scrape |
| `channel_healthy` | gauge | channel_id | scrape |
| `heartbeat_age_seconds` | gauge | process (worker, notifier) | scrape |
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.registry import REGISTRY

PREFIX = "closeloop"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Board reads target 50 ms p99, writes 100 ms: buckets resolve that range finely.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "API request latency by route template, method and status",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
LEVELS_FIRED = Counter(f"{PREFIX}_sla_levels_fired", "Escalation levels fired by the sweep", ["kind"])
SWEEPS = Counter(f"{PREFIX}_sla_sweeps", "Sweep batches run by the worker")
DELIVERIES = Counter(f"{PREFIX}_notifier_deliveries", "Notification delivery outcomes by class", ["outcome"])
EVENT_LOOP_LAG = Histogram(
    f"{PREFIX}_event_loop_lag_seconds",
    "How late the event loop wakes a 100 ms sleep: time the loop was blocked by CPU work",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
DEPENDENCY_DOWN = Counter(
    f"{PREFIX}_dependency_down",
    "Times a worker or notifier found PostgreSQL or Redis unreachable and backed off to retry",
    ["dependency"],
)
RATE_LIMIT_WAITS = Counter(f"{PREFIX}_notifier_rate_limit_waits", "Times a channel's rate limit made the notifier wait")
API_RATE_LIMITED = Counter(f"{PREFIX}_api_rate_limited", "API requests refused by the per-token rate limit (429)")
API_RATE_LIMIT_UNAVAILABLE = Counter(
    f"{PREFIX}_api_rate_limit_unavailable", "API requests let through unlimited because Redis did not answer"
)


def process_exposition() -> bytes:
    """Every process's instruments (multiprocess mode) or this process's (default)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def serve(port: int) -> None:
    """Expose this process's instruments on their own port (a worker or notifier in its own
    container, where no API shares its metrics directory): Prometheus scrapes each."""
    registry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, registry=registry)
