"""Sign-in through the provider in Chromium (Debian's, through Playwright), across two sites.

The provider's issuer is ``http://localhost:<port>`` and recvault is
``http://127.0.0.1:<port>``: two sites, as a clinic's identity provider and its
recvault are, so the browser applies its cross-site cookie rules. The person
starts at the console's sign-in page (its token form turned off), arrives in
the console signed in (its SameSite=Strict session cookie), as a compliance
officer limited to PH who sees nothing of JP, and signs out at both ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright import sync_api as playwright_api

from tests.oidc.conftest import Provider, oidc_settings, start_provider
from tests.oidc.test_console_sso import ServedAt
from vault.cli.devbao import stop_process

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


def test_a_compliance_officer_limited_to_ph_signs_in_in_chromium(
    make_api, sqlite_url, cross_site_provider, monkeypatch
) -> None:
    monkeypatch.setenv("RECVAULT_OIDC_CLIENT_SECRET", "console-secret")
    auth = oidc_settings(cross_site_provider, display_name="Test provider")
    auth["console_token_sign_in"] = False
    api = make_api(sqlite_url, use_clock=False, auth=auth)
    owner = api.auth("owner")
    jp = api.client.post("/v1/subjects", json={"external_ref": "jp", "region": "JP"}, headers=owner)
    served = ServedAt(api.app, cross_site_provider.callback_port)
    served.start()
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{served.url}/console/sign-in")
                assert page.get_by_label("Token").count() == 0  # console_token_sign_in = false
                posted = page.request.post(f"{served.url}/console/sign-in", form={"token": "rvt_x"})
                assert posted.status == 404  # and the form's route is closed, not only hidden
                page.get_by_role("link", name="Sign in with Test provider").click()
                page.wait_for_url(f"{cross_site_provider.issuer}/**")  # at the provider
                page.fill("input[name=login]", "compliance-ph")
                page.fill("input[name=password]", "pw")
                page.click("button[type=submit]")
                page.wait_for_url(f"{served.url}/console/")
                assert "oidc:compliance-ph" in page.text_content("header")
                page.goto(f"{served.url}/console/residency?run=1")
                assert page.locator("th", has_text=re.compile(r"^PH$")).count() > 0
                assert page.locator("th", has_text=re.compile(r"^JP$")).count() == 0
                assert jp.json()["id"] not in page.content()
                # sign-out ends the console's session and the provider's
                page.get_by_role("button", name="Sign out").click()
                page.wait_for_url(f"{served.url}/console**")
                page.goto(f"{served.url}/console/residency")
                assert "/console/sign-in" in page.url
            finally:
                browser.close()
    finally:
        served.stop()
    events = list(api.vault.audit_events(principal="oidc:compliance-ph"))
    assert "auth.sign_in.oidc" in [e.action for e in events]


def test_signing_in_again_across_sites_ends_the_session_the_browser_had(
    make_api, sqlite_url, cross_site_provider, monkeypatch
) -> None:
    """Another person signs in at the same browser, through the provider's form: its
    cross-site redirect back does not bring the SameSite=Strict session cookie to the
    callback, yet the session the browser had ends."""
    monkeypatch.setenv("RECVAULT_OIDC_CLIENT_SECRET", "console-secret")
    api = make_api(sqlite_url, use_clock=False, auth=oidc_settings(cross_site_provider))
    served = ServedAt(api.app, cross_site_provider.callback_port)
    served.start()
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context()
                page = context.new_page()
                _sign_in_at_provider(page, served.url, cross_site_provider, "admin-ph")
                old = _session_cookie(context)
                # the provider's own session ended (it signs the next person in with its form)
                context.clear_cookies(domain="localhost")
                _sign_in_at_provider(page, served.url, cross_site_provider, "dpo-ph")
                assert "oidc:dpo-ph" in page.text_content("header")
                new = _session_cookie(context)
                assert new["value"] != old["value"]  # a new session id
                # whoever kept the first cookie is sent to sign in
                holder = browser.new_context()
                holder.add_cookies([old])
                kept = holder.new_page()
                kept.goto(f"{served.url}/console/")
                assert kept.url == f"{served.url}/console/sign-in"
            finally:
                browser.close()
    finally:
        served.stop()
    events = api.vault.audit_events(principal="oidc:admin-ph", action="console.sign_out")
    assert [e.outcome for e in events] == ["replaced"]


def _sign_in_at_provider(
    page: playwright_api.Page, console: str, provider: Provider, person: str
) -> None:
    page.goto(f"{console}/console/sso/login")
    page.wait_for_url(f"{provider.issuer}/**")
    page.fill("input[name=login]", person)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{console}/console/")


def _session_cookie(context: playwright_api.BrowserContext) -> dict:
    [cookie] = [c for c in context.cookies() if c["name"] == "recvault_console"]
    return dict(cookie)
