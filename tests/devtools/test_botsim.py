"""Botsim itself, over real HTTP: it must refuse what the vendors refuse, or delivery tests prove nothing.

The `botsim` fixture's server is started as `closeloop dev botsim`; one test starts its own with a
config file, as a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from urllib.parse import urlencode

import httpx
import pytest

from services.devtools.botsim import dingtalk_sign, feishu_sign, standard_webhooks_sign
from shared.embedded import free_port

WHSEC = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


def test_vendor_signatures_match_the_published_vectors():
    # From docs/webhooks.md; botsim's own formulas, independent of Closeloop's adapters.
    assert feishu_sign("SECtest123", 1700000000) == "eHRRCyLH7Z4IJQSJlfwertHZThRUYVu2hTUH02xPXYU="
    assert dingtalk_sign("SECtest123", 1700000000000) == "w3RMHXzixTMdzr8OHJUmVLS4IoPJVdu+Ut1LE48MePE="


def feishu_body(secret: str, *, text: str = "Closeloop: hello", ts: int | None = None) -> dict:
    ts = int(time.time()) if ts is None else ts
    return {"timestamp": str(ts), "sign": feishu_sign(secret, ts), "msg_type": "text", "content": {"text": text}}


def dingtalk_signed(url: str, secret: str) -> str:
    ts_ms = int(time.time() * 1000)
    return f"{url}&{urlencode({'timestamp': ts_ms, 'sign': dingtalk_sign(secret, ts_ms)})}"


def webhook_headers(secret: str, body: bytes, *, message_id: str | None = None, ts: int | None = None):
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if ts is None else ts
    signature = standard_webhooks_sign(secret, message_id, ts, body)
    return {"webhook-id": message_id, "webhook-timestamp": str(ts), "webhook-signature": f"v1,{signature}"}


def test_feishu_accepts_a_signed_message_and_refuses_bad_signatures_with_http_200(botsim):
    botsim.add_bots({"fs1": {"kind": "feishu", "secret": "s3cret", "keywords": ["Closeloop"]}})
    url = botsim.url("feishu", "fs1")
    ok = httpx.post(url, json=feishu_body("s3cret"))
    assert ok.status_code == 200 and ok.json()["code"] == 0
    for body in (
        feishu_body("wrong"),
        feishu_body("s3cret", ts=int(time.time()) - 3700),  # more than an hour old
        {k: v for k, v in feishu_body("s3cret").items() if k != "sign"},
    ):
        refused = httpx.post(url, json=body)
        assert refused.status_code == 200 and refused.json()["code"] == 19021
    no_keyword = httpx.post(url, json=feishu_body("s3cret", text="hello"))
    assert no_keyword.json()["code"] == 19024
    too_big = httpx.post(url, json=feishu_body("s3cret", text="Closeloop" + "x" * 21000))
    assert too_big.json()["code"] == 9499
    assert [m["body"]["content"]["text"] for m in botsim.messages("fs1")] == ["Closeloop: hello"]
    assert botsim.stats()["fs1"] == {
        "accepted": 1,
        "rejected": {"19021": 3, "19024": 1, "9499": 1},
        "faults": {},
        "duplicates": 0,
    }


def test_dingtalk_checks_the_query_signature_and_throttles_after_its_limit(botsim):
    botsim.add_bots({"dt1": {"kind": "dingtalk", "secret": "SECabc", "per_minute": 2}})
    body = {"msgtype": "text", "text": {"content": "告警"}}
    url = botsim.url("dingtalk", "dt1")
    refused = httpx.post(dingtalk_signed(url, "SECwrong"), json=body)
    assert refused.status_code == 200 and refused.json()["errcode"] == 310000
    unsigned = httpx.post(url, json=body)
    assert unsigned.json()["errcode"] == 310000
    answers = [httpx.post(dingtalk_signed(url, "SECabc"), json=body).json()["errcode"] for _ in range(4)]
    assert answers == [0, 0, 130101, 130101]  # the third trips the limit; the robot then stays throttled
    assert len(botsim.messages("dt1")) == 2


def test_wecom_refuses_oversized_markdown(botsim):
    botsim.add_bots({"wc1": {"kind": "wecom"}})
    url = botsim.url("wecom", "wc1")
    assert httpx.post(url, json={"msgtype": "markdown", "markdown": {"content": "ok"}}).json()["errcode"] == 0
    big = httpx.post(url, json={"msgtype": "markdown", "markdown": {"content": "长" * 1400}})  # 4200 bytes
    assert big.json()["errcode"] == 40058
    assert httpx.post(url, json={"text": {"content": "no msgtype"}}).json()["errcode"] == 40008


def test_standard_webhooks_refuses_a_bad_signature_with_401_and_flags_a_replayed_id(botsim):
    botsim.add_bots({"gw1": {"kind": "generic", "secret": WHSEC}})
    url = botsim.url("webhook", "gw1")
    body = b'{"type": "task.overdue"}'
    other = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0xMjM0NTY="
    assert httpx.post(url, content=body, headers=webhook_headers(other, body)).status_code == 401
    stale = webhook_headers(WHSEC, body, ts=int(time.time()) - 400)
    assert httpx.post(url, content=body, headers=stale).status_code == 401
    tampered = webhook_headers(WHSEC, body)
    assert httpx.post(url, content=b'{"type": "task.done"}', headers=tampered).status_code == 401
    headers = webhook_headers(WHSEC, body, message_id="msg_1")
    assert httpx.post(url, content=body, headers=headers).status_code == 204
    assert httpx.post(url, content=body, headers=headers).status_code == 204  # a retry: accepted, flagged
    assert [(m["webhook_id"], m["duplicate"]) for m in botsim.messages("gw1")] == [("msg_1", False), ("msg_1", True)]
    assert botsim.stats()["gw1"]["rejected"] == {"401": 3} and botsim.stats()["gw1"]["duplicates"] == 1


def test_unknown_tokens_get_each_vendors_answer(botsim):
    botsim.add_bots({"fs1": {"kind": "feishu"}})
    assert httpx.post(botsim.url("feishu", "nope"), json=feishu_body("x")).json()["code"] == 19001
    # A bot addressed through another vendor's URL is unknown there, too.
    assert httpx.post(botsim.url("dingtalk", "fs1"), json={"msgtype": "text"}).json()["errcode"] == 300005
    assert httpx.post(botsim.url("wecom", "nope"), json={"msgtype": "text"}).json()["errcode"] == 93000
    assert httpx.post(botsim.url("webhook", "nope"), content=b"{}").status_code == 404


def test_injected_faults_are_served_and_counted(botsim):
    botsim.add_bots({"gw1": {"kind": "generic"}})
    url = botsim.url("webhook", "gw1")
    botsim.faults("gw1", http_500=1.0)
    assert httpx.post(url, content=b"{}", headers=webhook_headers("", b"{}")).status_code == 500
    botsim.faults("gw1", drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        httpx.post(url, content=b"{}", headers=webhook_headers("", b"{}"))
    botsim.faults("gw1", http_500=0.0)
    assert httpx.post(url, content=b"{}", headers=webhook_headers("", b"{}")).status_code == 204
    assert botsim.stats()["gw1"]["faults"] == {"http_500": 1, "drop": 1}


def test_the_control_api_names_what_it_cannot_use(botsim):
    bad_kind = botsim.http.post("/_sim/bots", json={"x": {"kind": "slack"}})
    assert bad_kind.status_code == 400 and "kind must be one of" in bad_kind.json()["error"]
    bad_field = botsim.http.post("/_sim/bots", json={"x": {"kind": "wecom", "per_hour": 5}})
    assert bad_field.status_code == 400 and "per_hour" in bad_field.json()["error"]
    botsim.add_bots({"wc1": {"kind": "wecom"}})
    typo = botsim.http.post("/_sim/faults", json={"bot": "wc1", "http500": 1.0})
    assert typo.status_code == 400 and "http500" in typo.json()["error"]
    assert botsim.http.post("/_sim/faults", json={"bot": "ghost", "http_500": 1.0}).status_code == 404


def test_closeloop_dev_botsim_serves_the_bots_of_a_config_file(tmp_path):
    config = tmp_path / "bots.json"
    config.write_text(json.dumps({"bots": {"fs1": {"kind": "feishu", "secret": "s3cret"}}}))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "dev", "botsim", "--port", str(port), "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(2)]
        url = f"http://127.0.0.1:{port}/open-apis/bot/v2/hook/fs1"
        assert banner[0].startswith(f"botsim listening on http://127.0.0.1:{port}") and url in banner[1]
        assert httpx.post(url, json=feishu_body("s3cret")).json()["code"] == 0
        assert httpx.post(url, json=feishu_body("wrong")).json()["code"] == 19021
    finally:
        proc.terminate()
        proc.wait(10)


def test_closeloop_dev_botsim_rejects_a_bad_config(tmp_path):
    config = tmp_path / "bots.json"
    config.write_text(json.dumps({"bots": {"fs1": {"kind": "feishu", "secrets": "typo"}}}))
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "dev", "botsim", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "unknown field(s) secrets" in proc.stderr
