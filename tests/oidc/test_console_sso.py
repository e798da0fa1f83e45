"""Console sign-in through the provider: authorization code with PKCE, state and nonce, sign-out.

A person's browser is played by httpx: it follows the redirects and submits
the provider's own login form, as a browser would. The app runs under uvicorn
on the port the provider's console client names as its redirect URI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from api.oidc import TokenRefused
from api.oidc_login import SignIn
from tests.api.conftest import Served
from tests.oidc.conftest import bearer, form_of


class ServedAt(Served):
    def __init__(self, app, port: int) -> None:
        self.port = port
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)


@pytest.fixture
def console(sso_api, oidc) -> Iterator[tuple]:
    api = sso_api()
    served = ServedAt(api.app, oidc.callback_port)
    served.start()
    try:
        yield api, served
    finally:
        served.stop()


def sign_in_form(page: httpx.Response, user: str) -> tuple[str, dict[str, str]]:
    """The provider's login form on ``page``, filled in."""
    return form_of(page, login=user, password="pw")


def browser_sign_in(base: str, user: str, browser: httpx.Client | None = None) -> httpx.Response:
    browser = browser or httpx.Client(follow_redirects=True, timeout=20)
    page = browser.get(f"{base}/console/sso/login?next=/console/records")
    assert "<form" in page.text, page.text[:300]
    action, fields = sign_in_form(page, user)
    return browser.post(action, data=fields)


def test_code_and_pkce_sign_in_establishes_the_principal(console, oidc) -> None:
    api, served = console
    with httpx.Client(follow_redirects=False, timeout=20) as browser:
        start = browser.get(f"{served.url}/console/sso/login")
        assert start.status_code == 303
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["state"][0] and query["nonce"][0] and len(query["code_challenge"][0]) == 43
        cookie = start.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        answer = browser_sign_in(served.url, "compliance-ph", browser)
        assert answer.status_code == 200, answer.text
        # a page of this site moves on to where the sign-in started (the session cookie
        # is SameSite=Strict: a redirect from the provider's site would not carry it)
        assert 'http-equiv="refresh" content="0;url=/console/records"' in answer.text
        home = browser.get(f"{served.url}/console/")
        assert home.status_code == 200 and "oidc:compliance-ph" in home.text
        assert "compliance" in home.text and "PH" in home.text
    events = list(api.vault.audit_events(principal="oidc:compliance-ph"))
    assert [e.action for e in events][:2] == ["auth.sign_in.oidc", "console.sign_in"]
    assert events[1].outcome == "ok:oidc"


def test_the_console_session_starts_with_a_compliance_user_limited_to_ph(console, oidc) -> None:
    api, served = console
    jp = api.client.post(
        "/v1/subjects", json={"external_ref": "jp-1", "region": "JP"}, headers=api.auth("owner")
    ).json()

    def start_session(request: Request, sign_in: SignIn) -> Response:
        response = JSONResponse({"token": sign_in.access_token, "next": sign_in.next})
        response.set_cookie("console_session", sign_in.principal.name)
        return response

    api.app.state.sso_start_session = start_session
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        answer = browser_sign_in(served.url, "compliance-ph", browser)
        assert browser.cookies.get("console_session") == "oidc:compliance-ph"
    token = answer.json()["token"]
    report = api.client.get("/v1/residency/report", headers=bearer(token))
    assert report.status_code == 200, report.text
    assert jp["id"] not in report.text and '"JP"' not in report.text
    audit = api.client.get(f"/v1/audit?subject_id={jp['id']}", headers=bearer(token))
    assert audit.status_code in (200, 403)
    assert jp["id"] not in audit.text


def test_a_changed_state_is_refused_and_audited(console, oidc) -> None:
    api, served = console
    with httpx.Client(follow_redirects=False, timeout=20) as browser:
        browser.get(f"{served.url}/console/sso/login")
        answer = browser.get(f"{served.url}/console/sso/callback?code=abc&state=forged")
    assert answer.status_code == 401
    assert "another sign-in (state)" in answer.text
    [event] = [e for e in api.vault.audit_events(action="auth.sign_in.oidc")]
    assert event.outcome == "refused:state" and event.actor == "unauthenticated"


def test_a_callback_without_a_started_sign_in_is_refused(console) -> None:
    _, served = console
    answer = httpx.get(f"{served.url}/console/sso/callback?code=abc&state=abc", timeout=20)
    assert answer.status_code == 401 and "expired or was started in another browser" in answer.text


def test_an_id_token_of_another_sign_in_is_refused_by_its_nonce(sso_api, oidc) -> None:
    api = sso_api()
    id_token = oidc.forge({"nonce": "theirs"}, aud="recvault-console")
    verifier = api.app.state.oidc
    assert verifier.id_token_claims(id_token, "recvault-console", "theirs")["nonce"] == "theirs"
    with pytest.raises(TokenRefused, match="nonce"):
        verifier.id_token_claims(id_token, "recvault-console", "ours")


def test_sign_out_ends_the_session_at_the_provider(console, oidc) -> None:
    _, served = console
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        assert browser_sign_in(served.url, "dpo-ph", browser).status_code == 200
        # signed in at the provider: a second sign-in needs no password
        again = browser.get(f"{served.url}/console/sso/login")
        assert "<form" not in again.text and "Signed in." in again.text
        with httpx.Client(follow_redirects=False, timeout=20) as peek:
            peek.cookies = browser.cookies
            # a link or page of another site cannot sign anyone out: there is no GET for it
            assert peek.get(f"{served.url}/console/sso/logout").status_code == 404
            assert peek.post(f"{served.url}/console/sign-out").status_code == 403  # no token
            action, fields = form_of(peek.get(f"{served.url}/console/"))  # the Sign out form
            assert action.endswith("/console/sign-out")
            out = peek.post(action, data=fields)
        assert out.status_code == 303
        target = urlsplit(out.headers["location"])
        assert f"{target.scheme}://{target.netloc}" == oidc.issuer
        assert "id_token_hint" in parse_qs(target.query)
        confirm = browser.get(out.headers["location"])
        action, fields = form_of(confirm, logout="yes")
        browser.post(action, data=fields)
        after = browser.get(f"{served.url}/console/sso/login")
        assert "<form" in after.text and "password" in after.text  # asked to sign in again


def test_sign_in_while_the_provider_is_down_says_so(make_api, sqlite_url) -> None:
    from vault.cli.devbao import free_port

    down = f"http://127.0.0.1:{free_port()}"
    settings = {"oidc": {"issuer": down, "audience": "recvault", "client_id": "c", "timeout": 2}}
    api = make_api(sqlite_url, use_clock=False, auth=settings)
    answer = api.client.get("/console/sso/login", follow_redirects=False)
    assert answer.status_code == 503
    assert "identity provider cannot be reached" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_next_never_leaves_the_console(console) -> None:
    _, served = console
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        page = browser.get(f"{served.url}/console/sso/login?next=//evil.example/")
        action, fields = sign_in_form(page, "dpo-ph")
        answer = browser.post(action, data=fields)
        assert 'content="0;url=/console"' in answer.text and "evil" not in answer.text


@pytest.mark.parametrize(
    "asked",
    [
        "/console/%E2%82%AC",  # not Latin-1: a Location header cannot carry it
        "/console/%0d%0aX-Injected:%201",  # a line break
        "/console/" + "a" * 5000,  # the pending sign-in's cookie would outgrow a browser's
        "/consolefoo",  # not a console page
    ],
)
def test_a_next_that_is_no_plain_console_path_returns_to_the_console(console, asked: str) -> None:
    api, served = console
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        page = browser.get(f"{served.url}/console/sso/login?next={asked}")
        action, fields = sign_in_form(page, "dpo-ph")
        answer = browser.post(action, data=fields)
        assert answer.status_code == 200, answer.text[:300]
        assert 'content="0;url=/console"' in answer.text
        assert browser.get(f"{served.url}/console/").status_code == 200
    assert [e.outcome for e in api.vault.audit_events(action="console.sign_in")] == ["ok:oidc"]


def _renewal_due(api) -> None:
    """Every console session as if its access token had expired (the test cannot wait)."""
    store = api.app.state.console.sessions
    past = api.vault.clock() - timedelta(seconds=1)
    for key, session in list(store._sessions.items()):
        due = replace(session.renewal, due=past)
        store._sessions[key] = replace(session, renewal=due)


def _grant(oidc, user: str, roles: list[str], regions: list[str]) -> None:
    changed = oidc.http.post(
        f"{oidc.issuer}/admin/accounts/{user}", json={"roles": roles, "regions": regions}
    )
    changed.raise_for_status()


def test_a_person_removed_at_the_provider_is_signed_out_of_the_console(console, oidc) -> None:
    api, served = console
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        browser_sign_in(served.url, "leaver-ph", browser)
        assert "Legal holds" in browser.get(f"{served.url}/console/holds").text
        _grant(oidc, "leaver-ph", [], [])  # left the clinic: no recvault role any more
        try:
            _renewal_due(api)
            page = browser.get(f"{served.url}/console/holds")
        finally:
            _grant(oidc, "leaver-ph", ["admin"], ["PH"])
        assert page.url.path == "/console/sign-in", page.text[:300]
        assert "Legal holds" not in page.text
    events = api.vault.audit_events(principal="oidc:leaver-ph", action="console.session")
    assert [e.outcome for e in events] == ["revoked"]


def test_grants_changed_at_the_provider_count_from_the_console_sessions_renewal(
    console, oidc
) -> None:
    api, served = console
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        browser_sign_in(served.url, "mover-ph", browser)
        home = browser.get(f"{served.url}/console/")
        assert "Legal holds" in home.text and "admin · PH" in home.text
        _grant(oidc, "mover-ph", ["compliance"], ["JP"])  # moved to compliance in Japan
        try:
            _renewal_due(api)
            home = browser.get(f"{served.url}/console/")
            holds = browser.get(f"{served.url}/console/holds")
        finally:
            _grant(oidc, "mover-ph", ["admin"], ["PH"])
        assert "compliance · JP" in home.text and "Legal holds" not in home.text
        assert holds.status_code == 403 and "may not use this page" in holds.text


def test_signing_in_again_through_the_provider_ends_the_session_the_browser_had(
    console, oidc
) -> None:
    api, served = console
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        assert browser_sign_in(served.url, "security-ph", browser).status_code == 200
        old = browser.cookies.get("recvault_console", path="/console")
        assert old
        # still signed in at the provider: the second sign-in goes straight back, signed in
        again = browser.get(f"{served.url}/console/sso/login")
        assert "Signed in." in again.text
        new = browser.cookies.get("recvault_console", path="/console")
        assert new and new != old  # a new session id, never the one the browser had
        assert "oidc:security-ph" in browser.get(f"{served.url}/console/").text
    # whoever kept the first cookie is sent to sign in
    with httpx.Client(follow_redirects=False, timeout=20) as holder:
        holder.cookies.set("recvault_console", old)
        kept = holder.get(f"{served.url}/console/")
        assert kept.status_code == 303
        assert kept.headers["location"] == "/console/sign-in"
    events = api.vault.audit_events(principal="oidc:security-ph", action="console.sign_out")
    assert [e.outcome for e in events] == ["replaced"]
