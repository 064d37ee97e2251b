"""Channels: per-kind validation, write-only secrets, department routing, the SSRF guard."""

from __future__ import annotations

from shared.settings import load_settings
from tests.factories import auth, make_department

FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/abc"


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
