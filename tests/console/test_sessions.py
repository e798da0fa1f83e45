"""Sessions, CSRF and regions in the browser: what a forged form, an idle session and a
one-region principal get."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import OPERATOR
from tests.console.conftest import World, axe_check, events, nav_labels, shoot, sign_in

#: one worker runs the console modules: one server, one browser at a time
pytestmark = pytest.mark.xdist_group("console")

PAGES = [
    "/console/",
    "/console/subjects",
    "/console/holds?show=all",
    "/console/destructions",
    "/console/disposal",
    "/console/residency?run=1",
    "/console/audit?run=1",
    "/console/keys",
]


def _jp_ids(world: World) -> list[str]:
    return [value for key, value in world.ids.items() if key.startswith("jp_")]


def test_session_cookie_is_http_only_and_strict(page: Page, world: World) -> None:
    sign_in(page, world, "dpo")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "recvault_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert not cookie["secure"]  # plain HTTP on loopback; Secure is set when served over TLS
    assert page.evaluate("document.cookie") == ""


def test_a_state_change_without_the_csrf_token_is_refused(page: Page, world: World) -> None:
    subject = world.ids["ph_subject"]
    sign_in(page, world, "dpo")
    forged = page.request.post(
        f"/console/subjects/{subject}/restriction",
        form={"action": "set"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert "reload the page" in forged.text()
    assert not world.vault.get_subject(subject).restricted
    refusals = [e for e in events(world, principal="dpo") if e.outcome == "refused:csrf"]
    assert [e.action for e in refusals] == ["console.restriction.csrf"]
    wrong = page.request.post(
        f"/console/subjects/{subject}/restriction",
        form={"action": "set", "csrf": "not-the-token"},
        max_redirects=0,
    )
    assert wrong.status == 403 and not world.vault.get_subject(subject).restricted


def test_an_idle_session_sends_the_person_back_to_sign_in(page: Page, world: World) -> None:
    sign_in(page, world, "comp")
    page.goto("/console/audit")
    world.clock.advance(minutes=16)  # past the 15-minute idle timeout
    page.goto("/console/audit")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?expired=1$"))
    expect(page.get_by_role("status")).to_contain_text("session has expired")
    shoot(page, "session-expired")
    assert [e for e in events(world, principal="comp") if e.action == "console.session"]


def test_sign_out_ends_the_session(page: Page, world: World) -> None:
    sign_in(page, world, "sec")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    page.goto("/console/keys")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    assert [e for e in events(world, principal="sec") if e.action == "console.sign_out"]


def test_a_ph_only_principal_sees_nothing_of_jp_on_any_page(page: Page, world: World) -> None:
    sign_in(page, world, "ph-everything")
    assert nav_labels(page) == [
        "Subjects",
        "Legal holds",
        "Key destructions",
        "Disposal",
        "Residency",
        "Audit",
        "Keys",
    ]
    jp = _jp_ids(world)
    ph = world.ids["ph_subject"]
    for path in PAGES:
        page.goto(path)
        html = page.content()
        leaked = [i for i in jp if i in html]
        assert leaked == [], f"{path} shows JP ids {leaked}"
        assert "ap-northeast-1" not in html, path
        assert not page.locator("th", has_text=re.compile(r"^JP$")).count(), path
    page.goto("/console/")
    axe_check(page)  # the other pages are checked in test_roles
    page.goto("/console/destructions")
    expect(page.get_by_role("table")).to_contain_text(world.ids["ph_destruction"])
    page.goto("/console/keys")
    expect(page.get_by_role("link", name="Rotate PH…")).to_be_visible()
    expect(page.get_by_role("link", name="Rotate JP…")).to_have_count(0)
    # a JP clinic reference finds nothing; a JP id is refused, readably, and audited
    page.goto("/console/subjects?q=clinic-jp-1")
    expect(page.get_by_role("status")).to_contain_text("No subject")
    page.goto(f"/console/subjects/{world.ids['jp_subject']}")
    expect(page.get_by_role("alert")).to_be_visible()
    shoot(page, "refused")
    axe_check(page)
    assert world.ids["jp_record"] not in page.content()
    page.goto(f"/console/destructions/{world.ids['jp_destruction']}/cancel")
    expect(page.get_by_role("alert")).to_contain_text("not granted")
    expect(page.get_by_role("button", name=re.compile("cancel", re.I))).to_have_count(0)
    forged_region = page.request.get("/console/keys/rotate?region=JP")
    assert forged_region.status == 400
    page.goto(f"/console/subjects?q={ph}")
    expect(page.locator("#restriction-state")).to_be_visible()
    refused = [
        e
        for e in events(world, principal="ph-everything")
        if e.action == "subject.info" and e.outcome.startswith("refused")
    ]
    assert refused
    looked_up = [
        e
        for e in events(world, principal="ph-everything")
        if e.action == "destruction.get" and e.target == world.ids["jp_destruction"]
    ]
    assert looked_up and all(e.outcome.startswith("refused") for e in looked_up)


def test_keyboard_only_sign_in_and_skip_link(page: Page, world: World) -> None:
    page.goto("/console/sign-in")
    assert page.evaluate("document.activeElement.id") == "token"  # focused on arrival
    page.keyboard.type(world.tokens["admin-b"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/$"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused in {"Sign out", "Legal holds"}


def test_no_page_of_the_api_process_loads_from_another_host(page: Page, world: World) -> None:
    # the API reference is served by the process too (tests/api/test_reference_pages.py
    # renders it offline); here: it is there, from this server
    for path in ("/docs", "/redoc"):
        assert page.request.get(f"{world.url}{path}").status == 200
    sign_in(page, world, "comp")
    page.goto("/console/audit")
    # every request of the page (document, script, style) went to the server itself
    assert all(
        url.startswith(world.url)
        for url in page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    )


def test_disabling_a_principal_ends_its_console_sessions(page: Page, world: World) -> None:
    world.tokens["leaver"] = world.vault.principals.add("leaver", ["admin"], None, OPERATOR)[1]
    sign_in(page, world, "leaver")
    page.goto("/console/holds")
    expect(page.get_by_role("heading", level=1)).to_have_text("Legal holds")
    world.vault.principals.disable("leaver", OPERATOR)
    page.goto("/console/holds")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    assert [e.outcome for e in events(world, principal="leaver", action="console.session")] == [
        "revoked"
    ]


def _cookie(page: Page, name: str) -> dict:
    [cookie] = [c for c in page.context.cookies() if c["name"] == name]
    return dict(cookie)


def test_signing_in_again_ends_the_session_the_browser_had(
    page: Page, browser: Browser, world: World
) -> None:
    for name in ("first-desk", "second-desk"):
        world.tokens[name] = world.vault.principals.add(name, ["admin"], None, OPERATOR)[1]
    sign_in(page, world, "first-desk")
    old = _cookie(page, "recvault_console")
    # the sign-in form's double-submit cookie is still set: the form is sent again, by another
    # person at the same browser
    nonce = _cookie(page, "recvault_console_signin")["value"]
    again = page.request.post(
        "/console/sign-in",
        form={"token": world.tokens["second-desk"], "csrf": nonce},
        max_redirects=0,
    )
    assert again.status == 303
    new = _cookie(page, "recvault_console")
    assert new["value"] != old["value"]  # a new session id, never the one the browser had
    page.goto("/console/holds")
    expect(page.get_by_role("banner")).to_contain_text("second-desk")
    # whoever kept the first cookie is sent to sign in
    kept = browser.new_context(base_url=world.url)
    try:
        kept.add_cookies([old])
        holder = kept.new_page()
        holder.goto("/console/holds")
        expect(holder).to_have_url(re.compile(r"/console/sign-in$"))
    finally:
        kept.close()
    ended = events(world, principal="first-desk", action="console.sign_out")
    assert [e.outcome for e in ended] == ["replaced"]
    assert not events(world, principal="second-desk", action="console.sign_out")


def test_the_browser_sends_no_referrer_from_the_console(page: Page, world: World) -> None:
    """A console address names subjects; the browser is told to pass it on to nobody."""
    sent: dict[str, str | None] = {}
    page.on("request", lambda r: sent.setdefault(r.url, r.headers.get("referer")))
    sign_in(page, world, "comp")
    page.goto(f"/console/audit?subject_id={world.ids['ph_subject']}")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Residency").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Residency")
    followed = [url for url in sent if "/console/residency" in url]
    assert followed and any(url.endswith("/console/static/console.css") for url in sent)
    assert {url: ref for url, ref in sent.items() if ref} == {}
