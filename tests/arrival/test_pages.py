"""Links that open something: a card's button leads to the team's frontend when CLOSELOOP_APP_URL
is set, else to Closeloop's read-only item page behind a signed, expiring link, which renders
without a token (title, owner, deadline on the company's clock, SLA state, trail)."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from shared.links import signed_path
from shared.notify.work import WorkEvent
from shared.pages.links import page_links
from shared.settings import Settings
from tests.approvals.conftest import Org
from tests.arrival.conftest import Bots, deliver, rows

PUBLIC = "http://closeloop.test"


class Page(HTMLParser):
    """The page's text by element: its <title>, <h1>, the <dt>/<dd> facts, the SLA table cells and
    the trail's list items; and whether any script or external resource is referenced."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.external: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.external.append("script")
        self.external += [v for k, v in attrs if k in ("src", "href") and v]
        if tag not in ("meta", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self.stack and data.strip():
            self.text.setdefault(self.stack[-1], []).append(data.strip())

    def facts(self) -> dict[str, str]:
        return dict(zip(self.text.get("dt", []), self.text.get("dd", []), strict=True))


async def review_for_finance(client, org: Org) -> dict:
    r = await client.post(
        "/api/v1/reviews",
        headers=org.headers(org.planner),
        json={"title": "双十一方案评审", "reviewer_department_ids": [org.finance.id]},
    )
    assert r.status_code == 201, r.text
    return r.json()


def link_in(markdown: str) -> str:
    (url,) = re.findall(r"\[查看详情\]\(([^)]+)\)", markdown)
    return url


async def test_a_cards_link_opens_a_page_that_renders_without_a_token(
    client, sessions, settings, arq_redis, botsim, org, bots: Bots
):
    review = await review_for_finance(client, org)
    await deliver(settings, sessions, arq_redis, bots)
    (message,) = botsim.messages("finance")
    url = link_in(message["body"]["markdown"]["text"])
    (hook,) = botsim.messages("hook")
    # The webhook carries the same page (each link's expiry counts from its own send, a second apart at most).
    page_url = hook["body"]["data"]["subject"]["page_url"]
    assert urlsplit(page_url).path == urlsplit(url).path
    assert (await client.get(page_url.removeprefix(PUBLIC))).status_code == 200
    assert hook["body"]["data"]["subject"]["url"] == f"{PUBLIC}/api/v1/reviews/{review['id']}"  # and the API's
    assert url.startswith(f"{PUBLIC}/api/v1/pages/review_response/")

    r = await client.get(url.removeprefix(PUBLIC))  # a phone in the chat app: no token
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    assert page.text["title"] == page.text["h1"] == ["双十一方案评审 · 财务部"]  # the reviewer's part of it
    facts = page.facts()
    assert facts["负责人 Owner"] == "钱总监" and facts["部门 Department"] == "财务部"
    assert facts["状态 Status"] == "pending"
    # The reviewer's 24 h, on the company's clock (Asia/Shanghai): asked Monday 10:00, due Tuesday 10:00.
    cells = page.text["td"]
    assert cells[:2] == ["进行中 running", "2026-03-03 10:00 CST"]
    assert any(item.startswith("create") or "create" in item for item in page.text["b"])
    assert page.external == []  # no script, no CDN: it works offline


async def test_a_tampered_or_expired_link_is_refused_as_problem_json(
    client, sessions, settings, clock, arq_redis, botsim, org, bots: Bots
):
    await review_for_finance(client, org)
    await deliver(settings, sessions, arq_redis, bots)
    url = link_in(botsim.messages("finance")[0]["body"]["markdown"]["text"]).removeprefix(PUBLIC)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    other_item = parts.path.rsplit("/", 1)[0] + "/999"
    for tampered in (
        f"{other_item}?{parts.query}",  # the signature of another item
        f"{parts.path}?exp={int(query['exp'][0]) + 3600}&sig={query['sig'][0]}",  # a longer life
        f"{parts.path}?exp={query['exp'][0]}&sig={'0' * 64}",
    ):
        r = await client.get(tampered)
        assert r.status_code == 403, tampered
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(parts.path)).status_code == 401
    expired = signed_path(parts.path, expires_at=clock.now() - timedelta(seconds=1), secret=settings.secret_keys[0])
    r = await client.get(expired)
    assert r.status_code == 410 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "the link has expired"


async def test_every_kind_of_item_a_card_names_has_a_page(client, sessions, settings, org, bots: Bots):
    from tests.arrival.test_arrival import run_the_month

    await run_the_month(client, sessions, org)
    subjects = {(r.subject_type, r.subject_id) for e in WorkEvent for r in await rows(sessions, e)}
    assert {t for t, _ in subjects} == {
        "review_response",
        "review_request",
        "approval_assignment",
        "collaboration",
        "feedback",
        "campaign_stage",
    }
    for subject_type, subject_id in sorted(subjects):
        r = await client.get(f"/api/v1/pages/{subject_type}/{subject_id}", headers=org.headers(org.planner))
        assert r.status_code == 200, (subject_type, r.text)
        assert Page(r.text).text["h1"], subject_type
    r = await client.get("/api/v1/pages/rocket/1", headers=org.headers(org.planner))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


async def test_with_an_app_url_the_card_opens_the_teams_frontend(
    client, sessions, settings, arq_redis, botsim, org, bots: Bots
):
    review = await review_for_finance(client, org)
    template = '{"review_response": "https://app.example.com/reviews/responses/{id}"}'
    await deliver(settings, sessions, arq_redis, bots, app_url=template)
    (response,) = review["rounds"][0]["responses"]
    assert link_in(botsim.messages("finance")[0]["body"]["markdown"]["text"]) == (
        f"https://app.example.com/reviews/responses/{response['id']}"
    )
    one = page_links(Settings(app_url="https://app.example.com/{type}/{id}"))
    assert one.url("task", 7, now=None) == "https://app.example.com/task/7"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("app_url", "says"),
    [
        ("https://app.example.com/tasks", "must contain {id}"),
        ('{"task": "ftp://app.example.com/{id}"}', "task: must start with http"),
        ("https://app.example.com/{slug}/{id}", "only {id} and {type}"),
        ('{"task": ', "not valid JSON"),
    ],
)
def test_a_bad_app_url_stops_the_start(app_url, says):
    with pytest.raises(ValidationError) as err:
        Settings(app_url=app_url)
    assert "app_url" in str(err.value) and says in str(err.value)


def test_an_app_url_naming_an_unknown_item_type_stops_the_notifier():
    with pytest.raises(ValueError, match=r"unknown item types \['tasks'\]"):
        page_links(Settings(app_url='{"tasks": "https://app.example.com/tasks/{id}"}'))


async def test_a_page_opened_with_a_token_follows_the_permission_model(client, org):
    """With a token, the page is the API's item: another department's member does not see it (404,
    as through the API); the requester and the department asked to review do."""
    review = await review_for_finance(client, org)
    page = f"/api/v1/pages/review_request/{review['id']}"
    assert (await client.get(page, headers=org.headers(org.planner))).status_code == 200
    assert (await client.get(page, headers=org.headers(org.finance_director))).status_code == 200
    outsider = await client.get(page, headers=org.headers(org.legal))  # no department, not asked
    assert outsider.status_code == 404 and outsider.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/api/v1/reviews/{review['id']}", headers=org.headers(org.legal))).status_code == 404
