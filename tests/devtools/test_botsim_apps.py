"""Botsim's callback side, over real HTTP: it must speak the open platforms' wire exactly, or the
chat tests prove nothing. Its callbacks go to a small receiver here, which checks them with the
`cryptography` primitives and `hashlib` — never with Closeloop's own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from services.devtools.botsim import card_buttons, feishu_encrypt

APP = "cli_botsim0000000001"
CARD = {
    "config": {"wide_screen_mode": True},
    "header": {"title": {"tag": "plain_text", "content": "已超时：海报"}},
    "elements": [
        {"tag": "div", "text": {"tag": "lark_md", "content": "事项：海报"}},
        {
            "tag": "action",
            "actions": [
                {"tag": "button", "text": {"tag": "plain_text", "content": "认领"}, "value": {"v": "acknowledge"}},
                {"tag": "button", "text": {"tag": "plain_text", "content": "查看详情"}, "url": "https://x.test/1"},
            ],
        },
        {
            "tag": "form",
            "name": "form_0",
            "elements": [
                {"tag": "input", "name": "reason_0"},
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": "驳回"},
                    "value": {"v": "reject"},
                    "action_type": "form_submit",
                    "name": "submit_0",
                },
            ],
        },
    ],
}


class Receiver:
    """Closeloop's place: records each callback and answers what the test says."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: dict[str, Any] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "raw": raw})
                data = json.dumps(receiver.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def open_sealed(key: str, data: str) -> dict[str, Any]:
    raw = base64.b64decode(data)
    decryptor = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(raw[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(raw[16:]) + decryptor.finalize()) + unpadder.finalize()
    return json.loads(plain)


def signature_ok(request: dict[str, Any], key: str) -> bool:
    h = request["headers"]
    want = hashlib.sha256(
        (h["x-lark-request-timestamp"] + h["x-lark-request-nonce"] + key).encode() + request["raw"]
    ).hexdigest()
    return hmac.compare_digest(want, h["x-lark-signature"])


def send_card(botsim: Any) -> str:
    token = httpx.post(
        f"{botsim.base}/open-apis/auth/v3/tenant_access_token/internal", json={"app_id": APP, "app_secret": "s"}
    ).json()["tenant_access_token"]
    r = httpx.post(
        f"{botsim.base}/open-apis/im/v1/messages?receive_id_type=chat_id",
        headers={"Authorization": f"Bearer {token}"},
        json={"receive_id": "oc_g", "msg_type": "interactive", "content": json.dumps(CARD, ensure_ascii=False)},
    )
    assert r.json()["code"] == 0, r.text
    return str(r.json()["data"]["message_id"])


def add_app(botsim: Any, receiver: Receiver, **extra: str) -> None:
    app = {"vendor": "feishu", "app_secret": "s", "verification_token": "vt", "callback_url": receiver.url, **extra}
    botsim.http.post("/_sim/apps", json={APP: app}).raise_for_status()


def test_feishu_tokens_are_issued_for_the_right_secret_and_required_to_send(botsim, receiver):
    add_app(botsim, receiver)
    token_url = f"{botsim.base}/open-apis/auth/v3/tenant_access_token/internal"
    refused = httpx.post(token_url, json={"app_id": APP, "app_secret": "guess"}).json()
    assert refused == {"code": 10014, "msg": "app secret invalid"}
    issued = httpx.post(token_url, json={"app_id": APP, "app_secret": "s"}).json()
    assert (issued["code"], issued["expire"]) == (0, 7200) and issued["tenant_access_token"].startswith("t-")
    body = {"receive_id": "oc_g", "msg_type": "interactive", "content": json.dumps(CARD)}
    messages = f"{botsim.base}/open-apis/im/v1/messages?receive_id_type=chat_id"
    no_token = httpx.post(messages, json=body)
    assert (no_token.status_code, no_token.json()["code"]) == (400, 99991663)
    auth = {"Authorization": f"Bearer {issued['tenant_access_token']}"}
    assert httpx.post(messages, json={**body, "content": "not json"}, headers=auth).json()["code"] == 230001
    assert httpx.post(messages, json=body, headers=auth).json()["code"] == 0
    botsim.http.post("/_sim/feishu/expire-tokens").raise_for_status()
    assert httpx.post(messages, json=body, headers=auth).json()["code"] == 99991663


def test_cards_list_their_buttons_and_a_patch_replaces_the_card(botsim, receiver):
    add_app(botsim, receiver)
    message_id = send_card(botsim)
    view = botsim.http.get(f"/_sim/feishu/cards/{message_id}").json()
    assert [(b["label"], b.get("value"), b.get("url"), b.get("inputs")) for b in view["buttons"]] == [
        ("认领", {"v": "acknowledge"}, None, None),
        ("查看详情", None, "https://x.test/1", None),
        ("驳回", {"v": "reject"}, None, ["reason_0"]),
    ]
    token = httpx.post(
        f"{botsim.base}/open-apis/auth/v3/tenant_access_token/internal", json={"app_id": APP, "app_secret": "s"}
    ).json()["tenant_access_token"]
    patched = {"header": {"title": {"tag": "plain_text", "content": "已认领"}}, "elements": []}
    r = httpx.patch(
        f"{botsim.base}/open-apis/im/v1/messages/{message_id}",
        headers={"Authorization": f"Bearer {token}"},
        json={"content": json.dumps(patched)},
    )
    assert r.json()["code"] == 0
    view = botsim.http.get(f"/_sim/feishu/cards/{message_id}").json()
    assert (view["version"], view["card"], view["buttons"]) == (1, patched, [])


def test_a_click_is_an_encrypted_signed_card_action_and_the_answered_card_replaces_it(botsim, receiver):
    add_app(botsim, receiver, encrypt_key="ek")
    message_id = send_card(botsim)
    new_card = {"header": {"title": {"tag": "plain_text", "content": "已驳回"}}, "elements": []}
    receiver.answer = {"toast": {"type": "success", "content": "已驳回"}, "card": {"type": "raw", "data": new_card}}
    click = botsim.http.post(
        "/_sim/feishu/click", json={"message_id": message_id, "button": "驳回", "open_id": "ou_li", "input": "超预算"}
    ).json()
    assert (click["status"], click["updated"], click["answer"]["toast"]["content"]) == (200, True, "已驳回")
    (request,) = receiver.requests
    assert signature_ok(request, "ek")
    event = open_sealed("ek", json.loads(request["raw"])["encrypt"])
    assert event["schema"] == "2.0"
    assert event["header"] | {"create_time": None} == {
        "event_id": click["event_id"],
        "token": "vt",
        "create_time": None,
        "event_type": "card.action.trigger",
        "tenant_key": "botsim",
        "app_id": APP,
    }
    assert event["event"]["operator"]["open_id"] == "ou_li"
    assert event["event"]["action"]["value"] == {"v": "reject"}
    assert event["event"]["action"]["form_value"] == {"reason_0": "超预算"}
    assert event["event"]["context"] == {"open_message_id": message_id, "open_chat_id": "oc_g"}
    view = botsim.http.get(f"/_sim/feishu/cards/{message_id}").json()
    assert (view["version"], view["card"]) == (1, new_card)

    # Feishu redelivers: the same event id, signed afresh; a forgery is signed with another key.
    replay = botsim.http.post("/_sim/feishu/click", json={"message_id": message_id, "replay": True}).json()
    assert replay["event_id"] == click["event_id"] and signature_ok(receiver.requests[1], "ek")
    assert open_sealed("ek", json.loads(receiver.requests[1]["raw"])["encrypt"]) == event
    botsim.http.post(
        "/_sim/feishu/click",
        json={"message_id": message_id, "button": "认领", "open_id": "ou_li", "version": 0, "forge": True},
    ).raise_for_status()
    assert not signature_ok(receiver.requests[2], "ek")
    assert open_sealed("ek", json.loads(receiver.requests[2]["raw"])["encrypt"])["event"]["action"]["value"] == {
        "v": "acknowledge"
    }


def test_a_link_button_sends_nothing_and_an_unsigned_app_forges_with_its_token(botsim, receiver):
    add_app(botsim, receiver)  # no encrypt key: plain JSON, checked by its verification token
    message_id = send_card(botsim)
    link = botsim.http.post(
        "/_sim/feishu/click", json={"message_id": message_id, "button": "查看详情", "open_id": "ou_li"}
    )
    assert link.status_code == 400 and receiver.requests == []
    botsim.http.post(
        "/_sim/feishu/click", json={"message_id": message_id, "button": 0, "open_id": "ou_li", "forge": True}
    ).raise_for_status()
    (request,) = receiver.requests
    assert "x-lark-signature" not in request["headers"]
    assert json.loads(request["raw"])["header"]["token"] == "forged-token"


def test_the_url_challenge_is_sent_encrypted_and_unsigned(botsim, receiver):
    add_app(botsim, receiver, encrypt_key="ek")
    receiver.answer = {"challenge": "wrong"}
    result = botsim.http.post("/_sim/feishu/verify", json={"app": APP}).json()
    (request,) = receiver.requests
    challenge = open_sealed("ek", json.loads(request["raw"])["encrypt"])
    assert challenge["type"] == "url_verification" and challenge["token"] == "vt"
    assert "x-lark-signature" not in request["headers"] and result["ok"] is False


def test_botsim_seals_the_documented_example_as_feishu_does():
    # open.feishu.cn's example: key "test key", "hello world" → this (its IV is the first 16 bytes).
    example = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
    iv = base64.b64decode(example)[:16]
    assert feishu_encrypt("test key", b"hello world", iv=iv) == example


def test_dingtalk_says_a_signed_message_and_records_the_answer_from_its_session_webhook(botsim, receiver):
    botsim.http.post(
        "/_sim/apps", json={"dingkey": {"vendor": "dingtalk", "app_secret": "ds", "callback_url": receiver.url}}
    ).raise_for_status()
    receiver.answer = {"msgtype": "text", "text": {"content": "ok"}}
    said = botsim.http.post(
        "/_sim/dingtalk/say",
        json={"app": "dingkey", "user_id": "manager01", "text": "完成 T1", "conversation_id": "cid1"},
    ).json()
    assert (said["status"], said["answer"]) == (200, {"msgtype": "text", "text": {"content": "ok"}})
    (request,) = receiver.requests
    ts = request["headers"]["timestamp"]
    want = base64.b64encode(hmac.new(b"ds", f"{ts}\nds".encode(), hashlib.sha256).digest()).decode()
    assert request["headers"]["sign"] == want
    payload = json.loads(request["raw"])
    assert (payload["msgId"], payload["senderStaffId"], payload["text"]["content"]) == (
        said["msg_id"],
        "manager01",
        " 完成 T1",
    )
    webhook = payload["sessionWebhook"]
    assert webhook == f"{botsim.base}/robot/sendBySession?session=cid1"
    answer = {"msgtype": "markdown", "markdown": {"title": "t", "text": "@manager01 done"}}
    assert httpx.post(webhook, json=answer).json() == {"errcode": 0, "errmsg": "ok"}
    assert httpx.post(f"{botsim.base}/robot/sendBySession?session=nope", json=answer).json()["errcode"] == 300005
    answers = botsim.http.get("/_sim/dingtalk/answers", params={"conversation_id": "cid1"}).json()
    assert [a["body"] for a in answers] == [answer]


def test_card_buttons_reads_json_2_0_behaviors_too():
    card = {
        "schema": "2.0",
        "body": {
            "elements": [
                {"tag": "button", "text": {"content": "同意"}, "behaviors": [{"type": "callback", "value": {"v": 1}}]},
                {"tag": "button", "text": {"content": "打开"}, "behaviors": [{"type": "open_url", "default_url": "u"}]},
            ]
        },
    }
    assert [(b["label"], b.get("value"), b.get("url")) for b in card_buttons(card)] == [
        ("同意", {"v": 1}, None),
        ("打开", None, "u"),
    ]
