"""The console in a real browser: one API server for the package, one Chromium per module.

The server is the real app (``create_app``) under uvicorn on a loopback port,
with a vault on SQLite, local keys and local stores, and a clock that moves only
when a test moves it (waiting periods, retention and session timeouts). The
browser is Debian's Chromium driven by Playwright; every request it makes is
checked to stay on 127.0.0.1, and anything else is aborted and reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

from api.app import create_app
from tests.api.conftest import OPERATOR, Served, api_settings
from tests.fixtures.clock import FakeClock
from vault import RecordVault
from vault.metadata.migrate import upgrade

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REFUSED_STATUS = "Failed to load resource: the server responded with a status of 4"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
ALL = ["service", "admin", "security", "compliance", "dpo"]

#: principal → (roles, regions); two admins, since a hold is released by another admin
PRINCIPALS: dict[str, tuple[list[str], list[str] | None]] = {
    "svc": (["service"], None),
    "admin-a": (["admin"], None),
    "admin-b": (["admin"], None),
    "sec": (["security"], None),
    "comp": (["compliance"], None),
    "dpo": (["dpo"], None),
    "ph-everything": (ALL, ["PH"]),
}


@dataclass
class World:
    vault: RecordVault
    url: str
    clock: FakeClock
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


def _executed_destruction(vault: RecordVault, clock: FakeClock) -> str:
    """A subject erased to the end (approved, waited out, swept): its certificate exists."""
    gone = vault.create_subject("clinic-jp-shredded", "JP", actor=OPERATOR)
    decision = vault.request_erasure(gone.id, actor=OPERATOR)
    clock.advance(days=31)
    vault.approve_disposal(vault.plan_disposal(actor=OPERATOR), actor=OPERATOR)
    vault.sweep(actor=OPERATOR)
    [done] = [d for d in vault.list_destructions(actor=OPERATOR) if d.state == "done"]
    assert done.id == decision.destruction_id
    return done.id


def _seed(vault: RecordVault, clock: FakeClock) -> dict[str, str]:
    ids: dict[str, str] = {"jp_executed": _executed_destruction(vault, clock)}
    for region in ("JP", "PH"):
        tag = region.lower()
        subject = vault.create_subject(f"clinic-{tag}-1", region, actor=OPERATOR)
        record = vault.put_record(subject.id, "xray", b"scan " * 100, actor=OPERATOR)
        vault.update_record(record.id, b"scan v2", actor=OPERATOR)
        ids[f"{tag}_subject"], ids[f"{tag}_record"] = subject.id, record.id
        # due for disposal at once ('usage' is kept one second here), approved in review mode
        due = vault.create_subject(f"clinic-{tag}-due", region, actor=OPERATOR)
        vault.put_record(due.id, "usage", b"log", actor=OPERATOR)
        ids[f"{tag}_due"] = due.id  # all its records may go: the plan lists the subject
        # an erasure request on a subject without records: its key waits for destruction
        gone = vault.create_subject(f"clinic-{tag}-erase", region, actor=OPERATOR)
        decision = vault.request_erasure(gone.id, actor=OPERATOR)
        assert decision.destruction_id
        ids[f"{tag}_destruction"] = decision.destruction_id
        ids[f"{tag}_erase_subject"] = gone.id
    clock.advance(minutes=1)
    return ids


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{home / 'meta.db'}"
    settings = api_settings(
        home,
        url,
        retention={"default": "P10Y", "categories": {"usage": "PT1S"}},
        destruction={"review": True, "waiting_period": "P30D"},
    )
    upgrade(url)
    clock = FakeClock()
    vault = RecordVault.from_settings(settings, clock=clock)
    served = Served(create_app(vault))
    served.start()
    world = World(vault, served.url, clock)
    for name, (roles, regions) in PRINCIPALS.items():
        world.tokens[name] = vault.principals.add(name, roles, regions, OPERATOR)[1]
    world.ids = _seed(vault, clock)
    yield world
    served.stop()
    vault.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


class Offsite:
    """Every request the page made; those not to 127.0.0.1 are aborted and kept here."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.refused: list[str] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        self.seen.append(url)
        if urlsplit(url).hostname != "127.0.0.1":
            self.refused.append(url)
            route.abort()
            return
        route.continue_()


@pytest.fixture
def offsite() -> Offsite:
    return Offsite()


@pytest.fixture
def page(browser: Browser, offsite: Offsite, world: World) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, base_url=world.url)
    context.route("**/*", offsite.route)
    opened = context.new_page()
    errors: list[str] = []
    # refusals answer 4xx on purpose; anything else logged as an error (a CSP block) fails
    opened.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith(REFUSED_STATUS)
            else None
        ),
    )
    yield opened
    context.close()
    assert offsite.refused == [], f"requests left 127.0.0.1: {offsite.refused}"
    assert offsite.seen, "the test made no request through the checked route"
    assert errors == [], f"the browser reported errors (CSP?): {errors}"


def sign_in(page: Page, world: World, name: str) -> None:
    page.goto("/console/sign-in")
    page.get_by_label("Token").fill(world.tokens[name])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/$"))


def nav_labels(page: Page) -> list[str]:
    return page.get_by_role("navigation", name="Pages").get_by_role("link").all_inner_texts()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def events(world: World, **query: Any) -> list[Any]:
    return list(world.vault.audit_events(**query))


def axe_check(page: Page) -> None:
    """axe-core on the current page: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"
