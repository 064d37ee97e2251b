"""Goal approvals are decided through the approval engine's per-kind hook, registered wherever the
domains are loaded — the API and the worker alike — without approvals importing goals."""

from __future__ import annotations

import subprocess
import sys

from tests.approvals.conftest import request


def _hooks_after_importing(module: str) -> set[str]:
    code = f"import {module}; from shared.approvals import hooks; print(' '.join(sorted(hooks._HOOKS)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_the_goal_hooks_are_registered_in_the_api_and_the_worker():
    for module in ("services.api.app", "services.worker.main", "shared.subjects"):
        assert {"goal", "goal_adjustment"} <= _hooks_after_importing(module), module


async def test_a_goal_approval_is_not_asked_on_a_campaign(sessions, client, org):
    from tests.approvals.conftest import make_campaign

    campaign = await make_campaign(sessions, org)
    r = await request(client, org, expect=422, kind="goal", campaign_id=campaign.id)
    assert [e["field"] for e in r["errors"]] == ["body.kind"]
