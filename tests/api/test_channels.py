"""Channels: per-kind validation, write-only secrets, department routing, the SSRF guard."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from shared.crypto import decrypt_secret
from shared.db import unit_of_work
from shared.models import Channel, Role
from shared.settings import load_settings
from tests.factories import auth, make_department, make_token, make_user

FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/abc"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=t"


async def test_secret_is_write_only(client, sessions):
    admin = await auth(sessions)
    r = await client.post(
        "/api/v1/channels",
        headers=admin,
        json={"name": "市场群", "kind": "feishu", "url": FEISHU, "secret": "s3cret", "keywords": ["Closeloop"]},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["has_secret"] is True and "secret" not in body and body["signing_secret"] is None
    got = (await client.get(f"/api/v1/channels/{body['id']}", headers=admin)).json()
    assert got["has_secret"] is True and "s3cret" not in str(got)
    audit = (await client.get("/api/v1/audit", headers=admin, params={"entity_type": "channel"})).json()
    assert "s3cret" not in str(audit)
    r = await client.patch(f"/api/v1/channels/{body['id']}", headers=admin, json={"secret": None})
    assert r.json()["has_secret"] is False


async def test_webhook_without_secret_gets_a_standard_webhooks_secret_once(client, sessions):
    admin = await auth(sessions)
    r = await client.post(
        "/api/v1/channels", headers=admin, json={"name": "crm", "kind": "webhook", "url": "https://127.0.0.1/hooks/crm"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["signing_secret"].startswith("whsec_")
    got = (await client.get(f"/api/v1/channels/{r.json()['id']}", headers=admin)).json()
    assert "signing_secret" not in got and got["has_secret"] is True


async def test_url_must_match_the_kind(client, sessions):
    admin = await auth(sessions)
    for kind, url in (
        ("feishu", "https://example.com/hook"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"),
    ):
        r = await client.post("/api/v1/channels", headers=admin, json={"name": kind, "kind": kind, "url": url})
        assert r.status_code == 422, kind
        assert r.json()["errors"][0]["field"] == "body.url"


async def test_secret_rules_per_kind(client, sessions):
    admin = await auth(sessions)
    cases = [
        ("webhook", "https://127.0.0.1/h", "plain"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "x"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t", "nosecprefix"),
    ]
    for kind, url, secret in cases:
        r = await client.post(
            "/api/v1/channels", headers=admin, json={"name": kind, "kind": kind, "url": url, "secret": secret}
        )
        assert r.status_code == 422, kind
        assert r.json()["errors"][0]["field"] == "body.secret"


async def test_departments_route_and_must_exist(client, sessions):
    admin = await auth(sessions)
    dept = await make_department(sessions)
    r = await client.post(
        "/api/v1/channels",
        headers=admin,
        json={"name": "mkt", "kind": "feishu", "url": FEISHU, "department_ids": [dept.id]},
    )
    assert r.json()["department_ids"] == [dept.id]
    listed = (await client.get("/api/v1/channels", headers=admin, params={"department_id": dept.id})).json()
    assert [c["name"] for c in listed["items"]] == ["mkt"]
    r = await client.post(
        "/api/v1/channels",
        headers=admin,
        json={"name": "bad", "kind": "feishu", "url": FEISHU, "department_ids": [424242]},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.department_ids"
    assert (await client.get("/api/v1/channels", headers=admin, params={"kind": "feishu"})).json()["items"][0][
        "name"
    ] == "mkt"


async def test_private_targets_are_refused_unless_allowed(settings, clock, sessions):
    import httpx

    from services.api.app import create_app

    strict = load_settings(**{**settings.model_dump(), "allow_private_webhooks": False})
    app = create_app(strict, clock)
    admin = await auth(sessions)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        for url in (
            "https://127.0.0.1/hooks/x",
            "https://10.0.0.8/hooks/x",
            "https://[::1]/hooks/x",
            "https://169.254.169.254/latest",
            "http://example.com/hooks/x",
        ):
            r = await c.post("/api/v1/channels", headers=admin, json={"name": "x", "kind": "webhook", "url": url})
            assert r.status_code == 422, url
            assert r.json()["errors"][0]["field"] == "body.url"


async def test_secrets_are_stored_encrypted_never_as_plaintext(client, sessions, engine):
    admin = await auth(sessions)
    r = await client.post(
        "/api/v1/channels", headers=admin, json={"name": "dt", "kind": "dingtalk", "url": DINGTALK, "secret": "SECabc"}
    )
    assert r.status_code == 201, r.text
    channel_id = r.json()["id"]

    async def raw_row() -> dict:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT * FROM channels WHERE id = :id"), {"id": channel_id})).mappings()
            return dict(row.one())

    row = await raw_row()
    assert "secret" not in row  # the plaintext column is gone
    assert "SECabc" not in str(row)
    assert decrypt_secret(row["secret_encrypted"]) == "SECabc"
    audit = (await client.get("/api/v1/audit", headers=admin, params={"entity_type": "channel"})).json()
    assert row["secret_encrypted"] not in str(audit)  # not even the ciphertext is copied around

    r = await client.patch(f"/api/v1/channels/{channel_id}", headers=admin, json={"secret": "SECnew"})
    assert r.status_code == 200 and r.json()["has_secret"] is True
    row = await raw_row()
    assert "SECnew" not in str(row) and decrypt_secret(row["secret_encrypted"]) == "SECnew"


async def test_rate_limits_override_the_vendor_default(client, sessions):
    admin = await auth(sessions)
    r = await client.post("/api/v1/channels", headers=admin, json={"name": "fs", "kind": "feishu", "url": FEISHU})
    assert r.status_code == 201 and r.json()["rate_limits"] is None  # null: the vendor's limits
    channel_id = r.json()["id"]
    windows = [{"limit": 3, "per_s": 1}, {"limit": 50, "per_s": 60}]
    r = await client.patch(f"/api/v1/channels/{channel_id}", headers=admin, json={"rate_limits": windows})
    assert r.status_code == 200, r.text
    assert r.json()["rate_limits"] == [{"limit": 3, "per_s": 1.0}, {"limit": 50, "per_s": 60.0}]
    got = (await client.get(f"/api/v1/channels/{channel_id}", headers=admin)).json()
    assert got["rate_limits"] == r.json()["rate_limits"]
    r = await client.patch(f"/api/v1/channels/{channel_id}", headers=admin, json={"rate_limits": None})
    assert r.json()["rate_limits"] is None
    r = await client.post(
        "/api/v1/channels",
        headers=admin,
        json={"name": "dt", "kind": "dingtalk", "url": DINGTALK, "rate_limits": [{"limit": 20, "per_s": 60}]},
    )
    assert r.status_code == 201 and r.json()["rate_limits"] == [{"limit": 20, "per_s": 60.0}]


@pytest.mark.parametrize(
    ("rate_limits", "field"),
    [
        ([{"limit": 0, "per_s": 60}], "body.rate_limits[0].limit"),
        ([{"limit": 20, "per_s": 60}, {"limit": -1, "per_s": 1}], "body.rate_limits[1].limit"),
        ([{"limit": 20, "per_s": 0}], "body.rate_limits[0].per_s"),
        ([{"limit": 20, "per_s": -5}], "body.rate_limits[0].per_s"),
        ([{"limit": 20, "per_s": 60}, {"limit": 5, "per_s": 60}], "body.rate_limits[1].per_s"),
        ([], "body.rate_limits"),
        ([{"limit": 20}], "body.rate_limits.0.per_s"),
        ([{"limit": "many", "per_s": 60}], "body.rate_limits.0.limit"),
        ([{"limit": 20, "per_s": 60, "burst": 5}], "body.rate_limits.0.burst"),
    ],
)
async def test_bad_rate_limits_are_refused_naming_the_field(client, sessions, rate_limits, field):
    admin = await auth(sessions)
    body = {"name": "fs", "kind": "feishu", "url": FEISHU, "rate_limits": rate_limits}
    r = await client.post("/api/v1/channels", headers=admin, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert (await client.get("/api/v1/channels", headers=admin)).json()["items"] == []  # nothing written
    ok = (await client.post("/api/v1/channels", headers=admin, json={**body, "rate_limits": None})).json()
    r = await client.patch(f"/api/v1/channels/{ok['id']}", headers=admin, json={"rate_limits": rate_limits})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == [field]


async def test_ops_alerts_is_writable_and_health_is_read_only(client, sessions):
    admin = await auth(sessions)
    r = await client.post("/api/v1/channels", headers=admin, json={"name": "ops", "kind": "feishu", "url": FEISHU})
    body = r.json()
    assert (body["ops_alerts"], body["healthy"], body["unhealthy_since"], body["unhealthy_reason"]) == (
        False,
        True,
        None,
        None,
    )
    r = await client.patch(f"/api/v1/channels/{body['id']}", headers=admin, json={"ops_alerts": True})
    assert r.status_code == 200 and r.json()["ops_alerts"] is True
    r = await client.post(
        "/api/v1/channels", headers=admin, json={"name": "ops2", "kind": "feishu", "url": FEISHU, "ops_alerts": True}
    )
    assert r.status_code == 201 and r.json()["ops_alerts"] is True
    for field, value in (("healthy", True), ("unhealthy_reason", "x"), ("unhealthy_since", None)):
        r = await client.patch(f"/api/v1/channels/{body['id']}", headers=admin, json={field: value})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == f"body.{field}"
    r = await client.patch(f"/api/v1/channels/{body['id']}", headers=admin, json={"ops_alerts": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.ops_alerts"


async def _mark_unhealthy(sessions, channel_id: int) -> None:
    async with unit_of_work(sessions) as s:
        channel = await s.get_one(Channel, channel_id)
        channel.healthy = False
        channel.unhealthy_since = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        channel.unhealthy_reason = "vendor code 19001: token invalid"


@pytest.mark.parametrize(
    ("change", "resets"),
    [
        ({"url": FEISHU + "def"}, True),
        ({"secret": "new-secret"}, True),
        ({"secret": None}, True),
        ({"enabled": True}, True),
        ({"url": FEISHU}, False),  # the same URL fixes nothing
        ({"name": "renamed"}, False),
        ({"keywords": ["Closeloop"]}, False),
        ({"enabled": False}, False),
        ({"ops_alerts": True}, False),
    ],
)
async def test_fixing_a_channels_config_marks_it_healthy_again(client, sessions, change, resets):
    admin = await auth(sessions)
    r = await client.post(
        "/api/v1/channels", headers=admin, json={"name": "fs", "kind": "feishu", "url": FEISHU, "secret": "old"}
    )
    channel_id = r.json()["id"]
    await _mark_unhealthy(sessions, channel_id)
    got = (await client.get(f"/api/v1/channels/{channel_id}", headers=admin)).json()
    assert got["healthy"] is False and got["unhealthy_reason"] == "vendor code 19001: token invalid"
    assert got["unhealthy_since"].startswith("2026-01-05T09:00:00")

    r = await client.patch(f"/api/v1/channels/{channel_id}", headers=admin, json=change)
    assert r.status_code == 200, r.text
    if resets:
        assert (r.json()["healthy"], r.json()["unhealthy_since"], r.json()["unhealthy_reason"]) == (True, None, None)
    else:
        assert r.json()["healthy"] is False and r.json()["unhealthy_reason"] is not None


async def test_the_audit_log_masks_bot_credentials_in_urls_and_cannot_be_rewritten(client, sessions, engine):
    admin = await auth(sessions)
    dingtalk = "https://oapi.dingtalk.com/robot/send?access_token=DT0123456789abcdef"
    r = await client.post("/api/v1/channels", headers=admin, json={"name": "dt", "kind": "dingtalk", "url": dingtalk})
    assert r.status_code == 201, r.text
    rotated = "https://oapi.dingtalk.com/robot/send?access_token=DTrotated9876543210"
    r = await client.patch(f"/api/v1/channels/{r.json()['id']}", headers=admin, json={"url": rotated})
    assert r.status_code == 200, r.text
    wecom = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7aaa-4bbb-8ccc-0123456789ab"
    r = await client.post("/api/v1/channels", headers=admin, json={"name": "wc", "kind": "wecom", "url": wecom})
    assert r.status_code == 201, r.text
    fs = await client.post(
        "/api/v1/channels", headers=admin, json={"name": "fs", "kind": "feishu", "url": FEISHU + "0123456789"}
    )
    assert fs.status_code == 201, fs.text
    audit = (await client.get("/api/v1/audit", headers=admin, params={"entity_type": "channel"})).json()
    text_of = str(audit)
    for secret in ("DT0123456789abcdef", "DTrotated9876543210", "693a91f6-7aaa", "abc0123456789"):
        assert secret not in text_of
    urls = {v["url"] for row in audit["items"] for side in ("before", "after") if (v := row[side]) and "url" in v}
    # Masked with a fingerprint: the rotation of the DingTalk token shows as a change, its value never.
    shapes = {re.sub(r"\*\*\*[0-9a-f]{6}", "***", u) for u in urls}
    assert shapes == {
        "https://oapi.dingtalk.com/robot/send?access_token=***",
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
        "https://open.feishu.cn/open-apis/bot/v2/hook/***",
    }
    assert len(urls) == 4  # two DingTalk fingerprints: before and after the PATCH
    # The channel itself keeps its real URL: the notifier needs it.
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM channels WHERE url = :u"), {"u": wecom}) == 1
        for statement in ("UPDATE audit_log SET after = NULL", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"):
                async with conn.begin_nested():
                    await conn.execute(text(statement))


async def test_deleting_a_user_keeps_their_audit_rows_and_who_they_were(client, sessions, engine):
    admin = await auth(sessions)
    dept = await make_department(sessions)
    r = await client.post(
        "/api/v1/users", headers=admin, json={"name": "临时工", "email": "temp@example.com", "department_id": dept.id}
    )
    user_id = r.json()["id"]
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO audit_log (actor_user_id, actor, action, entity_type) VALUES (:u, :a, 'update', 'task')"),
            {"u": user_id, "a": f"user:{user_id}"},
        )
        await conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})  # the FK sets actor_user_id NULL
        rows = (
            await conn.execute(
                text("SELECT actor_user_id, actor FROM audit_log WHERE actor = :a"), {"a": f"user:{user_id}"}
            )
        ).all()
    assert [tuple(r) for r in rows] == [(None, f"user:{user_id}")]


async def test_a_manager_configures_the_channels_of_their_own_department_only(client, sessions):
    marketing, sales = await make_department(sessions), await make_department(sessions)
    headers = {}
    for who, dept in (("marketing", marketing), ("sales", sales)):
        _, token = await make_token(sessions, user=await make_user(sessions, role=Role.manager, department_id=dept.id))
        headers[who] = {"Authorization": f"Bearer {token}"}
    admin = await auth(sessions)
    bot = {"kind": "feishu", "url": FEISHU}
    company = (await client.post("/api/v1/channels", headers=admin, json={"name": "全公司", **bot})).json()
    both = {"name": "两部门", **bot, "department_ids": [marketing.id, sales.id]}
    shared_group = (await client.post("/api/v1/channels", headers=admin, json=both)).json()

    def refused(r, field: str) -> bool:
        problem = r.json()
        return (
            r.status_code == 403
            and r.headers["content-type"] == "application/problem+json"
            and [e["field"] for e in problem["errors"]] == [field]
        )

    for departments in ([sales.id], [], [marketing.id, sales.id]):  # another's, every one's, not theirs alone
        r = await client.post(
            "/api/v1/channels", headers=headers["marketing"], json={"name": "x", **bot, "department_ids": departments}
        )
        assert refused(r, "body.department_ids"), (departments, r.text)
    assert "department" in r.json()["errors"][0]["message"]
    alerts = {"name": "x", **bot, "department_ids": [marketing.id], "ops_alerts": True}
    assert refused(await client.post("/api/v1/channels", headers=headers["marketing"], json=alerts), "body.ops_alerts")
    sales_app = {
        "name": "销售应用",
        "vendor": "feishu",
        "app_id": "cli_0123456789abcdef",
        "app_secret": "s",
        "verification_token": "vt",
        "department_id": sales.id,
    }
    app_id = (await client.post("/api/v1/chat-apps", headers=admin, json=sales_app)).json()["id"]
    group = {
        "name": "x",
        "kind": "feishu_app",
        "chat_app_id": app_id,
        "chat_id": "oc_1",
        "department_ids": [marketing.id],
    }
    assert refused(await client.post("/api/v1/channels", headers=headers["marketing"], json=group), "body.chat_app_id")

    r = await client.post(
        "/api/v1/channels",
        headers=headers["marketing"],
        json={"name": "市场群", **bot, "department_ids": [marketing.id]},
    )
    assert r.status_code == 201, r.text
    own = r.json()["id"]
    r = await client.patch(f"/api/v1/channels/{own}", headers=headers["marketing"], json={"department_ids": [sales.id]})
    assert refused(r, "body.department_ids")
    r = await client.get(f"/api/v1/channels/{own}", headers=headers["marketing"])
    assert r.json()["department_ids"] == [marketing.id]  # nothing half-written

    for channel_id in (company["id"], shared_group["id"]):  # not theirs alone: as if it did not exist
        for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test"), ("GET", "/attempts")):
            json = {"name": "mine"} if method == "PATCH" else None
            r = await client.request(
                method, f"/api/v1/channels/{channel_id}{path}", headers=headers["marketing"], json=json
            )
            assert r.status_code == 404, (channel_id, method, path, r.text)
    assert (await client.get(f"/api/v1/channels/{own}", headers=headers["sales"])).status_code == 404
    mine = (await client.get("/api/v1/channels", headers=headers["marketing"])).json()["items"]
    assert [c["id"] for c in mine] == [own]
    assert (await client.get("/api/v1/channels", headers=headers["sales"])).json()["items"] == []
    everything = (await client.get("/api/v1/channels", headers=await auth(sessions, Role.director))).json()["items"]
    assert [c["id"] for c in everything] == [company["id"], shared_group["id"], own]
