"""The application factory: the server's workers take their start-up heap out of the collector's reach."""

from __future__ import annotations

import gc

from services.api.app import create_app


async def test_a_server_worker_freezes_what_start_up_built_and_a_test_app_does_not(settings, clock, engine):
    assert gc.get_freeze_count() == 0
    plain = create_app(settings, clock)
    async with plain.router.lifespan_context(plain):
        assert gc.get_freeze_count() == 0  # an app per test: nothing kept for good
    served = create_app(settings, clock, freeze_heap=True)
    try:
        async with served.router.lifespan_context(served):
            # Every module, route and schema: the full collections of a serving worker skip them.
            assert gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()
