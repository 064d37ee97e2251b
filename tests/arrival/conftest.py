"""The approvals tests' org (planner → manager → marketing director; a finance department), each
person reachable in chat, and one bot per vendor: Feishu for 市场部, DingTalk and WeCom for 财务部,
a generic webhook for both."""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from shared.clock import SystemClock
from shared.db import unit_of_work
from shared.models import Channel, ChannelKind, Notification, User
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from shared.pages.links import page_links
from tests.approvals.conftest import Org, org
from tests.factories import make_channel
from tests.notify.helpers import make_dispatcher

__all__ = ["Bots", "bots", "deliver", "org", "rows"]

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
CHAT_IDS = {
    "marketing_director": {"feishu_open_id": "ou_wang", "dingtalk_user_id": "wang", "mobile": "13800000001"},
    "finance_director": {"feishu_open_id": "ou_qian", "dingtalk_user_id": "qian", "wecom_user_id": "qian.zj"},
    "manager": {"feishu_open_id": "ou_li", "dingtalk_user_id": "li"},
    "planner": {"feishu_open_id": "ou_zhang", "dingtalk_user_id": "zhang", "wecom_user_id": "zhang.ch"},
}


@dataclass
class Bots:
    market: Channel  # feishu, 市场部
    finance: Channel  # dingtalk, 财务部
    finance_wecom: Channel  # wecom, 财务部
    hook: Channel  # generic webhook, both

    @property
    def all(self) -> list[Channel]:
        return [self.market, self.finance, self.finance_wecom, self.hook]


@pytest.fixture
async def bots(sessions, botsim, org: Org) -> Bots:
    async with unit_of_work(sessions) as s:
        for attr, ids in CHAT_IDS.items():
            user = await s.get_one(User, getattr(org, attr).id)
            for key, value in ids.items():
                setattr(user, key, value)
    botsim.add_bots(
        {
            "market": {"kind": "feishu"},
            "finance": {"kind": "dingtalk"},
            "finwc": {"kind": "wecom"},
            "hook": {"kind": "generic", "secret": WHSEC},
        }
    )
    return Bots(
        # Room for a month's cards one by one (Feishu's own 5/s would fold six into a digest).
        market=await make_channel(
            sessions,
            kind=ChannelKind.feishu,
            url=botsim.url("feishu", "market"),
            department_ids=[org.marketing.id],
            rate_limits=[{"limit": 50, "per_s": 1}],
        ),
        finance=await make_channel(
            sessions, kind=ChannelKind.dingtalk, url=botsim.url("dingtalk", "finance"), department_ids=[org.finance.id]
        ),
        finance_wecom=await make_channel(
            sessions, kind=ChannelKind.wecom, url=botsim.url("wecom", "finwc"), department_ids=[org.finance.id]
        ),
        hook=await make_channel(
            sessions,
            kind=ChannelKind.webhook,
            url=botsim.url("webhook", "hook"),
            secret=WHSEC,
            department_ids=[org.marketing.id, org.finance.id],
        ),
    )


async def deliver(settings, sessions, arq_redis, bots: Bots, **overrides: Any) -> None:
    """What the notifier does: drain each bot's queue, with the deployment's page links."""
    async with Sender() as http:
        d = make_dispatcher(settings, sessions, arq_redis, http, SystemClock())
        d = dataclasses.replace(d, pages=page_links(settings.model_copy(update=overrides)))
        for channel in bots.all:
            await drain(d, channel.id)


async def rows(sessions, event: str) -> list[Notification]:
    async with unit_of_work(sessions) as s:
        return list(
            await s.scalars(select(Notification).where(Notification.event_type == event).order_by(Notification.id))
        )
