"""What a vendor answers is recorded for everyone who may read attempts, so it is recorded safely:
the vendor's own code and message, or a summary of an answer nobody could read — never its body."""

from __future__ import annotations

import hashlib
import json

import aiohttp

from services.devtools.botsim import HTML_ERROR_PAGE
from shared.models import AttemptOutcome, ChannelKind, Role
from shared.notify import delivery
from shared.notify.adapters import Target, feishu
from shared.notify.adapters.base import Envelope
from shared.notify.delivery import DeliveryPolicy
from shared.notify.http import Reply
from shared.notify.render import Message
from tests.factories import auth, make_channel
from tests.notify.test_delivery import deliver, overdue_notification

LEAKS = ("sk_live_botsim", "Bearer", "eyJ", "10.8.0.12", "<html", "upstream")


async def test_an_html_error_page_is_summarised_not_echoed_to_viewers(ctx, sessions, clock, client, botsim):
    botsim.add_bots({"fs1": {"kind": "feishu"}})
    channel = await make_channel(sessions, kind=ChannelKind.feishu, url=botsim.url("feishu", "fs1"))
    botsim.faults("fs1", html_page=1.0)
    n = await overdue_notification(ctx, sessions, clock)
    assert await deliver(ctx, n.id) == "retryable"  # a gateway's page is not a vendor's verdict

    page = HTML_ERROR_PAGE.encode()
    summary = (
        f"unreadable response: HTTP 200, text/html, {len(page)} bytes, sha256:{hashlib.sha256(page).hexdigest()[:16]}"
    )
    viewer, admin = await auth(sessions, Role.viewer), await auth(sessions)
    attempts = (await client.get(f"/api/v1/notifications/{n.id}/attempts", headers=viewer)).json()["items"]
    assert [(a["outcome"], a["http_status"], a["error"]) for a in attempts] == [("retryable", 200, summary)]
    notification = (await client.get(f"/api/v1/notifications/{n.id}", headers=viewer)).json()
    assert notification["last_error"] == summary
    by_channel = (await client.get(f"/api/v1/channels/{channel.id}/attempts", headers=admin)).json()["items"]
    channel_read = (await client.get(f"/api/v1/channels/{channel.id}", headers=admin)).json()
    assert channel_read["last_error"] == summary
    everything = json.dumps([attempts, notification, by_channel, channel_read])
    assert not [leak for leak in LEAKS if leak in everything]


def test_a_vendor_message_is_kept_bounded_and_on_one_line():
    long_msg = "sign match fail\n\u202eevil\x00" + "x" * 500
    body = json.dumps({"code": 19021, "msg": long_msg}).encode()
    verdict = feishu.classify(Reply(200, body, "application/json"))
    assert (verdict.outcome, verdict.vendor_code) == (AttemptOutcome.permanent, "19021")
    assert verdict.error is not None and len(verdict.error) == 200 and verdict.error.endswith("…")
    assert verdict.error.startswith("sign match fail evil xxx")


def test_a_json_answer_without_the_vendors_code_is_summarised():
    body = json.dumps({"debug": {"token": "sk_live_botsim_DO_NOT_ECHO"}}).encode()
    verdict = feishu.classify(Reply(200, body, "application/json; charset=utf-8"))
    assert verdict.outcome == AttemptOutcome.retryable
    assert verdict.error == (
        f"unreadable response: HTTP 200, application/json, {len(body)} bytes, "
        f"sha256:{hashlib.sha256(body).hexdigest()[:16]}"
    )


async def test_a_transport_error_quoting_the_bot_url_is_recorded_without_its_credential(clock):
    class Failing:
        async def post(self, url, body, headers, *, allow_private=False):
            raise aiohttp.ClientConnectionError(f"connection to {url} reset by peer")

    url = "https://oapi.dingtalk.com/robot/send?access_token=dtTok3nSecret"
    target = Target(id=1, kind="dingtalk", url=url, secret="SECsign", keywords=[])
    envelope = Envelope("m1", "channel.test", clock.now(), {})
    result = await delivery.send(
        Failing(), target, Message(title="x", severity="info"), envelope, now=clock.now(), policy=DeliveryPolicy()
    )
    assert result.classified.outcome == AttemptOutcome.retryable
    assert result.classified.error == (
        "ClientConnectionError: connection to https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=***"
        "&sign=*** reset by peer"
    )
