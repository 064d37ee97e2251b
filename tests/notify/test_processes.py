"""Real notifier processes: two of them share one bot's limit through Redis, and one killed in the
middle of its sends loses nothing."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.clock import SystemClock
from shared.models import ChannelKind
from shared.notify.queue import ring
from tests.conftest import WINDOW_SCALE, stop_processes
from tests.factories import make_channel
from tests.notify.helpers import enqueue, statuses

pytestmark = pytest.mark.e2e
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


class Notifiers:
    def __init__(self, stack: Any, tmp: Path, **env: str) -> None:
        self.env = {
            **os.environ,
            "CLOSELOOP_DATABASE_URL": stack.database_url,
            "CLOSELOOP_REDIS_URL": stack.redis_url,
            "CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS": "true",
            "CLOSELOOP_OUTBOX_SWEEP_INTERVAL_S": "0.5",
            **env,
        }
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"notifier-{len(self.procs)}.log", "wb")  # noqa: SIM115 — lives with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "notifier"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        return proc

    async def wait_up(self, limit_s: float = 60) -> None:
        """Every started notifier has said it is up (a loaded machine starts Python slowly)."""
        for _ in range(int(limit_s * 10)):
            logs = [(self.tmp / f"notifier-{i}.log").read_text() for i in range(len(self.procs))]
            if all("notifier up" in log for log in logs):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("a notifier never came up")

    def stop(self) -> None:
        stop_processes(self.procs)


@pytest.fixture
def notifiers(stack, engine, tmp_path) -> Iterator[Any]:
    made: list[Notifiers] = []

    def make(**env: str) -> Notifiers:
        made.append(Notifiers(stack, tmp_path, **env))
        return made[-1]

    yield make
    for n in made:
        n.stop()


async def wait_delivered(sessions: Any, want: int, limit_s: float) -> None:
    for _ in range(int(limit_s * 10)):
        if (await statuses(sessions)).get("delivered", 0) >= want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"after {limit_s} s: {await statuses(sessions)}")


async def test_two_notifiers_never_exceed_a_bots_limit_together(sessions, arq_redis, fast_botsim, notifiers):
    fast_botsim.add_bots({"dt1": {"kind": "dingtalk", "secret": "SECabc", "per_minute": 20, "throttle_s": 600}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=fast_botsim.url("dingtalk", "dt1"), secret="SECabc"
    )
    pair = notifiers(CLOSELOOP_RATE_WINDOW_SCALE=str(WINDOW_SCALE))
    pair.start(), pair.start()
    await pair.wait_up()  # else the first waves pile up and leave as one digest
    clock = SystemClock()
    total = 0
    for wave in range(30):  # alerts trickle in for 6 s: some go one by one, the overflow as digests
        total += len(await enqueue(sessions, channel.id, 3, now=clock.now(), start=wave * 3))
        await ring(arq_redis, [channel.id])
        await asyncio.sleep(0.2)
    await wait_delivered(sessions, total, 30)
    assert fast_botsim.stats()["dt1"]["rejected"] == {}  # botsim throttles at the 21st in any 3 s: never
    messages = fast_botsim.messages("dt1")
    times = sorted(m["at"] for m in messages)
    assert max(sum(1 for u in times if t <= u < t + 3.0) for t in times) <= 20
    texts = "\n".join(m["body"]["markdown"]["text"] for m in messages)
    assert all(f"T{i:04d}号任务" in texts for i in range(total))
    assert len(messages) > 20  # enough traffic that the limit really bound both processes
    for i in range(2):  # both processes took drain jobs
        assert ":drain(" in (pair.tmp / f"notifier-{i}.log").read_text()


async def test_a_notifier_killed_mid_send_loses_nothing(sessions, arq_redis, botsim, notifiers):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    botsim.faults("gw1", delay_rate=1.0, delay_s=1.0)  # every send takes a second: we kill inside it
    channel = await make_channel(sessions, kind=ChannelKind.webhook, url=botsim.url("webhook", "gw1"), secret=WHSEC)
    procs = notifiers(CLOSELOOP_DELIVERY_LEASE_S="3", CLOSELOOP_DELIVERY_TIMEOUT_S="1.2")
    victim = procs.start()
    ids = await enqueue(sessions, channel.id, 30, now=SystemClock().now())
    await ring(arq_redis, [channel.id])
    for _ in range(100):  # until the sends are in flight
        if botsim.stats().get("gw1", {}).get("faults", {}).get("delay"):
            break
        await asyncio.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(60)  # returns as soon as it is reaped; a loaded machine may take a while
    assert (await statuses(sessions)).get("delivered", 0) < len(ids)  # it died with work in flight
    botsim.faults("gw1", delay_rate=0.0)
    procs.start()  # a fresh notifier takes over once the dead one's leases expire
    await wait_delivered(sessions, len(ids), 30)
    accepted = botsim.messages("gw1")
    assert {m["webhook_id"] for m in accepted} == {str(m) for m in await message_ids(sessions)}
    assert all(not m["duplicate"] or m["webhook_id"] in {a["webhook_id"] for a in accepted} for m in accepted)


async def message_ids(sessions: Any) -> list[Any]:
    from sqlalchemy import select

    from shared.db import unit_of_work
    from shared.models import Notification

    async with unit_of_work(sessions) as s:
        return list(await s.scalars(select(Notification.message_id)))
