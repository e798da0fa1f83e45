"""VaultAuth's rules with a fake clock and a scripted key service (no server, no sleeping).

The same behaviour runs against real OpenBao in ``test_transit_auth.py``; here
each rule is pinned down on its own: when to renew, when to log in again,
when to keep a token, when a 403 is worth a retry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keys.base import KeyAccessDenied, KeyUnavailable
from keys.transit.auth import AppRoleLogin, GivenToken, TokenFile, VaultAuth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeVault:
    """Answers login, renew-self and lookup-self as an AppRole with ``ttl``/``max_ttl`` would."""

    def __init__(self, clock: Clock, ttl: float = 30, max_ttl: float = 90) -> None:
        self.clock = clock
        self.ttl, self.max_ttl = ttl, max_ttl
        self.tokens: dict[str, tuple[float, float]] = {}  # token -> (expires, max expires)
        self.issued = 0
        self.calls: list[str] = []
        self.down = False
        self.refuse_login = False
        self.renewals_past_max = 0

    def send(
        self,
        op: str,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        self.calls.append(op)
        if self.down:
            raise KeyUnavailable("down")
        now = self.clock.now
        if op == "auth.login":
            if self.refuse_login:
                raise KeyAccessDenied("refused")
            self.issued += 1
            new = f"t{self.issued}"
            self.tokens[new] = (now + self.ttl, now + self.max_ttl)
            return {"auth": {"client_token": new, "lease_duration": self.ttl, "renewable": True}}
        assert token is not None
        expires, hard = self.tokens.get(token, (0.0, 0.0))
        if expires <= now:
            raise KeyAccessDenied("permission denied")
        if op == "auth.renew":
            if hard <= now:
                self.renewals_past_max += 1
                raise KeyUnavailable("past the max TTL, cannot renew")  # OpenBao: a 500
            granted = min(self.ttl, hard - now)
            self.tokens[token] = (now + granted, hard)
            return {"auth": {"client_token": token, "lease_duration": granted, "renewable": True}}
        if op == "auth.lookup":
            return {"data": {"ttl": expires - now, "renewable": True}}
        raise AssertionError(op)

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def approle_auth(clock: Clock) -> VaultAuth:
    return VaultAuth(AppRoleLogin(lambda: "role", lambda: "secret"), clock=clock)


def run_for(
    clock: Clock, vault: FakeVault, auth: VaultAuth, seconds: float, step: float = 0.5
) -> None:
    """A call every ``step`` seconds: every token handed out must be valid at that moment."""
    end = clock.now + seconds
    while clock.now < end:
        token = auth.token(vault.send)
        assert vault.tokens.get(token, (0.0, 0.0))[0] > clock.now, f"dead token at {clock.now}"
        clock.now += step


def test_renewed_at_two_thirds_then_replaced_near_the_maximum_ttl(clock: Clock) -> None:
    vault = FakeVault(clock, ttl=30, max_ttl=90)
    auth = approle_auth(clock)
    run_for(clock, vault, auth, 300)
    assert auth.renewals >= 6 and auth.logins >= 4
    # a renewal capped by the maximum TTL is followed by a login, never by a refused renewal
    assert vault.renewals_past_max == 0


def test_no_renewal_before_two_thirds(clock: Clock) -> None:
    vault = FakeVault(clock, ttl=30)
    auth = approle_auth(clock)
    auth.token(vault.send)
    clock.now += 19.9
    auth.token(vault.send)
    assert vault.calls == ["auth.login"]
    clock.now += 0.2
    auth.token(vault.send)
    assert vault.calls == ["auth.login", "auth.renew"]


def test_a_token_that_lapsed_while_idle_is_replaced(clock: Clock) -> None:
    vault = FakeVault(clock, ttl=30)
    auth = approle_auth(clock)
    first = auth.token(vault.send)
    clock.now += 45
    second = auth.token(vault.send)
    assert second != first and vault.tokens[second][0] > clock.now


def test_server_down_during_refresh_keeps_the_valid_token(clock: Clock) -> None:
    vault = FakeVault(clock, ttl=30)
    auth = approle_auth(clock)
    first = auth.token(vault.send)
    clock.now += 21
    vault.down = True
    assert auth.token(vault.send) == first  # still valid: used, no error
    vault.down = False
    clock.now += 1.5
    assert auth.token(vault.send) == first
    assert auth.renewals == 1


def test_refused_login_keeps_a_still_valid_token(clock: Clock) -> None:
    vault = FakeVault(clock, ttl=30, max_ttl=30)  # not renewable past 30 s: logins needed
    auth = approle_auth(clock)
    first = auth.token(vault.send)
    clock.now += 21
    vault.refuse_login = True  # e.g. the secret id was rotated and the file not yet replaced
    assert auth.token(vault.send) == first
    clock.now += 10  # expired now: the refusal is the caller's answer
    with pytest.raises(KeyAccessDenied):
        auth.token(vault.send)


def test_recover_replaces_a_revoked_token_once(clock: Clock) -> None:
    vault = FakeVault(clock)
    auth = approle_auth(clock)
    first = auth.token(vault.send)
    vault.revoke(first)
    assert auth.recover(vault.send, first)
    second = auth.token(vault.send)
    assert second != first
    # a second thread that met the same 403 retries with the new token, no new login
    assert auth.recover(vault.send, first)
    assert auth.logins == 2


def test_recover_keeps_a_live_token_on_a_policy_refusal(clock: Clock) -> None:
    vault = FakeVault(clock)
    auth = approle_auth(clock)
    token = auth.token(vault.send)
    assert not auth.recover(vault.send, token)
    assert auth.logins == 1


def test_a_given_token_cannot_be_replaced(clock: Clock) -> None:
    vault = FakeVault(clock)
    vault.tokens["given"] = (clock.now + 30, clock.now + 60)
    auth = VaultAuth(GivenToken("given"), clock=clock)
    assert auth.token(vault.send) == "given"
    vault.revoke("given")
    assert not auth.recover(vault.send, "given")


def test_a_token_file_is_read_again_when_it_changes(clock: Clock, tmp_path: Path) -> None:
    vault = FakeVault(clock)
    vault.tokens["one"] = vault.tokens["two"] = (clock.now + 300, clock.now + 300)
    path = tmp_path / "token"
    path.write_text("one\n")
    auth = VaultAuth(TokenFile(str(path)), clock=clock)
    assert auth.token(vault.send) == "one"
    replacement = tmp_path / "token.new"
    replacement.write_text("two\n")
    replacement.replace(path)
    assert auth.token(vault.send) == "two"
    # revoked and not replaced in the file: no retry
    vault.revoke("two")
    assert not auth.recover(vault.send, "two")
