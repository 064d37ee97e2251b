"""Benchmark (not a test): notifier throughput and latency to a local generic webhook. Prints a table.

For 1 and then 2 real `closeloop notifier` processes:
 (a) throughput: N notifications already in the outbox, one ring; deliveries per second until
     the receiver has them all;
 (b) latency: a steady stream (RATE per second for SECONDS) inserted into the outbox and rung as
     the SLA worker does; p50 / p99 from outbox insert to arrival at the receiver.
The receiver is a minimal asyncio HTTP/1.1 server in its own process (it answers 204 and notes
each webhook-id's arrival time), so it costs the machine as little as a real remote one would.

    .venv/bin/python bench/notifier.py [--count 20000] [--rate 500] [--seconds 6]

Uses CLOSELOOP_DATABASE_URL / CLOSELOOP_REDIS_URL when set, else embedded servers under
.closeloop/bench (a scratch database `closeloop_bench` is recreated either way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arq import create_pool  # noqa: E402
from arq.connections import RedisSettings  # noqa: E402

from bench.stack import scratch_database  # noqa: E402
from shared.embedded import free_port  # noqa: E402
from shared.notify.queue import ring  # noqa: E402
from tests.notify.helpers import sla_payload  # noqa: E402

PAYLOAD = json.dumps(sla_payload(1, "竞品分析报告", now=datetime.now(UTC)), ensure_ascii=False)


# ---- the receiver ----------------------------------------------------------------------------------
def receiver(port: int, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    arrivals: dict[str, float] = {}

    class Hook(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                head_end = self.buf.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buf[:head_end].decode("latin-1")
                length, wid = 0, None
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    k = k.strip().lower()
                    if k == "content-length":
                        length = int(v)
                    elif k == "webhook-id":
                        wid = v.strip()
                if len(self.buf) < head_end + 4 + length:
                    return
                self.buf = self.buf[head_end + 4 + length :]
                if head.startswith("GET /arrivals"):
                    body = json.dumps(arrivals).encode()
                    arrivals.clear()
                    self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)  # type: ignore[attr-defined]
                    continue
                if wid is not None:
                    arrivals.setdefault(wid, time.time())
                self.t.write(b"HTTP/1.1 204 No Content\r\n\r\n")  # type: ignore[attr-defined]

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Hook, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---- the outbox ------------------------------------------------------------------------------------
async def insert(conn: asyncpg.Connection, channel_id: int, count: int) -> dict[str, float]:
    """COPY `count` pending notifications; returns message id -> insert time."""
    now = datetime.now(UTC)
    ids = {str(uuid.uuid4()): now.timestamp() for _ in range(count)}
    await conn.copy_records_to_table(
        "notifications",
        columns=[
            "dedupe_key",
            "message_id",
            "event_type",
            "subject_type",
            "subject_id",
            "channel_id",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "updated_at",
        ],
        records=[
            (f"bench:{m}", uuid.UUID(m), "sla.breach", "task", 1, channel_id, PAYLOAD, "pending", 0, now, now, now)
            for m in ids
        ],
    )
    return ids


async def arrivals(http: httpx.AsyncClient) -> dict[str, float]:
    return (await http.get("/arrivals")).json()  # type: ignore[no-any-return]


def start_notifiers(n: int, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        log = open(log_dir / f"notifier-{i}.log", "wb")  # noqa: SIM115 — lives with the process
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "services.cli", "notifier"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        )
    return procs


async def run(args: argparse.Namespace) -> None:
    async with scratch_database("closeloop_bench") as stack:
        await measure(args, stack.database_url, stack.redis_url)


async def measure(args: argparse.Namespace, url: str, redis_url: str) -> None:
    console = Console(width=150)
    port = free_port()
    ready = multiprocessing.get_context("spawn").Event()
    rx = multiprocessing.get_context("spawn").Process(target=receiver, args=(port, ready), daemon=True)
    rx.start()
    ready.wait(10)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    channel_id = await conn.fetchval(
        "INSERT INTO channels (name, kind, url, keywords, enabled) "
        "VALUES ('bench', 'webhook', $1, '{}', true) RETURNING id",
        f"http://127.0.0.1:{port}/hooks/bench",
    )
    arq = await create_pool(RedisSettings.from_dsn(redis_url))
    env = {
        **os.environ,
        "CLOSELOOP_DATABASE_URL": url,
        "CLOSELOOP_REDIS_URL": redis_url,
        "CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS": "true",
        "CLOSELOOP_OUTBOX_SWEEP_INTERVAL_S": "1",
    }
    log_dir = ROOT / ".closeloop" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for n in (1, 2):
                procs = start_notifiers(n, env, log_dir)
                await asyncio.sleep(3)  # imports, pools
                # (a) throughput
                sent = await insert(conn, channel_id, args.count)
                t0 = time.time()
                await ring(arq, [channel_id])
                got: dict[str, float] = {}
                while len(got) < len(sent) and time.time() - t0 < 300:
                    await asyncio.sleep(0.2)
                    got.update(await arrivals(http))
                elapsed = max(got.values()) - t0
                rate = len(got) / elapsed
                # (b) latency under a steady stream
                latencies: list[float] = []
                stream: dict[str, float] = {}
                tick = 0.1
                per_tick = max(1, int(args.rate * tick))
                start = time.time()
                while time.time() - start < args.seconds:
                    stream.update(await insert(conn, channel_id, per_tick))
                    await ring(arq, [channel_id])
                    await asyncio.sleep(max(0.0, start + tick * (len(stream) // per_tick) - time.time()))
                arrived: dict[str, float] = {}
                deadline = time.time() + 60
                while len(arrived) < len(stream) and time.time() < deadline:
                    await asyncio.sleep(0.2)
                    arrived.update(await arrivals(http))
                latencies = sorted((arrived[m] - stream[m]) * 1000 for m in stream if m in arrived)
                p50 = statistics.median(latencies)
                p99 = latencies[int(len(latencies) * 0.99) - 1]
                rows.append((n, len(got), elapsed, rate, len(stream), len(arrived), p50, p99))
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(20)
                await conn.execute("DELETE FROM delivery_attempts; DELETE FROM notifications")
    finally:
        await arq.aclose()
        await conn.close()
        rx.terminate()

    table = Table(title="notifier → local generic webhook (Standard Webhooks, signed)")
    for col in ("notifiers", "burst", "drained in", "deliveries/s", "stream", "arrived", "p50 insert→rx", "p99"):
        table.add_column(col, justify="right")
    for n, count, elapsed, rate, streamed, arrived_n, p50, p99 in rows:
        table.add_row(
            str(n),
            f"{count:,}",
            f"{elapsed:.2f} s",
            f"{rate:,.0f}",
            f"{streamed:,} @ {args.rate}/s",
            f"{arrived_n:,}",
            f"{p50:.0f} ms",
            f"{p99:.0f} ms",
        )
    console.print(table)
    one, two = rows[0][3], rows[1][3]
    verdict = "✓" if two >= 1000 else "✗"
    console.print(f"2 processes: {two:,.0f} deliveries/s ({two / one:.2f}× one process); target ≥ 1 000/s {verdict}")
    # A shared machine's figures mean little without its load: print it next to them.
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average (1/5/15 min) {load}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--rate", type=int, default=500, help="steady-stream inserts per second for the latency run")
    ap.add_argument("--seconds", type=float, default=6.0)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
