"""Verified tokens are trusted briefly without a DB lookup; disabling a principal ends that."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from vault.domain import SYSTEM
from vault.errors import Unauthenticated
from vault.metadata import read_scope, session_scope
from vault.principals import VerifiedTokens


def _statements(vault) -> list[str]:
    seen: list[str] = []
    event.listen(vault._ctx.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_verified_token_is_not_looked_up_again(make_vault, sqlite_url):
    vault = make_vault(sqlite_url)
    _, token = vault.principals.add("intake", ["service"], None, SYSTEM)
    seen = _statements(vault)
    first = vault.principals.authenticate(token)
    looked_up = len(seen)
    assert looked_up > 0
    assert vault.principals.authenticate(token) == first
    assert len(seen) == looked_up  # answered from the cache


def test_disabling_a_principal_refuses_its_token_at_once(make_vault, sqlite_url):
    vault = make_vault(sqlite_url)
    _, token = vault.principals.add("intake", ["service"], None, SYSTEM)
    _, other = vault.principals.add("billing", ["service"], None, SYSTEM)
    vault.principals.authenticate(token)
    vault.principals.authenticate(other)
    vault.principals.disable("intake", SYSTEM)
    with pytest.raises(Unauthenticated):
        vault.principals.authenticate(token)
    assert vault.principals.authenticate(other).name == "billing"


def test_wrong_tokens_are_never_cached(make_vault, sqlite_url):
    vault = make_vault(sqlite_url)
    vault.principals.add("intake", ["service"], None, SYSTEM)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            vault.principals.authenticate("rvt_" + "x" * 43)
    assert not vault.principals.verified._entries


def test_entries_expire_and_the_cache_is_bounded():
    now = [100.0]
    cache = VerifiedTokens(ttl=5.0, size=2, clock=lambda: now[0])
    principals = [object(), object(), object()]
    for i, p in enumerate(principals):
        cache.put(f"h{i}", p)  # type: ignore[arg-type]
    assert cache.get("h0") is None  # the least recently used went first
    assert cache.get("h1") is principals[1] and cache.get("h2") is principals[2]
    now[0] += 5.0
    assert cache.get("h1") is None and cache.get("h2") is None


def test_a_read_transaction_does_not_wait_for_the_sqlite_writer(make_vault, sqlite_url):
    vault = make_vault(sqlite_url)
    vault.principals.add("intake", ["service"], None, SYSTEM)
    with session_scope(vault._ctx.engine) as writer:
        writer.execute(text("UPDATE principals SET disabled = disabled"))  # holds the write lock
        with read_scope(vault._ctx.engine) as reader:
            count = reader.execute(text("SELECT count(*) FROM principals")).scalar_one()
    assert count == 1


def test_a_zero_lifetime_caches_nothing():
    cache = VerifiedTokens(ttl=0)
    cache.put("h", object())  # type: ignore[arg-type]
    assert cache.get("h") is None


def test_recently_verified_answers_from_the_cache_only(make_vault, sqlite_url):
    """The API asks this on its event loop: it never touches the DB and never refuses."""
    vault = make_vault(sqlite_url)
    _, token = vault.principals.add("intake", ["service"], None, SYSTEM)
    seen = _statements(vault)
    assert vault.principals.recently_verified(token) is None  # not verified yet
    for wrong in (None, "", "Bearer x", "rvt_" + "x" * 300):
        assert vault.principals.recently_verified(wrong) is None
    assert seen == []
    first = vault.principals.authenticate(token)
    looked_up = len(seen)
    assert vault.principals.recently_verified(token) == first
    assert len(seen) == looked_up
    vault.principals.disable("intake", SYSTEM)
    assert vault.principals.recently_verified(token) is None
