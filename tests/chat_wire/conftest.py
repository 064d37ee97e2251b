"""The chat callbacks over real HTTP: the API listens on a port (uvicorn, in the test's event loop)
so botsim can call it back the way Feishu and DingTalk do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from shared.embedded import free_port
from tests.chat.conftest import org, repeating  # noqa: F401 — the chat core's people and repeating policy


@dataclass
class LiveApi:
    base: str


@pytest.fixture
async def live_api(app: Any) -> AsyncIterator[LiveApi]:
    """The test's app (its clock, settings and database) served on 127.0.0.1."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield LiveApi(f"http://127.0.0.1:{port}")
    server.should_exit = True
    await task


@pytest.fixture
def use_botsim_apis(app: Any, botsim: Any) -> Any:
    """The app's Feishu and DingTalk API bases point at botsim, as CLOSELOOP_FEISHU_API_BASE would."""
    original = app.state.settings
    app.state.settings = original.model_copy(update={"feishu_api_base": botsim.base, "dingtalk_api_base": botsim.base})
    yield app.state.settings
    app.state.settings = original


async def sim(botsim: Any, method: str, path: str, **kw: Any) -> Any:
    """A botsim control call that lets the event loop serve the callback it makes meanwhile."""
    async with httpx.AsyncClient(base_url=botsim.base, timeout=20) as http:
        r = await http.request(method, path, **kw)
    assert r.status_code == 200, r.text
    return r.json()
