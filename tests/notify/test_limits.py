"""Bot rate limits shared through Redis, and digests instead of floods (botsim with 20× shorter
windows: DingTalk's minute is 3 s here, its 10-minute throttle 30 s)."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from shared.clock import SystemClock
from shared.models import ChannelKind
from shared.notify.http import Sender
from shared.notify.ratelimit import RateLimiter, Window, limits_for
from tests.conftest import WINDOW_SCALE
from tests.factories import make_channel
from tests.notify.helpers import drain_in_real_time, enqueue, make_dispatcher, statuses


async def test_a_burst_of_200_reaches_dingtalk_as_a_handful_of_digests_and_no_throttle(
    settings, sessions, arq_redis, fast_botsim
):
    fast_botsim.add_bots({"dt1": {"kind": "dingtalk", "secret": "SECabc", "per_minute": 20, "throttle_s": 600}})
    channel = await make_channel(
        sessions, kind=ChannelKind.dingtalk, url=fast_botsim.url("dingtalk", "dt1"), secret="SECabc"
    )
    clock = SystemClock()
    await enqueue(sessions, channel.id, 30, now=clock.now(), kind="warning")  # the oldest are mild
    await enqueue(sessions, channel.id, 170, now=clock.now(), start=30, kind="breach")
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, clock, window_scale=WINDOW_SCALE)
        reports = await drain_in_real_time(d, channel.id, want=200)
    stats = fast_botsim.stats()["dt1"]
    assert stats["rejected"] == {}  # not one 130101
    messages = fast_botsim.messages("dt1")
    assert len(messages) <= 10 and sum(r.digests for r in reports) == len(messages)
    texts = [m["body"]["markdown"]["text"] for m in messages]
    for i in range(200):
        assert any(f"T{i:04d}号任务" in t for t in texts), i
    first = texts[0]  # 30 warnings and 20 breaches: the breaches lead
    assert first.index("已超时：T0030") < first.index("即将超时：T0000")
    assert "/api/v1/notifications?digest_id=" in first
    assert messages[0]["body"]["at"]["atMobiles"] == ["13800000000"]
    assert await statuses(sessions) == {"delivered": 200}


async def test_few_waiting_messages_go_one_by_one(settings, sessions, arq_redis, fast_botsim):
    fast_botsim.add_bots({"wc1": {"kind": "wecom", "per_minute": 20}})
    channel = await make_channel(sessions, kind=ChannelKind.wecom, url=fast_botsim.url("wecom", "wc1"))
    clock = SystemClock()
    await enqueue(sessions, channel.id, 3, now=clock.now())
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, clock, window_scale=WINDOW_SCALE)
        await drain_in_real_time(d, channel.id, want=3)
    assert len(fast_botsim.messages("wc1")) == 3


async def test_a_channel_override_replaces_the_vendor_limit(settings, sessions, arq_redis, fast_botsim):
    fast_botsim.add_bots({"wc1": {"kind": "wecom", "per_minute": 20}})
    channel = await make_channel(
        sessions,
        kind=ChannelKind.wecom,
        url=fast_botsim.url("wecom", "wc1"),
        rate_limits=[{"limit": 2, "per_s": 60}],
    )
    clock = SystemClock()
    await enqueue(sessions, channel.id, 3, now=clock.now())
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, clock, window_scale=WINDOW_SCALE)
        await drain_in_real_time(d, channel.id, want=3)
    # 3 waiting, 2 allowed: one digest carries all three, and the limit leaves room to spare.
    (message,) = fast_botsim.messages("wc1")
    assert all(f"T{i:04d}号任务" in message["body"]["markdown"]["content"] for i in range(3))


# ---- the limiter itself, against the real Redis ----------------------------------------------------
@pytest.fixture
async def redis(stack):
    client = Redis.from_url(stack.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_limiter_grants_up_to_the_limit_then_says_how_long_to_wait(redis):
    rl = RateLimiter(redis)
    windows = (Window(3, 2.0),)
    assert [await rl.acquire("b", windows) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await rl.capacity("b", windows) == 0
    wait = await rl.acquire("b", windows)
    assert 1.5 < wait <= 2.0 + 0.2 + 0.01  # the window plus its margin
    assert await rl.capacity("other", windows) == 3  # per bot


async def test_limiter_checks_every_window_and_takes_all_or_nothing(redis):
    rl = RateLimiter(redis)
    feishu = limits_for("feishu", None, scale=WINDOW_SCALE)  # 5 per 50 ms, 100 per 3 s
    assert feishu == (Window(5, 0.05), Window(100, 3.0))
    assert await rl.acquire("f", feishu, n=5) == 0.0
    assert await rl.acquire("f", feishu, n=1) > 0  # the short window is full
    three = (Window(3, 10.0),)
    assert await rl.acquire("g", three, n=2) == 0.0
    assert await rl.acquire("g", three, n=2) > 0  # two do not fit …
    assert await rl.capacity("g", three) == 1  # … and taking nothing, it leaves the one that does
    with pytest.raises(ValueError):
        await rl.acquire("f", (Window(2, 1.0),), n=3)
    assert limits_for("webhook", None) == ()
    assert limits_for("webhook", [{"limit": 7, "per_s": 10}]) == (Window(7, 10.0),)


async def test_a_vendor_throttle_blocks_the_bot_for_everyone(redis):
    rl, other = RateLimiter(redis), RateLimiter(redis)
    await rl.block("d", 0.3)
    assert 0.2 < await other.blocked_for("d") <= 0.3
    assert await other.acquire("d", (Window(20, 60.0),)) > 0.2
    assert await other.capacity("d", (Window(20, 60.0),)) == 0
    await asyncio.sleep(0.35)
    assert await other.acquire("d", (Window(20, 60.0),)) == 0.0


def _hammer(url: str, ready: Any, go: Any, seconds: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def run() -> list[float]:
        client = Redis.from_url(url)
        rl = RateLimiter(client, margin_s=0.0)
        await client.ping()
        ready.release()
        go.wait(30)
        until = time.monotonic() + seconds
        granted = []
        while time.monotonic() < until:
            if await rl.acquire("shared", (Window(10, 0.5),)) == 0.0:
                granted.append(rl.last_grant_us / 1e6)  # type: ignore[operator]
        await client.aclose()
        return granted

    out.put(asyncio.run(run()))


def test_two_processes_together_never_exceed_the_limit(stack):
    ctx = multiprocessing.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_hammer, args=(stack.redis_url, ready, go, 1.6, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for _ in procs:  # both connected: start together
        assert ready.acquire(timeout=60)
    go.set()
    grants = sorted(out.get(timeout=60) + out.get(timeout=60))
    for p in procs:
        p.join(10)
    assert len(grants) >= 20  # both really competed for several windows
    for i, t in enumerate(grants):  # Redis's own clock at each grant
        in_window = [g for g in grants[i:] if g - t <= 0.5]
        assert len(in_window) <= 10, (t, in_window)


async def test_a_shorter_block_never_replaces_a_longer_one(redis):
    rl = RateLimiter(redis)
    await rl.block("x", 5.0)
    await rl.block("x", 0.1)
    assert await rl.blocked_for("x") > 4.5


def test_a_retried_digest_keeps_its_id():
    from datetime import UTC, datetime

    from shared.notify.adapters.base import Envelope
    from shared.notify.delivery import Claimed
    from shared.notify.digest import digest_id

    def item(i: int) -> Claimed:
        return Claimed(i, 1, 0, Envelope(f"m{i}", "sla.breach", datetime.now(UTC), {}), datetime.now(UTC))

    assert digest_id([item(1), item(2)]) == digest_id([item(2), item(1)])
    assert digest_id([item(1), item(2)]) != digest_id([item(1), item(3)])
