"""Approval boards: the filters a frontend needs."""

from __future__ import annotations

from shared.db import unit_of_work
from shared.workflow.templates import ensure_workflow_defaults
from tests.approvals.conftest import make_campaign, request


async def test_approval_boards_filter_by_requesting_department_and_requester(sessions, client, org):
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)  # the routine campaign rule and the stage sign-off rule
    campaign = await make_campaign(sessions, org)
    approval = await request(client, org, kind="campaign", campaign_id=campaign.id)
    headers = org.headers(org.planner)
    for params, want in (
        ({"department_id": org.marketing.id}, [approval["id"]]),
        ({"department_id": org.finance.id}, []),
        ({"requester_id": org.planner.id}, [approval["id"]]),
        ({"requester_id": org.ceo.id}, []),
    ):
        r = await client.get("/api/v1/approvals", headers=headers, params=params)
        assert [a["id"] for a in r.json()["items"]] == want, params
