"""/docs (Swagger UI) and /redoc render offline in a real browser (Debian's Chromium).

Every request the pages make must go to the server itself on 127.0.0.1: the
assets come from the ``fastapi-offline`` package, nothing from a CDN, and the
pages' Content-Security-Policy blocks nothing they need. The pages show
documentation only (no record, no subject), so no region can leak through them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("RECVAULT_SCREENSHOTS", tempfile.gettempdir()))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser, url: str):
    """A page at ``url``; the hosts of every request and any console error are collected."""
    page = browser.new_page()
    hosts: list[str] = []
    errors: list[str] = []

    def only_local(route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        hosts.append(host or route.request.url.split(":", 1)[0])
        if host == "127.0.0.1" or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_local)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(url)
    assert response is not None and response.status == 200
    return page, response, hosts, errors


@pytest.fixture
def served(api, serve):
    return serve(api.app)


def operation_count(api) -> int:
    spec = api.client.get("/openapi.json").json()
    return sum(
        1 for item in spec["paths"].values() for m in item if m in {"get", "post", "put", "delete"}
    )


def test_swagger_ui_renders_every_operation_offline(api, served, browser):
    page, response, hosts, errors = open_page(browser, f"{served.url}/docs")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "http" not in csp
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    assert page.locator(".opblock").count() == operation_count(api)
    assert page.get_by_text("Create a subject (or return the existing one)").first.is_visible()
    assert page.get_by_text("Download a record's content").first.is_visible()
    page.screenshot(path=str(SHOTS / "docs.png"))
    assert set(hosts) == {"127.0.0.1"}
    assert not errors, errors
    page.close()


def test_redoc_renders_every_operation_offline(api, served, browser):
    page, response, hosts, errors = open_page(browser, f"{served.url}/redoc")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector("[data-section-id^='operation/']", timeout=60_000)
    sections = page.locator("[data-section-id^='operation/']")
    assert sections.count() == operation_count(api)
    heading = page.locator("h2", has_text="Transfer a subject to another region")
    heading.scroll_into_view_if_needed()
    assert heading.is_visible()
    page.screenshot(path=str(SHOTS / "redoc.png"))
    assert set(hosts) == {"127.0.0.1"}
    # ReDoc's footer asks for its maker's logo from the web: the policy blocks that load
    # (nothing leaves the machine); nothing of the page itself may be blocked.
    assert not [e for e in errors if "cdn.redoc.ly" not in e], errors
    page.close()


def test_reference_assets_come_from_the_package(api):
    js = api.client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert api.client.get("/docs/assets/redoc.standalone.js").status_code == 200
    for page in ("/docs", "/redoc"):
        html = api.client.get(page).text
        assert "cdn" not in html.lower() and "https://" not in html
