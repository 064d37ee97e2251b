"""The vendors' crypto and wire formats, checked against their documented examples and against
values computed here independently with the `cryptography` primitives and `hashlib`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shared.chat import dingtalk, feishu
from shared.chat.actions import Button, CardView, Outcome, Verb
from shared.errors import Unauthorized

KEYS = feishu.AppKeys(verification_token="vt-123", encrypt_key="enc-key-456")


def seal(encrypt_key: str, plaintext: bytes, iv: bytes) -> str:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    key = hashlib.sha256(encrypt_key.encode()).digest()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def signed(event: dict, keys: feishu.AppKeys = KEYS, *, sign_with: str | None = None) -> tuple[dict, bytes]:
    raw = json.dumps({"encrypt": seal(keys.encrypt_key or "", json.dumps(event).encode(), os.urandom(16))}).encode()
    ts, nonce = "1733212800", "n0nce"
    digest = hashlib.sha256((ts + nonce + (sign_with or keys.encrypt_key or "")).encode() + raw).hexdigest()
    headers = {"x-lark-request-timestamp": ts, "x-lark-request-nonce": nonce, "x-lark-signature": digest}
    return headers, raw


def card_action(token: str = "vt-123", event_id: str = "ev-1") -> dict:
    return {
        "schema": "2.0",
        "header": {"event_id": event_id, "token": token, "event_type": "card.action.trigger", "app_id": "cli_x"},
        "event": {
            "operator": {"open_id": "ou_zhang"},
            "action": {
                "tag": "button",
                "value": {"v": "reject", "t": "approval", "id": 45},
                "form_value": {"reason_0": " 预算超了 "},
            },
            "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"},
        },
    }


def test_feishu_decrypts_the_example_of_its_documentation():
    # open.feishu.cn "Encrypt Key" guide: key "test key" seals "hello world" as this.
    assert feishu.decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"


def test_feishu_decrypts_what_aes_256_cbc_with_the_sha256_key_sealed():
    plaintext = json.dumps({"type": "url_verification", "challenge": "挑战"}, ensure_ascii=False).encode()
    iv = bytes(range(16))
    assert feishu.decrypt("my-key", seal("my-key", plaintext, iv)) == plaintext
    with pytest.raises(ValueError):
        feishu.decrypt("other-key", seal("my-key", plaintext, iv))


def test_feishu_signature_is_sha256_hex_of_timestamp_nonce_key_and_body():
    body = b'{"encrypt":"abc"}'
    expected = hashlib.sha256(b"1700000000" + b"nonce" + b"key" + body).hexdigest()
    assert feishu.signature("1700000000", "nonce", "key", body) == expected


def test_a_signed_encrypted_card_action_is_read_with_the_text_typed_in_its_form():
    headers, raw = signed(card_action())
    event = feishu.verify(KEYS, headers, raw)
    click = feishu.card_click(event)
    assert feishu.event_id(event) == "ev-1"
    assert click == feishu.CardClick(
        open_id="ou_zhang", value={"v": "reject", "t": "approval", "id": 45}, reason="预算超了", message_id="om_1"
    )


@pytest.mark.parametrize(
    "forgery",
    ["signed with another key", "signature missing", "body changed after signing", "wrong token", "not encrypted"],
)
def test_a_forged_feishu_request_is_refused(forgery):
    if forgery == "signed with another key":
        headers, raw = signed(card_action(), sign_with="guess")
    elif forgery == "signature missing":
        headers, raw = signed(card_action())
        del headers["x-lark-signature"]
    elif forgery == "body changed after signing":
        headers, raw = signed(card_action())
        raw = raw.replace(b'"}', b'A"}')
    elif forgery == "wrong token":
        headers, raw = signed(card_action(token="vt-guess"))
    else:
        headers, raw = {}, json.dumps(card_action()).encode()
    with pytest.raises(Unauthorized):
        feishu.verify(KEYS, headers, raw)


def test_the_url_challenge_comes_unsigned_but_must_decrypt_and_carry_the_token():
    challenge = {"challenge": "c-1", "token": "vt-123", "type": "url_verification"}
    raw = json.dumps({"encrypt": seal("enc-key-456", json.dumps(challenge).encode(), os.urandom(16))}).encode()
    assert feishu.is_challenge(feishu.verify(KEYS, {}, raw))
    wrong = json.dumps({"encrypt": seal("guess", json.dumps(challenge).encode(), os.urandom(16))}).encode()
    with pytest.raises(Unauthorized):
        feishu.verify(KEYS, {}, wrong)


def test_without_an_encrypt_key_the_plain_body_and_its_token_are_checked():
    keys = feishu.AppKeys(verification_token="vt-123", encrypt_key=None)
    assert feishu.verify(keys, {}, json.dumps(card_action()).encode())["header"]["event_id"] == "ev-1"
    with pytest.raises(Unauthorized):
        feishu.verify(keys, {}, json.dumps(card_action(token="x")).encode())


def test_dingtalk_sign_matches_the_documented_vector_and_its_one_hour_window():
    # docs/webhooks.md (the robot signature DingTalk documents): key = secret, msg = f"{ts}\n{secret}".
    assert dingtalk.sign("SECtest123", "1700000000000") == "w3RMHXzixTMdzr8OHJUmVLS4IoPJVdu+Ut1LE48MePE="
    mac = hmac.new(b"s", b"1700000000000\ns", hashlib.sha256).digest()
    assert dingtalk.sign("s", "1700000000000") == base64.b64encode(mac).decode()
    at = datetime.fromtimestamp(1700000000, UTC)
    headers = {"timestamp": "1700000000000", "sign": dingtalk.sign("s", "1700000000000")}
    dingtalk.verify("s", headers, now=at)
    late = datetime.fromtimestamp(1700000000 + 3601, UTC)
    for bad, when in (({**headers, "sign": "x"}, at), (headers, late), ({"sign": headers["sign"]}, at)):
        with pytest.raises(Unauthorized):
            dingtalk.verify("s", bad, now=when)


def test_dingtalk_reads_the_text_after_the_mention_and_the_staff_id():
    raw = json.dumps(
        {
            "msgtype": "text",
            "text": {"content": " @Closeloop 完成 T123"},
            "msgId": "msg-1",
            "senderId": "$:LWCP_v1:$abc",
            "senderStaffId": "manager01",
            "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s",
        }
    ).encode()
    said = dingtalk.said(raw)
    assert (said.text, said.sender_id, said.msg_id) == ("完成 T123", "manager01", "msg-1")


def test_a_session_webhook_must_be_dingtalk_or_the_configured_api_base():
    base = "http://127.0.0.1:9911"
    assert dingtalk.session_webhook_allowed("https://oapi.dingtalk.com/robot/sendBySession?session=s", api_base=base)
    assert dingtalk.session_webhook_allowed("http://127.0.0.1:9911/robot/sendBySession?session=s", api_base=base)
    for url in (
        "http://oapi.dingtalk.com/robot/sendBySession",  # not TLS
        "https://oapi.dingtalk.com.evil.example/x",
        "https://evil@oapi.dingtalk.com/x",
        "http://127.0.0.1:9912/robot/sendBySession",
        "http://169.254.169.254/latest/meta-data",
    ):
        assert not dingtalk.session_webhook_allowed(url, api_base=base), url


def test_the_dingtalk_answer_mentions_the_sender_and_is_inert():
    answer = dingtalk.reply("已完成 [点我](http://x) @all", sender_id="manager01")
    assert answer["at"] == {"atUserIds": ["manager01"], "isAtAll": False}
    assert answer["markdown"]["text"] == "@manager01 已完成 ［点我］(http：//x) ＠all"


BUTTONS = [
    Button(label="认领", verb=Verb.acknowledge, value={"v": "acknowledge", "t": "task", "id": 1}, style="primary"),
    Button(label="申请延期", verb=Verb.extend, value={"v": "extend", "t": "task", "id": 1}, needs_reason=True),
    Button(label="查看详情", url="https://app.example.com/tasks/1"),
]


def test_feishu_card_json_1_0_puts_a_reason_button_in_a_form_with_an_input():
    elements = feishu.button_elements(BUTTONS, locale="zh-CN")
    assert elements == [
        {
            "tag": "action",
            "actions": [
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": "认领"},
                    "type": "primary",
                    "value": {"v": "acknowledge", "t": "task", "id": 1},
                },
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": "查看详情"},
                    "type": "default",
                    "url": "https://app.example.com/tasks/1",
                },
            ],
        },
        {
            "tag": "form",
            "name": "form_0",
            "elements": [
                {
                    "tag": "input",
                    "name": "reason_0",
                    "placeholder": {"tag": "plain_text", "content": "申请延期：填写理由"},
                },
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": "申请延期"},
                    "type": "default",
                    "value": {"v": "extend", "t": "task", "id": 1},
                    "action_type": "form_submit",
                    "name": "submit_0",
                },
            ],
        },
    ]


def test_the_callback_answer_is_a_toast_and_the_card_in_place_with_user_text_inert():
    view = CardView(title="已超时：海报", severity="critical", lines=["<at id=all></at> 张三 已认领"], buttons=[])
    answer = feishu.callback_answer(Outcome(ok=True, message="已认领", card=view))
    assert answer["toast"] == {"type": "success", "content": "已认领"}
    assert answer["card"]["type"] == "raw"
    data = answer["card"]["data"]
    assert data["header"] == {"template": "red", "title": {"tag": "plain_text", "content": "已超时：海报"}}
    assert data["elements"] == [{"tag": "div", "text": {"tag": "lark_md", "content": "＜at id=all>＜/at> 张三 已认领"}}]
    stale = feishu.callback_answer(Outcome(ok=False, stale=True, message="已由 张三 认领"))
    assert stale == {"toast": {"type": "info", "content": "已由 张三 认领"}}
    refused = feishu.callback_answer(Outcome(ok=False, unknown_user=True, message="请先绑定"))
    assert refused == {"toast": {"type": "error", "content": "请先绑定"}}


def test_a_dingtalk_answer_of_several_lines_keeps_them_apart():
    answer = dingtalk.reply("我能听懂这些命令：\n  完成 T123\n\n  认领 T123", sender_id="u1")
    assert answer["markdown"] == {
        "title": "我能听懂这些命令：",
        "text": "@u1 我能听懂这些命令：\n\n  完成 T123\n\n  认领 T123",
    }
