"""/docs and /redoc work offline: every asset they reference is served by the API itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class Refs(HTMLParser):
    """The URLs a page makes the browser fetch (src, href) and the spec URL ReDoc is given."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.spec_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)
            if name == "spec-url" and value is not None:
                self.spec_urls.append(value)


def parse(html: str) -> Refs:
    refs = Refs()
    refs.feed(html)
    refs.close()
    return refs


def assert_same_origin(url: str) -> None:
    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc, f"{url} is not on the API's own origin"
    assert url.startswith("/"), url


async def assert_served(client, url: str) -> None:
    r = await client.get(url)
    assert r.status_code == 200, url
    suffix = url[url.rfind(".") :]
    assert CONTENT_TYPES[suffix] in r.headers["content-type"], (url, r.headers["content-type"])
    assert len(r.content) > 500, url
    if suffix == ".png":
        assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
    if suffix == ".css":  # nothing fetched from elsewhere: every url(...) is inline data
        assert all(ref.startswith("data:") for ref in re.findall(r"url\(\s*['\"]?([^'\")\s]+)", r.text))
        assert "@import" not in r.text


async def assert_openapi(client, url: str) -> None:
    assert_same_origin(url)
    r = await client.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "Closeloop API"
    assert "/api/v1/tasks" in doc["paths"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_reference_no_external_url(client, page):
    r = await client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://", r.text), "the page names an external URL"
    refs = parse(r.text)
    assert len(refs.urls) >= 2  # stylesheet or script, and favicon
    for url in refs.urls:
        assert_same_origin(url)
        await assert_served(client, url)


async def test_swagger_ui_loads_its_bundle_and_the_openapi_document(client):
    html = (await client.get("/docs")).text
    refs = parse(html)
    assert {u.rsplit("/", 1)[-1] for u in refs.urls} == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}
    bundle = next(u for u in refs.urls if u.endswith(".js"))
    assert "SwaggerUIBundle" in (await client.get(bundle)).text
    (spec_url,) = re.findall(r"url: '([^']*)'", html)
    await assert_openapi(client, spec_url)
    assert '"validatorUrl": null' in html  # no badge from validator.swagger.io


async def test_swagger_ui_oauth2_redirect_page_is_served(client):
    html = (await client.get("/docs")).text
    (redirect,) = re.findall(r"oauth2RedirectUrl: window\.location\.origin \+ '([^']*)'", html)
    r = await client.get(redirect)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://", r.text)
    assert not parse(r.text).urls


async def test_redoc_loads_its_bundle_and_the_openapi_document(client):
    refs = parse((await client.get("/redoc")).text)
    assert {u.rsplit("/", 1)[-1] for u in refs.urls} == {"redoc.standalone.js", "favicon.png"}
    (spec_url,) = refs.spec_urls
    await assert_openapi(client, spec_url)


async def test_docs_assets_are_not_in_the_openapi_document(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
