"""The feishu_app channel: cards sent through the Feishu app API (botsim plays it), with the buttons
`shared.chat.actions` gives the event — or the item's link alone when it gives none."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from shared.chat import feishu
from shared.chat.actions import Button, Verb
from shared.chat.models import ChatApp
from shared.db import unit_of_work
from shared.models import AttemptOutcome, Channel, Notification, NotificationStatus, Role
from shared.notify.adapters import feishu_app
from shared.notify.dispatch import drain
from shared.notify.http import Sender
from tests.chat_wire.test_chat_apps import FEISHU
from tests.factories import auth, make_department, make_token, make_user
from tests.notify.helpers import enqueue, make_dispatcher

BUTTONS = [
    Button(
        label="认领", verb=Verb.acknowledge, value={"v": "acknowledge", "t": "task", "id": 7, "timer": 3, "level": 0}
    ),
    Button(label="完成", verb=Verb.done, value={"v": "done", "t": "task", "id": 7}, style="primary"),
    Button(label="申请延期", verb=Verb.extend, value={"v": "extend", "t": "task", "id": 7}, needs_reason=True),
    Button(label="查看详情", url="https://app.example.com/tasks/7"),
]


async def app_channel(client: Any, sessions: Any, botsim: Any, *, app_secret: str = "app-s3cret") -> int:
    admin = await auth(sessions)
    app = (await client.post("/api/v1/chat-apps", headers=admin, json=FEISHU)).json()
    botsim.http.post(
        "/_sim/apps", json={FEISHU["app_id"]: {"vendor": "feishu", "app_secret": app_secret}}
    ).raise_for_status()
    r = await client.post(
        "/api/v1/channels",
        headers=admin,
        json={"name": "市场群", "kind": "feishu_app", "chat_app_id": app["id"], "chat_id": "oc_market"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["url"] == f"{botsim.base}/open-apis/im/v1/messages?receive_id_type=chat_id"
    assert (r.json()["chat_app_id"], r.json()["chat_id"]) == (app["id"], "oc_market")
    return int(r.json()["id"])


async def send_one(settings: Any, sessions: Any, arq_redis: Any, clock: Any, channel_id: int, i: int = 7) -> None:
    await enqueue(sessions, channel_id, 1, now=clock.now(), start=i, title="海报{i}")
    async with Sender() as http:
        await drain(make_dispatcher(settings, sessions, arq_redis, http, clock), channel_id)


@pytest.fixture(autouse=True)
def _no_cached_tokens():
    feishu.TOKENS.clear()
    yield
    feishu.TOKENS.clear()


async def test_a_feishu_app_channel_names_its_app_and_group_and_takes_no_url(client, sessions, use_botsim_apis):
    admin = await auth(sessions)
    app = (await client.post("/api/v1/chat-apps", headers=admin, json=FEISHU)).json()
    bad = {"name": "x", "kind": "feishu_app", "url": "https://open.feishu.cn/x", "chat_id": "group", "secret": "s"}
    r = await client.post("/api/v1/channels", headers=admin, json=bad)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"body.url", "body.chat_id", "body.chat_app_id"}
    r = await client.post(
        "/api/v1/channels",
        headers=admin,
        json={"name": "x", "kind": "feishu_app", "chat_app_id": app["id"], "chat_id": "oc_1", "secret": "s"},
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.secret"]
    r = await client.post(
        "/api/v1/channels",
        headers=admin,
        json={
            "name": "x",
            "kind": "feishu",
            "url": "https://open.feishu.cn/open-apis/bot/v2/hook/t",
            "chat_id": "oc_1",
        },
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.chat_id"]
    r = await client.post("/api/v1/channels", headers=admin, json={"name": "x", "kind": "feishu"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.url"]
    async with unit_of_work(sessions) as s:
        assert (await s.scalars(select(Channel))).all() == []


async def test_the_card_reaches_the_group_with_the_buttons_and_a_form_for_the_reason(
    client, sessions, botsim, use_botsim_apis, arq_redis, clock, monkeypatch
):
    calls = []

    def buttons_for(event_type: str, payload: dict, *, locale: str | None) -> list[Button]:
        calls.append((event_type, payload["subject"]["id"], locale))
        return BUTTONS

    monkeypatch.setattr(feishu_app, "buttons_for", buttons_for)
    channel_id = await app_channel(client, sessions, botsim)
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id)

    assert calls == [("sla.breach", 7, None)]
    (card,) = botsim.http.get("/_sim/feishu/cards", params={"chat_id": "oc_market"}).json()
    assert card["app_id"] == FEISHU["app_id"] and card["version"] == 0
    assert card["card"]["header"]["title"]["content"] == "已超时：海报7"
    assert [(b["label"], b.get("value"), b.get("url"), b.get("inputs")) for b in card["buttons"]] == [
        ("认领", {"v": "acknowledge", "t": "task", "id": 7, "timer": 3, "level": 0}, None, None),
        ("完成", {"v": "done", "t": "task", "id": 7}, None, None),
        ("查看详情", None, "https://app.example.com/tasks/7", None),
        ("申请延期", {"v": "extend", "t": "task", "id": 7}, None, ["reason_0"]),
    ]
    async with unit_of_work(sessions) as s:
        n = (await s.scalars(select(Notification))).one()
        assert n.status == NotificationStatus.delivered
    page = botsim.http.get(f"/_sim/feishu/cards/{card['message_id']}.html").text
    assert "已超时：海报7" in page and "申请延期" in page and "(with an input)" in page


async def test_without_buttons_for_the_event_the_card_keeps_the_items_link(
    client, sessions, botsim, use_botsim_apis, arq_redis, clock, monkeypatch
):
    def unavailable(event_type: str, payload: dict, *, locale: str | None) -> list[Button]:
        raise NotImplementedError

    monkeypatch.setattr(feishu_app, "buttons_for", unavailable)
    channel_id = await app_channel(client, sessions, botsim)
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    (card,) = botsim.http.get("/_sim/feishu/cards").json()
    assert [(b["label"], b["url"]) for b in card["buttons"]] == [("查看详情", "http://closeloop.test/tasks/7")]


async def test_the_token_is_kept_and_fetched_again_when_feishu_refuses_it(
    client, sessions, botsim, use_botsim_apis, arq_redis, clock
):
    channel_id = await app_channel(client, sessions, botsim)
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id, i=1)
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id, i=2)
    assert botsim.http.get("/_sim/apps").json()["feishu_tokens_issued"] == 1
    botsim.http.post("/_sim/feishu/expire-tokens").raise_for_status()  # 99991663 on the next send
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id, i=3)
    assert botsim.http.get("/_sim/apps").json()["feishu_tokens_issued"] == 2
    titles = [c["card"]["header"]["title"]["content"] for c in botsim.http.get("/_sim/feishu/cards").json()]
    assert titles == ["已超时：海报1", "已超时：海报2", "已超时：海报3"]


async def test_an_app_secret_feishu_refuses_dead_letters_the_card_and_holds_the_channel(
    client, sessions, botsim, use_botsim_apis, arq_redis, clock
):
    channel_id = await app_channel(client, sessions, botsim, app_secret="what-feishu-has")
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    assert botsim.http.get("/_sim/feishu/cards").json() == []
    async with unit_of_work(sessions) as s:
        n = (await s.scalars(select(Notification))).one()
        channel = await s.get(Channel, channel_id)
        assert (n.status, n.last_error) == (NotificationStatus.dead, "app secret invalid")
        assert channel is not None and channel.healthy is False
        assert channel.unhealthy_reason == "10014: app secret invalid"


async def test_fixing_the_chat_apps_secret_resumes_the_channel_it_held(
    client, sessions, botsim, use_botsim_apis, arq_redis, clock
):
    channel_id = await app_channel(client, sessions, botsim, app_secret="what-feishu-has")
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id, i=1)  # 10014: the channel is held
    await enqueue(sessions, channel_id, 2, now=clock.now(), start=2, title="海报{i}")
    async with Sender() as http:
        d = make_dispatcher(use_botsim_apis, sessions, arq_redis, http, clock)
        assert (await drain(d, channel_id)).messages == 0  # held: nothing is tried
        admin = await auth(sessions)
        app_id = (await client.get(f"/api/v1/channels/{channel_id}", headers=admin)).json()["chat_app_id"]
        r = await client.patch(f"/api/v1/chat-apps/{app_id}", headers=admin, json={"name": "市场应用"})
        assert r.status_code == 200  # a new name fixes nothing: still held
        assert (await client.get(f"/api/v1/channels/{channel_id}", headers=admin)).json()["healthy"] is False

        r = await client.patch(f"/api/v1/chat-apps/{app_id}", headers=admin, json={"app_secret": "what-feishu-has"})
        assert r.status_code == 200, r.text
        seen = (await client.get(f"/api/v1/channels/{channel_id}", headers=admin)).json()
        assert (seen["healthy"], seen["unhealthy_since"], seen["unhealthy_reason"]) == (True, None, None)
        assert (await drain(d, channel_id)).outcomes == {"success": 2}
    titles = [c["card"]["header"]["title"]["content"] for c in botsim.http.get("/_sim/feishu/cards").json()]
    assert titles == ["已超时：海报2", "已超时：海报3"]
    audit = (await client.get("/api/v1/audit", headers=admin, params={"entity_type": "channel"})).json()["items"]
    assert [(a["action"], a["entity_id"]) for a in audit if a["action"] == "update"] == [("update", channel_id)]


async def test_a_late_refusal_does_not_re_break_a_channel_whose_app_was_fixed_meanwhile(
    client, sessions, botsim, use_botsim_apis, clock
):
    from shared.crypto import encrypt_secret
    from shared.notify import delivery
    from shared.notify.adapters.base import Classified
    from shared.notify.delivery import AttemptResult

    channel_id = await app_channel(client, sessions, botsim, app_secret="what-feishu-has")
    await enqueue(sessions, channel_id, 1, now=clock.now())
    async with unit_of_work(sessions) as s:
        target = await delivery.load_target(s, channel_id)
        claimed = await delivery.claim_batch(s, channel_id, now=clock.now(), limit=1)
    assert target is not None
    async with unit_of_work(sessions) as s:  # the app's secret is fixed while the send is in flight
        channel = await s.get_one(Channel, channel_id)
        (await s.get_one(ChatApp, channel.chat_app_id)).app_secret_encrypted = encrypt_secret("what-feishu-has")
    refused = AttemptResult(
        Classified(AttemptOutcome.permanent, vendor_code="10014", error="app secret invalid"), 200, 3
    )
    async with unit_of_work(sessions) as s:
        await delivery.record(
            s, target, claimed, [refused], now=clock.now(), policy=delivery.policy_from(use_botsim_apis)
        )
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Channel, channel_id)).healthy is True


async def test_a_manager_sets_up_their_departments_feishu_group_alone(client, sessions, botsim, use_botsim_apis):
    marketing = await make_department(sessions)
    manager_user = await make_user(sessions, role=Role.manager, department_id=marketing.id)
    _, token = await make_token(sessions, user=manager_user)
    manager = {"Authorization": f"Bearer {token}"}
    botsim.http.post(
        "/_sim/apps", json={FEISHU["app_id"]: {"vendor": "feishu", "app_secret": "app-s3cret"}}
    ).raise_for_status()
    r = await client.post("/api/v1/chat-apps", headers=manager, json={**FEISHU, "department_id": marketing.id})
    assert r.status_code == 201, r.text
    group = {"name": "市场群", "kind": "feishu_app", "chat_app_id": r.json()["id"], "chat_id": "oc_market"}
    r = await client.post("/api/v1/channels", headers=manager, json={**group, "department_ids": [marketing.id]})
    assert r.status_code == 201, r.text
    channel_id = r.json()["id"]

    r = await client.post(f"/api/v1/channels/{channel_id}/test", headers=manager)
    assert (r.status_code, r.json()["outcome"], r.json()["vendor_code"]) == (200, "success", "0")
    (card,) = botsim.http.get("/_sim/feishu/cards", params={"chat_id": "oc_market"}).json()
    assert card["app_id"] == FEISHU["app_id"]
    r = await client.patch(f"/api/v1/channels/{channel_id}", headers=manager, json={"chat_id": "oc_market2"})
    assert r.status_code == 200 and r.json()["chat_id"] == "oc_market2"
    listed = (await client.get("/api/v1/channels", headers=manager)).json()["items"]
    assert [(c["id"], c["department_ids"]) for c in listed] == [(channel_id, [marketing.id])]
    assert (await client.delete(f"/api/v1/channels/{channel_id}", headers=manager)).status_code == 204
    assert (await client.get(f"/api/v1/channels/{channel_id}", headers=manager)).status_code == 404  # deleted


def test_the_message_body_carries_the_card_as_a_json_string():
    body = json.loads(feishu.message_body("oc_1", {"header": {}}))
    assert body == {"receive_id": "oc_1", "msg_type": "interactive", "content": '{"header": {}}'}


async def test_a_disabled_chat_app_sends_nothing_and_answers_no_callback(
    client, sessions, botsim, use_botsim_apis, arq_redis, clock
):
    channel_id = await app_channel(client, sessions, botsim)
    admin = await auth(sessions)
    app_id = (await client.get(f"/api/v1/channels/{channel_id}", headers=admin)).json()["chat_app_id"]
    assert (
        await client.patch(f"/api/v1/chat-apps/{app_id}", headers=admin, json={"enabled": False})
    ).status_code == 200
    await send_one(use_botsim_apis, sessions, arq_redis, clock, channel_id)
    assert botsim.http.get("/_sim/feishu/cards").json() == []
    async with unit_of_work(sessions) as s:
        n = (await s.scalars(select(Notification))).one()
        assert (n.status, n.last_error) == (NotificationStatus.dead, f"chat app {app_id} is disabled or archived")
    r = await client.post(f"/api/v1/chat/feishu/{app_id}/events", json={"type": "url_verification"})
    assert r.status_code == 404
