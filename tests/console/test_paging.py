"""Console lists a page at a time: the page size said, Next page through every row once, a
tampered cursor a readable refusal, and a PH-only principal never shown a JP row.

The rows are seeded through the library (a few per region); the pages are asked for
with ``limit=3`` so a handful of rows makes several pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.api.conftest import OPERATOR
from tests.console.conftest import World, axe_check, shoot, sign_in
from vault.domain import Actor

#: one worker runs the console modules: one server, one browser at a time
pytestmark = pytest.mark.xdist_group("console")

LIMIT = 3
PER_REGION = 4
EVERY_REGION = Actor("paging-check")
PH_ONLY = Actor("paging-check", regions=frozenset({"PH"}))
JP_LOCATION = "ap-northeast-1"


@dataclass
class Crowd:
    """What this module seeded: ids by region, and the PH subject with many records."""

    ids: dict[str, list[str]]
    ph_subject: str
    jp_subject: str


@pytest.fixture(scope="module")
def crowd(world: World) -> Iterator[Crowd]:
    vault = world.vault
    ids: dict[str, list[str]] = {"JP": [], "PH": []}
    subjects: dict[str, str] = {}
    holds = []
    for region in ("JP", "PH"):
        tag = region.lower()
        many = vault.create_subject(f"clinic-{tag}-paging", region, actor=OPERATOR)
        subjects[region] = many.id
        ids[region].append(many.id)
        for n in range(PER_REGION + 1):
            record = vault.put_record(many.id, "xray", b"page %d" % n, actor=OPERATOR)
            ids[region].append(record.id)
        for n in range(PER_REGION):
            hold = vault.place_hold(
                "subject", many.id, f"PAGING-{region}-{n}", "paging", actor=OPERATOR
            )
            holds.append(hold)
            ids[region].append(hold.id)
            # a subject whose erasure was asked: a destruction waits
            gone = vault.create_subject(f"clinic-{tag}-paging-gone-{n}", region, actor=OPERATOR)
            decision = vault.request_erasure(gone.id, actor=OPERATOR)
            ids[region] += [gone.id, str(decision.destruction_id)]
    world.clock.advance(minutes=1)
    yield Crowd(ids, subjects["PH"], subjects["JP"])
    # the other modules expect only their own active holds (a test here released one)
    active = {h.id for h in vault.list_holds(active_only=True, actor=OPERATOR)}
    for hold in holds:
        if hold.id in active:
            vault.release_hold(hold.id, "paging tests done", actor="paging-teardown")


@dataclass(frozen=True)
class Listed:
    """A paged console list: who sees all of it, where, how its rows are keyed, the truth."""

    principal: str
    path: str
    rows: str  # a locator of the rows' key cells
    truth: Callable[[World, Actor], list[str]]
    ordered: bool = True  # pages in the same order as the library's whole list


LISTS = {
    "holds": Listed(
        "admin-a",
        "/console/holds?case_ref=paging-&show=active",  # the filter ignores case
        "#holds tbody tr > td:nth-child(1)",
        lambda w, a: [
            h.case_ref
            for h in w.vault.list_holds(active_only=True, actor=a)
            if h.case_ref.startswith("PAGING-")
        ],
    ),
    "destructions": Listed(
        "sec",
        "/console/destructions",
        "#destructions tbody tr > td:nth-child(1)",
        lambda w, a: [d.id for d in w.vault.list_destructions(actor=a)],
    ),
    "disposal": Listed(
        "comp",
        "/console/disposal",
        "#disposal-plan tbody tr > td:nth-child(2)",  # review mode: the tick box comes first
        lambda w, a: [i.id for i in w.vault.plan_disposal(actor=a).items],
        ordered=False,
    ),
    "audit": Listed(
        "comp",
        "/console/audit?run=1&action=hold.place",
        "#audit-events tbody tr > td:nth-child(1)",
        lambda w, a: [str(e.seq) for e in w.vault.audit_events(action="hold.place", actor=a)],
    ),
}


def with_limit(path: str, limit: int = LIMIT) -> str:
    return f"{path}{'&' if '?' in path else '?'}limit={limit}"


def follow(page: Page, link: Locator) -> None:
    """Click a link and wait for the page it leads to."""
    previous = page.url
    link.click()
    page.wait_for_url(lambda url: url != previous)


def walk(
    page: Page,
    start: str,
    rows: str,
    pages_of: str,
    each: Callable[[Page], None] = lambda _: None,
) -> tuple[list[str], list[str]]:
    """The key of every row, following Next page to the end (``each`` checks every page);
    and each page's address."""
    page.goto(start)
    keys: list[str] = []
    addresses: list[str] = []
    nav = page.get_by_role("navigation", name=f"Pages of {pages_of}")
    while True:
        addresses.append(page.url)
        expect(nav).to_contain_text(f"up to {LIMIT} per page")
        expect(nav.get_by_role("link", name="First page")).to_have_count(
            0 if len(addresses) == 1 else 1
        )
        each(page)
        shown = [text.strip() for text in page.locator(rows).all_inner_texts()]
        assert 0 < len(shown) <= LIMIT
        keys += shown
        following = nav.get_by_role("link", name="Next page")
        if not following.count():
            expect(nav).to_contain_text("This is the last page")
            return keys, addresses
        assert len(shown) == LIMIT  # only the last page is short
        follow(page, following)


def tamper(address: str, param: str = "cursor") -> str:
    """The address with one character of its cursor changed."""
    cursor = re.search(rf"[?&]{param}=([^&]+)", address)
    assert cursor, address
    value = cursor.group(1)
    changed = value[:12] + ("B" if value[12] != "B" else "C") + value[13:]
    return address.replace(value, changed)


def expect_cursor_refused(page: Page, address: str) -> None:
    """The page answers 400 with the readable message (asked without rendering the page)."""
    response = page.request.get(address, max_redirects=0)
    assert response.status == 400, address
    html = response.text()
    assert 'role="alert">The cursor is not one this list gave out' in html
    assert "invalid-cursor" in html and "First page of this list" in html


@pytest.mark.parametrize("name", list(LISTS))
def test_next_page_shows_every_row_once_in_the_api_order(
    page: Page, world: World, crowd: Crowd, name: str
) -> None:
    listed = LISTS[name]
    sign_in(page, world, listed.principal)
    keys, addresses = walk(page, with_limit(listed.path), listed.rows, _label(name))
    truth = listed.truth(world, EVERY_REGION)
    assert len(truth) > 2 * LIMIT  # several pages
    assert len(keys) == len(set(keys)), "a row shown twice"
    assert (keys if listed.ordered else sorted(keys)) == (
        truth if listed.ordered else sorted(truth)
    )
    # a later page: First and Next links, checked by axe
    page.goto(addresses[1])
    shoot(page, f"paging-{name}")
    axe_check(page)
    page.get_by_role("navigation", name=f"Pages of {_label(name)}").get_by_role(
        "link", name="First page"
    ).click()
    page.wait_for_url(lambda url: "cursor=" not in url)
    assert page.locator(listed.rows).first.inner_text().strip() == keys[0]
    # a cursor changed by hand: a readable refusal with the way back, not a 500
    expect_cursor_refused(page, tamper(addresses[1]))


def test_a_ph_only_principal_pages_through_ph_rows_only(
    page: Page, world: World, crowd: Crowd
) -> None:
    sign_in(page, world, "ph-everything")
    jp = crowd.ids["JP"] + [v for k, v in world.ids.items() if k.startswith("jp_")]

    def no_jp(page: Page) -> None:
        html = page.content()
        assert [i for i in jp if i in html] == [], f"{page.url} shows JP ids"
        assert JP_LOCATION not in html
        assert not page.locator("td", has_text=re.compile(r"^JP$")).count()

    for name, listed in LISTS.items():
        keys, _ = walk(page, with_limit(listed.path), listed.rows, _label(name), no_jp)
        truth = listed.truth(world, PH_ONLY)
        assert len(truth) > LIMIT, name
        assert sorted(keys) == sorted(truth) and len(keys) == len(set(keys)), name


def _label(name: str) -> str:
    return {
        "holds": "legal holds",
        "destructions": "key destructions",
        "disposal": "plan items",
        "audit": "audit events",
    }[name]


def test_a_subject_pages_its_records_and_its_holds_each_on_its_own(
    page: Page, world: World, crowd: Crowd
) -> None:
    subject = crowd.ph_subject
    sign_in(page, world, "ph-everything")
    start = with_limit(f"/console/subjects/{subject}")
    records, record_pages = walk(page, start, "#records tbody tr > td:nth-child(1)", "records")
    assert records == [r.id for r in world.vault.list_records(subject, actor=PH_ONLY)]
    assert len(records) == PER_REGION + 1 and len(set(records)) == len(records)
    holds, hold_pages = walk(page, start, "#subject-holds li", "active holds")
    case_refs = [text.split(" ")[0] for text in holds]
    active = world.vault.list_holds(active_only=True, actor=PH_ONLY)
    assert case_refs == [h.case_ref for h in active if h.subject_id == subject]
    assert sorted(case_refs) == [f"PAGING-PH-{n}" for n in range(PER_REGION)]
    # the holds' Next page keeps the records' page, and the other way round
    page.goto(record_pages[1])
    page.get_by_role("navigation", name="Pages of active holds").get_by_role(
        "link", name="Next page"
    ).click()
    page.wait_for_url(re.compile("holds_cursor="))
    assert "records_cursor=" in page.url
    axe_check(page)
    expect_cursor_refused(page, tamper(hold_pages[1], "holds_cursor"))
    expect_cursor_refused(page, tamper(record_pages[1], "records_cursor"))
    # the JP subject's records are not this principal's to page
    page.goto(with_limit(f"/console/subjects/{crowd.jp_subject}"))
    expect(page.get_by_role("alert")).to_be_visible()
    assert not [i for i in crowd.ids["JP"] if i != crowd.jp_subject and i in page.content()]


def test_a_cursor_of_another_principal_or_another_list_is_refused(
    page: Page, world: World, crowd: Crowd
) -> None:
    sign_in(page, world, "admin-a")
    page.goto(with_limit(LISTS["holds"].path))
    theirs = str(page.get_by_role("link", name="Next page").get_attribute("href"))
    page.context.clear_cookies()
    sign_in(page, world, "ph-everything")
    expect_cursor_refused(page, theirs)  # bound to admin-a: shows nothing to another
    cursor = theirs.split("cursor=")[1]
    expect_cursor_refused(page, f"/console/destructions?limit={LIMIT}&cursor={cursor}")
    # the same list with another filter is another list
    expect_cursor_refused(page, theirs.replace("show=active", "show=all"))


def test_the_page_size_is_said_and_limit_is_bounded(page: Page, world: World) -> None:
    sign_in(page, world, "comp")
    page.goto("/console/destructions")
    nav = page.get_by_role("navigation", name="Pages of key destructions")
    expect(nav).to_contain_text("up to 50 per page")
    for bad in ("0", "1001", "ten", "-1", "3.5"):
        response = page.request.get(f"/console/destructions?limit={bad}")
        assert response.status == 400, bad
        assert "rows per page (limit) is a whole number from 1 to 1000" in response.text()
    page.goto("/console/audit?run=1&limit=1000")
    expect(page.get_by_role("navigation", name="Pages of audit events")).to_contain_text(
        "up to 1000 per page"
    )
    page.goto("/console/audit?run=1&limit=1")
    expect(page.get_by_role("navigation", name="Pages of audit events")).to_contain_text(
        "1 audit event on this page"
    )
    # a tampered cursor as the browser shows it: the message, and the way back
    page.goto("/console/audit?run=1&limit=1&cursor=AAAAnot-a-cursor")
    expect(page.get_by_role("alert")).to_contain_text("not one this list gave out")
    page.get_by_role("link", name="First page of this list").click()
    expect(page.locator("#audit-events tbody tr")).to_have_count(1)


def test_an_action_returns_to_the_list_page_it_came_from_and_nowhere_else() -> None:
    from api.console.lists import back_to
    from api.console.pages.disposal import _PLAN_QUERY
    from api.console.pages.holds import _LIST_QUERY

    plan = "/console/disposal"
    page = f"{plan}?as_of=2036-01-15&limit=3&cursor=abc&done=1&other=x"
    expected = f"{plan}?as_of=2036-01-15&limit=3&cursor=abc&done=2"
    assert back_to(page, plan, _PLAN_QUERY, "2") == expected
    for elsewhere in ("https://example.org/console/disposal?cursor=a", "/console/holds", ""):
        assert back_to(elsewhere, plan, _PLAN_QUERY, "2") == f"{plan}?done=2"
    holds = "/console/holds?case_ref=PAGING+X&show=all&limit=3&cursor=c1&as_of=x"
    assert back_to(holds, "/console/holds", _LIST_QUERY, "released") == (
        "/console/holds?case_ref=PAGING+X&show=all&limit=3&cursor=c1&done=released"
    )
    for elsewhere in ("//evil.example/console/holds?show=all", "/console/holdsX?show=all"):
        assert back_to(elsewhere, "/console/holds", _LIST_QUERY, "released") == (
            "/console/holds?done=released"
        )


def test_releasing_a_hold_on_a_later_page_stays_on_that_page(
    page: Page, world: World, crowd: Crowd
) -> None:
    sign_in(page, world, "admin-b")
    page.goto(f"/console/holds?case_ref=PAGING-JP&limit={LIMIT}")
    page.get_by_role("navigation", name="Pages of legal holds").get_by_role(
        "link", name="Next page"
    ).click()
    page.wait_for_url(re.compile("cursor="))
    later = page.url
    [first_case] = page.locator("#holds tbody tr td:first-child").first.all_inner_texts()
    page.get_by_label(f"Reason for releasing {first_case}").fill("case closed")
    page.get_by_role("button", name="Release").first.click()
    expect(page.get_by_role("status")).to_contain_text("released")
    assert "cursor=" in page.url and "case_ref=PAGING-JP" in page.url
    assert page.url.split("cursor=")[1].split("&")[0] == later.split("cursor=")[1].split("&")[0]
    released = [h for h in world.vault.list_holds(actor=OPERATOR) if h.case_ref == first_case]
    assert released and not released[0].active
