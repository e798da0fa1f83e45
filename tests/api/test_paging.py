"""Cursor paging over HTTP, on SQLite and PostgreSQL: every list of /v1.

Each list holds five rows made through the library (with a clock that does
not move, so sort keys tie and the id must break them). For each list: pages
of two cover the rows in one stable order with ``next`` null on the last
page; a row removed between two pages (released, cancelled, deleted) leaves
no duplicate and no gap among the rows that still exist; a cursor that was
altered, or that belongs to another list or another principal, is a 400
problem (``invalid-cursor``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.conftest import ApiEnv, problem
from vault.domain import Actor, Role

SETUP = Actor("setup", frozenset(Role))
ROWS = 5


@dataclass
class Listing:
    """One paged list: where it is, who may read it, and how to remove its row ``id``."""

    path: str
    roles: list[str]
    params: dict[str, Any]
    remove: Callable[[str], None]
    key: str = "id"


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])]
)
def db_url(request) -> str:
    """SQLite in the default run; PostgreSQL too under ``-m slow`` (the same keyset
    queries; ``tests/api/test_isolation.py`` pages every list on both in the default run)."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def api(make_api, db_url) -> ApiEnv:
    return make_api(db_url, retention={"default": "PT1S"})


def _sql(api: ApiEnv, statement: str, **values: Any) -> None:
    with api.vault._ctx.engine.begin() as conn:
        conn.execute(text(statement), values)


def _records(api: ApiEnv) -> Listing:
    subject = api.vault.create_subject("paging-records", "JP", actor=SETUP)
    for n in range(ROWS):
        api.vault.put_record(subject.id, "photo", b"r%d" % n, actor=SETUP)

    def remove(record_id: str) -> None:
        _sql(api, "DELETE FROM record_versions WHERE record_id = :id", id=record_id)
        _sql(api, "DELETE FROM records WHERE id = :id", id=record_id)

    return Listing(f"/v1/subjects/{subject.id}/records", ["service"], {}, remove)


def _holds(api: ApiEnv) -> Listing:
    subject = api.vault.create_subject("paging-holds", "PH", actor=SETUP)
    for n in range(ROWS):
        api.vault.place_hold("subject", subject.id, f"CASE-{n}", "kept", actor=SETUP)

    def remove(hold_id: str) -> None:
        api.vault.release_hold(hold_id, "case closed", actor=Actor("other", frozenset(Role)))

    return Listing("/v1/holds", ["admin"], {"active_only": "true"}, remove)


def _destructions(api: ApiEnv) -> Listing:
    for n in range(ROWS):
        subject = api.vault.create_subject(f"paging-gone-{n}", "JP", actor=SETUP)
        api.vault.request_erasure(subject.id, actor=SETUP)

    def remove(destruction_id: str) -> None:
        api.vault.cancel_destruction(destruction_id, actor=SETUP)

    return Listing("/v1/keys/destructions", ["security"], {"state": "scheduled"}, remove)


def _audit(api: ApiEnv) -> Listing:
    subject = api.vault.create_subject("paging-audit", "JP", actor=SETUP)
    for n in range(ROWS):
        api.vault.put_record(subject.id, "xray", b"a%d" % n, actor=SETUP)

    def remove(seq: str) -> None:
        _sql(api, "DELETE FROM audit_events WHERE seq = :seq", seq=int(seq))

    return Listing("/v1/audit", ["compliance"], {"action": "record.create"}, remove, key="seq")


def _plan(api: ApiEnv) -> Listing:
    for n in range(ROWS):
        subject = api.vault.create_subject(f"paging-due-{n}", "PH", actor=SETUP)
        api.vault.put_record(subject.id, "photo", b"d%d" % n, actor=SETUP)
    api.clock.advance(seconds=5)

    def remove(subject_id: str) -> None:
        _sql(api, "UPDATE subjects SET state = 'destroyed' WHERE id = :id", id=subject_id)

    return Listing("/v1/retention/plan", ["compliance"], {}, remove)


def _objects(api: ApiEnv) -> Listing:
    subject = api.vault.create_subject("paging-objects", "JP", actor=SETUP)
    for n in range(ROWS):
        api.vault.put_record(subject.id, "photo", b"o%d" % n, actor=SETUP)
    store = api.vault.regions["JP"].store

    def remove(object_key: str) -> None:
        _sql(api, "DELETE FROM record_versions WHERE object_key = :key", key=object_key)
        store.delete(object_key)

    return Listing("/v1/residency/regions/JP/objects", ["compliance"], {}, remove, key="key")


def _keys(api: ApiEnv) -> Listing:
    for n in range(ROWS):
        api.vault.create_subject(f"paging-keys-{n}", "PH", actor=SETUP)
    keys = api.vault.regions["PH"].keys

    def remove(key_name: str) -> None:
        _sql(api, "DELETE FROM subjects WHERE key_name = :name", name=key_name)
        keys.destroy(key_name)

    return Listing("/v1/residency/regions/PH/keys", ["compliance"], {}, remove, key="key")


LISTINGS: dict[str, Callable[[ApiEnv], Listing]] = {
    "residency-objects": _objects,
    "residency-keys": _keys,
    "records": _records,
    "holds": _holds,
    "destructions": _destructions,
    "audit": _audit,
    "plan": _plan,
}


def _page(api: ApiEnv, listing: Listing, headers: dict[str, str], **params: Any) -> Any:
    response = api.client.get(listing.path, params={**listing.params, **params}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"items", "next"}
    return body


def _ids(body: Any, key: str) -> list[str]:
    return [str(item[key]) for item in body["items"]]


def _walk(api: ApiEnv, listing: Listing, headers: dict[str, str], limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        body = _page(api, listing, headers, limit=limit, **({"cursor": cursor} if cursor else {}))
        pages.append(_ids(body, listing.key))
        cursor = body["next"]
        if cursor is None:
            return pages
        assert len(pages) <= ROWS + 1, "the cursors do not come to an end"


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_pages_cover_the_list_once_in_a_stable_order(api: ApiEnv, name: str) -> None:
    listing = LISTINGS[name](api)
    headers = api.auth(f"reader-{name}", listing.roles)
    whole = _ids(_page(api, listing, headers, limit=1000), listing.key)
    assert len(whole) == ROWS and len(set(whole)) == ROWS
    pages = _walk(api, listing, headers, limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == whole
    # a list that ends exactly at a page boundary has no empty page after it
    assert [len(p) for p in _walk(api, listing, headers, limit=ROWS)] == [ROWS]


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_a_row_removed_between_pages_leaves_no_duplicate_and_no_gap(api: ApiEnv, name: str) -> None:
    listing = LISTINGS[name](api)
    headers = api.auth(f"reader-{name}", listing.roles)
    whole = _ids(_page(api, listing, headers, limit=1000), listing.key)
    first = _page(api, listing, headers, limit=2)
    assert _ids(first, listing.key) == whole[:2] and first["next"]
    listing.remove(whole[2])  # the row the next page would have started with
    rest = _page(api, listing, headers, limit=1000, cursor=first["next"])
    assert _ids(rest, listing.key) == whole[3:]
    assert rest["next"] is None


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_a_tampered_or_foreign_cursor_is_a_400_problem(api: ApiEnv, name: str) -> None:
    listing = LISTINGS[name](api)
    headers = api.auth(f"reader-{name}", listing.roles)
    cursor = _page(api, listing, headers, limit=2)["next"]
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    other = api.auth(f"other-{name}", listing.roles)
    foreign_list = "/v1/holds" if listing.path != "/v1/holds" else "/v1/keys/destructions"
    tries = [
        (listing.path, listing.params, flipped, headers),
        (listing.path, listing.params, "not a cursor!", headers),
        (listing.path, listing.params, "A" * 2000, headers),
        (listing.path, listing.params, cursor, other),  # another principal's cursor
        (foreign_list, {}, cursor, api.auth("owner")),  # another list's cursor
    ]
    if name == "audit":  # the same list with other filters
        tries.append((listing.path, {"action": "record.read"}, cursor, headers))
    for path, params, bad, who in tries:
        response = api.client.get(path, params={**params, "cursor": bad}, headers=who)
        assert response.status_code == 400, (path, bad[:20], response.text)
        assert problem(response)["code"] == "invalid-cursor"
    assert _page(api, listing, headers, limit=2, cursor=cursor)["items"]


def test_limit_is_bounded(api: ApiEnv) -> None:
    headers = api.auth("admin", ["admin"])
    for limit in (0, 1001, -1):
        response = api.client.get("/v1/holds", params={"limit": limit}, headers=headers)
        assert response.status_code == 422
        problem(response)


def test_a_residency_section_shows_each_entry_with_its_verdict(make_api, sqlite_url) -> None:
    api = make_api(sqlite_url)
    subject = api.vault.create_subject("paging-stray", "JP", actor=SETUP)
    api.vault.put_record(subject.id, "photo", b"kept", actor=SETUP)
    stray = "JP/00/not-a-record"
    api.vault.regions["JP"].store.put(stray, [b"left behind"])
    headers = api.auth("compliance", ["compliance"])
    body = _page(api, Listing("/v1/residency/regions/JP/objects", [], {}, print), headers)
    verdicts = {e["key"]: (e["verdict"], e["present"], e["expected_region"]) for e in body["items"]}
    assert verdicts[stray] == ("stray_object", True, "")
    kept = [e for e in body["items"] if e["key"] != stray]
    assert [(e["verdict"], e["present"], e["expected_region"]) for e in kept] == [
        ("ok", True, "JP")
    ]
    report = api.client.get("/v1/residency/report", headers=headers).json()["document"]
    assert report["counts"]["stray_object"] == 1
