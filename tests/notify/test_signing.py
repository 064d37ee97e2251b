"""Signatures against the vendors' published test vectors (docs/webhooks.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

from shared.notify.adapters import dingtalk, feishu, webhook


def test_feishu_signature_matches_vendor_vector():
    assert feishu.sign("SECtest123", 1700000000) == "eHRRCyLH7Z4IJQSJlfwertHZThRUYVu2hTUH02xPXYU="


def test_dingtalk_signature_matches_vendor_vector():
    assert dingtalk.sign("SECtest123", 1700000000000) == "w3RMHXzixTMdzr8OHJUmVLS4IoPJVdu+Ut1LE48MePE="


def test_dingtalk_signature_is_percent_encoded_once_in_the_query():
    from datetime import UTC, datetime

    from shared.notify.adapters.base import Envelope, Target
    from shared.notify.render import Message

    now = datetime.fromtimestamp(1700000000, UTC)
    target = Target(1, "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t", "SECtest123", [])
    prepared = dingtalk.prepare(
        target, Message(title="t", severity="info"), Envelope("m", "channel.test", now, {}), now
    )
    query = parse_qs(urlsplit(prepared.url).query)
    assert query["sign"] == ["w3RMHXzixTMdzr8OHJUmVLS4IoPJVdu+Ut1LE48MePE="]
    assert "%2B" in prepared.url and "%252B" not in prepared.url


def test_standard_webhooks_signature_verifies_with_the_spec_algorithm():
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = b'{"type":"task.overdue"}'
    sig = webhook.sign(secret, "msg_1", 1700000000, body)
    want = base64.b64encode(hmac.new(b"k" * 32, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert sig == f"v1,{want}"
