"""Chat apps, configured like channels: secrets write-only and encrypted at rest, validated on save
(422s naming the field), testable against the vendor (botsim plays it), archived once used."""

from __future__ import annotations

from sqlalchemy import select, text

from shared.chat.models import ChatApp
from shared.crypto import decrypt_secret
from shared.db import unit_of_work
from shared.models import Role
from tests.factories import auth, make_department, make_token

FEISHU = {
    "name": "飞书应用",
    "vendor": "feishu",
    "app_id": "cli_a1b2c3d4e5f60708",
    "app_secret": "app-s3cret",
    "verification_token": "vt-s3cret",
    "encrypt_key": "enc-s3cret",
}
DINGTALK = {"name": "钉钉机器人", "vendor": "dingtalk", "app_id": "dingabc123", "app_secret": "ding-s3cret"}


async def test_secrets_are_write_only_and_encrypted_in_the_row(client, sessions):
    admin = await auth(sessions)
    r = await client.post("/api/v1/chat-apps", headers=admin, json=FEISHU)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["has_verification_token"] is True and body["has_encrypt_key"] is True
    assert body["callback_url"] == f"http://closeloop.test/api/v1/chat/feishu/{body['id']}/events"
    for read in (body, (await client.get(f"/api/v1/chat-apps/{body['id']}", headers=admin)).json()):
        assert "s3cret" not in str(read)
    audit = (await client.get("/api/v1/audit", headers=admin, params={"entity_type": "chat_app"})).json()
    assert audit["items"] and "s3cret" not in str(audit)
    async with unit_of_work(sessions) as s:
        row = (await s.execute(text("SELECT app_secret_encrypted, encrypt_key_encrypted FROM chat_apps"))).one()
    assert "s3cret" not in str(row)
    assert decrypt_secret(row[0]) == "app-s3cret" and decrypt_secret(row[1]) == "enc-s3cret"

    r = await client.patch(f"/api/v1/chat-apps/{body['id']}", headers=admin, json={"encrypt_key": None})
    assert r.status_code == 200 and r.json()["has_encrypt_key"] is False
    r = await client.patch(f"/api/v1/chat-apps/{body['id']}", headers=admin, json={"app_secret": "new-s3cret"})
    assert r.status_code == 200
    async with unit_of_work(sessions) as s:
        app = (await s.scalars(select(ChatApp))).one()
        assert decrypt_secret(app.app_secret_encrypted) == "new-s3cret"


async def test_validation_names_each_field_the_vendor_needs(client, sessions):
    admin = await auth(sessions)
    r = await client.post(
        "/api/v1/chat-apps", headers=admin, json={**FEISHU, "app_id": "a1b2", "verification_token": None}
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"body.app_id", "body.verification_token"}
    r = await client.post("/api/v1/chat-apps", headers=admin, json={**DINGTALK, "encrypt_key": "k"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.encrypt_key"]
    r = await client.post("/api/v1/chat-apps", headers=admin, json={**DINGTALK, "department_id": 999})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.department_id"]
    r = await client.post("/api/v1/chat-apps", headers=admin, json={**DINGTALK, "vendor": "wecom"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.vendor"
    assert (await client.post("/api/v1/chat-apps", headers=admin, json=DINGTALK)).status_code == 201
    r = await client.post("/api/v1/chat-apps", headers=admin, json={**FEISHU, "name": DINGTALK["name"]})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.name"
    created = (await client.post("/api/v1/chat-apps", headers=admin, json=FEISHU)).json()
    r = await client.patch(f"/api/v1/chat-apps/{created['id']}", headers=admin, json={"verification_token": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.verification_token"
    r = await client.patch(f"/api/v1/chat-apps/{created['id']}", headers=admin, json={"app_id": "oops"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.app_id"
    async with unit_of_work(sessions) as s:
        assert (await s.scalar(select(ChatApp.app_id).where(ChatApp.id == created["id"]))) == FEISHU["app_id"]


async def test_managers_configure_apps_of_their_department_only(client, sessions):
    marketing, sales = await make_department(sessions), await make_department(sessions)
    _, member = await make_token(sessions, role=Role.member)
    from tests.factories import make_user

    sales_manager = await make_user(sessions, role=Role.manager, department_id=sales.id)
    _, token = await make_token(sessions, user=sales_manager)
    manager = {"Authorization": f"Bearer {token}"}
    r = await client.post("/api/v1/chat-apps", headers={"Authorization": f"Bearer {member}"}, json=DINGTALK)
    assert r.status_code == 403
    r = await client.post("/api/v1/chat-apps", headers=manager, json={**DINGTALK, "department_id": marketing.id})
    assert r.status_code == 403
    r = await client.post("/api/v1/chat-apps", headers=manager, json={**DINGTALK, "department_id": sales.id})
    assert r.status_code == 201, r.text


async def test_a_used_app_is_archived_on_delete_and_its_callbacks_answer_404(client, sessions, clock):
    admin = await auth(sessions)
    unused = (await client.post("/api/v1/chat-apps", headers=admin, json={**DINGTALK, "name": "spare"})).json()
    assert (await client.delete(f"/api/v1/chat-apps/{unused['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/v1/chat-apps/{unused['id']}", headers=admin)).status_code == 404

    used = (await client.post("/api/v1/chat-apps", headers=admin, json=FEISHU)).json()
    r = await client.post(
        "/api/v1/channels",
        headers=admin,
        json={"name": "市场群", "kind": "feishu_app", "chat_app_id": used["id"], "chat_id": "oc_market"},
    )
    assert r.status_code == 201, r.text
    assert (await client.delete(f"/api/v1/chat-apps/{used['id']}", headers=admin)).status_code == 204
    got = (await client.get(f"/api/v1/chat-apps/{used['id']}", headers=admin)).json()
    assert got["archived_at"] is not None and got["enabled"] is False
    listed = (await client.get("/api/v1/chat-apps", headers=admin)).json()["items"]
    assert listed == []
    assert [a["id"] for a in (await client.get("/api/v1/chat-apps?archived=true", headers=admin)).json()["items"]] == [
        used["id"]
    ]
    r = await client.post(f"/api/v1/chat/feishu/{used['id']}/events", json={"type": "url_verification"})
    assert r.status_code == 404


async def test_testing_an_app_fetches_an_access_token_from_the_vendor(client, sessions, botsim, use_botsim_apis):
    admin = await auth(sessions)
    feishu = (await client.post("/api/v1/chat-apps", headers=admin, json=FEISHU)).json()
    ding = (await client.post("/api/v1/chat-apps", headers=admin, json=DINGTALK)).json()
    botsim.http.post(
        "/_sim/apps",
        json={
            FEISHU["app_id"]: {"vendor": "feishu", "app_secret": "app-s3cret"},
            DINGTALK["app_id"]: {"vendor": "dingtalk", "app_secret": "another-secret"},
        },
    ).raise_for_status()
    ok = (await client.post(f"/api/v1/chat-apps/{feishu['id']}/test", headers=admin)).json()
    assert (ok["ok"], ok["http_status"], ok["vendor_code"], ok["error"]) == (True, 200, "0", None)
    refused = (await client.post(f"/api/v1/chat-apps/{ding['id']}/test", headers=admin)).json()
    assert (refused["ok"], refused["http_status"], refused["vendor_code"]) == (False, 400, "invalidClientIdOrSecret")
    await client.patch(f"/api/v1/chat-apps/{feishu['id']}", headers=admin, json={"app_secret": "stale"})
    refused = (await client.post(f"/api/v1/chat-apps/{feishu['id']}/test", headers=admin)).json()
    assert (refused["ok"], refused["vendor_code"], refused["error"]) == (False, "10014", "app secret invalid")


async def test_secrets_rotate_re_encrypts_the_chat_apps_secrets_too(stack, sessions):
    from shared.crypto import encrypt_secret, new_key
    from tests.test_cli import closeloop

    old, new = new_key(), new_key()
    async with unit_of_work(sessions) as s:
        s.add(
            ChatApp(
                name="飞书",
                vendor="feishu",
                app_id="cli_1",
                app_secret_encrypted=encrypt_secret("as", keys=[old]),
                verification_token_encrypted=encrypt_secret("vt", keys=[old]),
            )
        )
    proc = closeloop(
        stack, "secrets", "rotate", env={"CLOSELOOP_SECRET_KEY": new, "CLOSELOOP_SECRET_KEY_PREVIOUS": old}
    )
    assert proc.returncode == 0, proc.stderr
    assert "re-encrypted 0 channel secret(s) and 2 chat app secret(s)" in proc.stderr
    async with unit_of_work(sessions) as s:
        app = (await s.scalars(select(ChatApp))).one()
        assert decrypt_secret(app.app_secret_encrypted, keys=[new]) == "as"
        assert decrypt_secret(app.verification_token_encrypted or "", keys=[new]) == "vt"
        assert app.encrypt_key_encrypted is None
