"""The SSRF guard: only global addresses, and the address checked is the address connected to."""

from __future__ import annotations

import errno
import socket
from typing import Any

import aiohappyeyeballs
import pytest
from aiohttp.abc import AbstractResolver

from shared.models import AttemptOutcome
from shared.notify import delivery
from shared.notify.adapters.base import Envelope, Target
from shared.notify.delivery import DeliveryPolicy
from shared.notify.http import Sender
from shared.notify.render import Message
from shared.notify.ssrf import UnsafeUrl, refusal
from tests.factories import auth

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # AWS / GCP / Azure metadata
    ("100.100.100.200", "100.64.0.0/10"),  # Alibaba Cloud metadata: is_global says False, and so do we
    ("100.64.0.1", "100.64.0.0/10"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("::ffff:10.0.0.1", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),  # mapped is refused whatever it maps
    ("2002:a00:1::1", "6to4"),  # 6to4 embedding 10.0.0.1 (ipaddress calls it global)
    ("2002:7f00:1::1", "6to4"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("64:ff9b::a00:1", "NAT64 address embedding 10.0.0.1, a private"),
    ("64:ff9b::7f00:1", "NAT64 address embedding 127.0.0.1, a loopback"),
    ("64:ff9b::6464:64c8", "NAT64 address embedding 100.100.100.200"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("224.0.1.1", "multicast"),  # ipaddress calls it global
    ("ff0e::1", "multicast"),
    ("255.255.255.255", "private"),
    ("240.0.0.1", "private"),
    ("192.0.2.10", "private"),  # documentation range
    ("::a00:1", "reserved"),  # deprecated IPv4-compatible form
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "101.37.0.1", "2606:4700:4700::1111", "2408:8000::1", "64:ff9b::808:808"]


@pytest.mark.parametrize(("ip", "reason"), REFUSED)
def test_non_global_addresses_are_refused_with_a_reason(ip, reason):
    assert reason in (refusal(ip) or "allowed")


@pytest.mark.parametrize("ip", ALLOWED)
def test_global_addresses_are_allowed(ip):
    assert refusal(ip) is None


class FakeDns(AbstractResolver):
    """A DNS that answers each lookup of a host with the next address in its list (the last one
    from then on): a rebinding attacker's name server."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.lookups = 0

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        ip = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        af = socket.AF_INET6 if ":" in ip else socket.AF_INET
        return [{"hostname": host, "host": ip, "port": port, "family": af, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


@pytest.fixture
def connects(monkeypatch) -> list[str]:
    """Every address aiohttp opens a socket to (the outside world: refused, after being noted)."""
    seen: list[str] = []

    async def refuse(addr_infos, *args, **kwargs):
        seen.extend(str(info[4][0]) for info in addr_infos)
        raise OSError(errno.ECONNREFUSED, "refused by the test")

    monkeypatch.setattr(aiohappyeyeballs, "start_connection", refuse)
    return seen


def _send_args(url: str, clock) -> tuple[Target, Message, Envelope]:
    target = Target(id=1, kind="webhook", url=url, secret=None, keywords=[])
    return target, Message(title="x", severity="info"), Envelope("m1", "channel.test", clock.now(), {})


async def test_dns_rebinding_cannot_move_the_connection_to_a_private_address(clock, connects):
    # The check sees a global address; any later lookup would say 127.0.0.1.
    dns = FakeDns("93.184.216.34", "127.0.0.1")
    policy = DeliveryPolicy(timeout_s=3, allow_private=False)
    async with Sender(resolver=dns) as http:
        for _ in range(3):
            result = await delivery.send(
                http, *_send_args("https://hooks.example.com/x", clock), now=clock.now(), policy=policy
            )
            assert result.classified.outcome == AttemptOutcome.retryable  # the connect was refused
    assert connects == ["93.184.216.34"] * 3  # only ever the address that was checked
    assert dns.lookups == 1  # resolved once (then aiohttp's cache holds the checked answer)


async def test_a_private_answer_is_refused_before_any_connection(clock, connects):
    dns = FakeDns("10.0.0.7")
    async with Sender(resolver=dns) as http:
        result = await delivery.send(
            http,
            *_send_args("https://intranet.example.com/x", clock),
            now=clock.now(),
            policy=DeliveryPolicy(timeout_s=3, allow_private=False),
        )
    assert result.classified.outcome == AttemptOutcome.permanent
    assert result.classified.error == "unsafe URL: 10.0.0.7 (from 'intranet.example.com') is a private address"
    assert connects == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://100.100.100.200/latest/meta-data/", "100.100.100.200 is in the shared address space"),
        ("https://[::ffff:169.254.169.254]/latest", "IPv4-mapped IPv6 address (of 169.254.169.254)"),
        ("https://0.0.0.0:8080/hooks", "0.0.0.0 is the unspecified address"),
        ("https://[2002:c0a8:101::1]/x", "6to4 address (2002::/16, embedding 192.168.1.1)"),
    ],
)
async def test_a_literal_ip_in_the_url_goes_through_the_same_check(clock, connects, url, reason):
    dns = FakeDns("8.8.8.8")
    async with Sender(resolver=dns) as http:
        with pytest.raises(UnsafeUrl, match=reason.replace("(", r"\(").replace(")", r"\)")):
            await http.post(url, b"{}", {})
        result = await delivery.send(
            http, *_send_args(url, clock), now=clock.now(), policy=DeliveryPolicy(timeout_s=3, allow_private=False)
        )
    assert result.classified.outcome == AttemptOutcome.permanent and reason in (result.classified.error or "")
    assert connects == [] and dns.lookups == 0


async def test_allow_private_still_reaches_a_local_receiver(botsim, clock):
    """What `make run` and the tests rely on: CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS=true reaches botsim."""
    botsim.add_bots({"wh1": {"kind": "generic"}})
    async with Sender() as http:
        result = await delivery.send(
            http,
            *_send_args(botsim.url("webhook", "wh1"), clock),
            now=clock.now(),
            policy=DeliveryPolicy(timeout_s=3, allow_private=True),
        )
        refused = await delivery.send(
            http,
            *_send_args(botsim.url("webhook", "wh1"), clock),
            now=clock.now(),
            policy=DeliveryPolicy(timeout_s=3, allow_private=False),
        )
    assert result.classified.outcome == AttemptOutcome.success and result.http_status == 204
    assert refused.classified.outcome == AttemptOutcome.permanent
    assert refused.classified.error == "unsafe URL: must use https"
    assert len(botsim.messages("wh1")) == 1


async def test_a_channel_aimed_at_cloud_metadata_is_refused_when_saved(settings, clock, sessions):
    import httpx

    from services.api.app import create_app

    strict = settings.model_copy(update={"allow_private_webhooks": False})
    app = create_app(strict, clock)
    admin = await auth(sessions)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        answers = {}
        for url in (
            "https://100.100.100.200/open-apis/bot/v2/hook/x",
            "https://[::ffff:10.0.0.1]/open-apis/bot/v2/hook/x",
            "https://[64:ff9b::a9fe:a9fe]/open-apis/bot/v2/hook/x",
        ):
            r = await c.post("/api/v1/channels", headers=admin, json={"name": "x", "kind": "feishu", "url": url})
            answers[url] = (r.status_code, r.json()["errors"][0]["field"], r.json()["errors"][0]["message"])
    assert answers == {
        "https://100.100.100.200/open-apis/bot/v2/hook/x": (
            422,
            "body.url",
            "100.100.100.200 is in the shared address space 100.64.0.0/10 (carrier-grade NAT, cloud metadata)",
        ),
        "https://[::ffff:10.0.0.1]/open-apis/bot/v2/hook/x": (
            422,
            "body.url",
            "::ffff:a00:1 is an IPv4-mapped IPv6 address (of 10.0.0.1)",
        ),
        "https://[64:ff9b::a9fe:a9fe]/open-apis/bot/v2/hook/x": (
            422,
            "body.url",
            "64:ff9b::a9fe:a9fe is a NAT64 address embedding 169.254.169.254, "
            "a link-local address (cloud metadata 169.254.169.254 lives there)",
        ),
    }
