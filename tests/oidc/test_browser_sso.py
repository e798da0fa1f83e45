"""Sign-in through the provider in Chromium (Debian's, through Playwright), across two sites.

The provider's issuer is ``http://localhost:<port>`` and recvault is
``http://127.0.0.1:<port>``: two sites, as a clinic's identity provider and its
recvault are, so the browser applies its cross-site cookie rules. A stand-in
for the console's session (a SameSite=Strict cookie, as the console sets)
shows that the person arrives signed in, as a compliance officer limited to PH
who sees nothing of JP.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Iterator

import pytest
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from playwright import sync_api as playwright_api

from api.oidc_login import SignIn
from tests.oidc.conftest import Provider, oidc_settings, start_provider
from tests.oidc.test_console_sso import ServedAt
from vault.cli.devbao import stop_process
from vault.domain import Actor

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def cross_site_provider(tmp_path_factory) -> Iterator[Provider]:
    log_path = tmp_path_factory.mktemp("oidc-localhost") / "provider.log"
    provider, process = start_provider(log_path, host="localhost")
    try:
        yield provider
    finally:
        provider.http.close()
        stop_process(process, 5)


def install_console_stand_in(app, vault) -> None:
    """Sessions as the console keeps them: a random cookie, SameSite=Strict, on /console."""
    sessions: dict[str, Actor] = {}

    def start_session(request: Request, sign_in: SignIn) -> Response:
        cookie = secrets.token_urlsafe(16)
        sessions[cookie] = sign_in.principal.actor()
        response = RedirectResponse("/console/home", status_code=303)
        response.set_cookie("session", cookie, path="/console", httponly=True, samesite="strict")
        return response

    @app.get("/console/home", include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        actor = sessions.get(request.cookies.get("session", ""))
        if actor is None:
            return HTMLResponse("<h1>Sign in</h1>", status_code=401)
        report = vault.residency_report(actor=actor)
        regions = ", ".join(sorted(r.name for r in report.regions))
        return HTMLResponse(
            f"<h1 id=who>{html.escape(actor.name)}</h1><p id=regions>{html.escape(regions)}</p>"
        )

    app.state.sso_start_session = start_session


def test_a_compliance_officer_limited_to_ph_signs_in_in_chromium(
    make_api, sqlite_url, cross_site_provider, monkeypatch
) -> None:
    monkeypatch.setenv("RECVAULT_OIDC_CLIENT_SECRET", "console-secret")
    api = make_api(sqlite_url, use_clock=False, auth=oidc_settings(cross_site_provider))
    owner = api.auth("owner")
    jp = api.client.post("/v1/subjects", json={"external_ref": "jp", "region": "JP"}, headers=owner)
    install_console_stand_in(api.app, api.vault)
    served = ServedAt(api.app, cross_site_provider.callback_port)
    served.start()
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{served.url}/console/sso/login")
                assert page.url.startswith(cross_site_provider.issuer)  # at the provider
                page.fill("input[name=login]", "compliance-ph")
                page.fill("input[name=password]", "pw")
                page.click("button[type=submit]")
                page.wait_for_url(f"{served.url}/console/home")
                assert page.text_content("#who") == "oidc:compliance-ph"
                assert page.text_content("#regions") == "PH"
                assert jp.json()["id"] not in page.content()
            finally:
                browser.close()
    finally:
        served.stop()
    events = list(api.vault.audit_events(principal="oidc:compliance-ph"))
    assert "auth.sign_in.oidc" in [e.action for e in events]
