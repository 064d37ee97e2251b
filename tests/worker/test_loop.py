"""The worker's sweep loops: ticks spread over the interval, and a loop that finds a full batch
wakes the others instead of leaving them asleep until their next tick."""

from __future__ import annotations

import asyncio

from services.loop import run_crew

LONG = 30.0  # an interval no test waits for: anything that happens sooner was not a tick


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_sweep_loops_tick_spread_over_the_interval():
    started: list[float] = []
    loop = asyncio.get_running_loop()

    async def step() -> bool:
        started.append(loop.time())
        return False  # nothing waiting: each loop rests a whole interval

    t0 = loop.time()
    tasks = run_crew(2, 0.6, step, name="sweep")
    await asyncio.sleep(1.0)
    await _stop(tasks)
    offsets = sorted(round(t - t0, 1) for t in started)
    # Loop 0 at 0 and 0.6, loop 1 half an interval later at 0.3 and 0.9: a sweep every 0.3 s.
    assert offsets[:4] == [0.0, 0.3, 0.6, 0.9], offsets


async def test_a_loop_that_finds_more_waiting_wakes_the_resting_ones():
    calls: list[str] = []
    waiting = 4  # batches of work, found at once by the first loop's first look

    async def step() -> bool:
        nonlocal waiting
        task = asyncio.current_task()
        assert task is not None
        calls.append(task.get_name())
        if waiting == 0:
            return False
        waiting -= 1
        await asyncio.sleep(0.05)  # one batch's work
        return waiting > 0

    tasks = run_crew(3, LONG, step, name="sweep")  # the others' first ticks: 10 s and 20 s away
    await asyncio.sleep(1.0)
    await _stop(tasks)
    assert waiting == 0
    # The others' first ticks were 10 s and 20 s away: they joined in when woken, and each rested
    # again after finding nothing left.
    assert set(calls) == {"sweep 0", "sweep 1", "sweep 2"}, calls
    assert calls[0] == "sweep 0"
