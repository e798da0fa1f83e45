"""Vault tokens for the long run: where a token comes from, renewal, logging in again.

A ``TokenSource`` says how recvault gets a token: one given at start
(``GivenToken``), a file another program keeps fresh (``TokenFile``, e.g. a
Vault Agent sink), or an AppRole login (``AppRoleLogin``). ``VaultAuth``
keeps the token alive for a ``Transport``:

- before each call it checks, under a lock, whether the token is due: at two
  thirds of its TTL a renewable token is renewed; when renewal fails, or the
  renewed TTL comes back short because the token's maximum TTL is near, an
  AppRole logs in again. A changed token file is read again.
- a call answered 403 asks ``recover``: if the token no longer looks itself up,
  it is dead (revoked, expired while the process was idle) and a fresh one is
  obtained for one retry; if it still does, the 403 was a real policy refusal.

No background thread: a token is only needed when a call is made, the check
is a clock comparison and a ``stat`` of the token file, and nothing has to be
stopped at shutdown or survive a ``fork``. An idle process lets its token
lapse; its next call logs in again (AppRole) or reads the file again.
"""

from __future__ import annotations

import abc
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keys.base import KeyAccessDenied, KeyError_
from keys.vault_transit import Send
from vault.errors import VaultError
from vault.settings.files import read_secret_file

log = logging.getLogger("recvault.keys")

#: renew (or log in again) once this fraction of a token's TTL has passed
RENEW_AT = 2 / 3
#: a renewal that grants less than this fraction of the first TTL means the
#: token's maximum TTL is near: log in again instead of renewing further
SHORT_RENEWAL = 1 / 2
#: after a refresh that failed or could not renew, while the token is still valid,
#: wait this long before trying again
RETRY_REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class Lease:
    """A token and what the server said of it: TTL in seconds (0: never expires)."""

    token: str
    ttl: float
    renewable: bool


def _lease_from_auth(auth: dict[str, Any]) -> Lease:
    token = auth.get("client_token")
    if not token:
        raise KeyAccessDenied("the key service issued no token")
    return Lease(str(token), float(auth.get("lease_duration") or 0), bool(auth.get("renewable")))


def look_up(send: Send, token: str) -> Lease:
    """What the server says of ``token`` (``auth/token/lookup-self``)."""
    data = send("auth.lookup", "get", "/v1/auth/token/lookup-self", token=token).get("data") or {}
    return Lease(token, float(data.get("ttl") or 0), bool(data.get("renewable")))


class TokenSource(abc.ABC):
    """Where a token comes from."""

    #: a fresh token can be had without an operator (AppRole)
    can_log_in: bool = False

    @abc.abstractmethod
    def obtain(self, send: Send) -> Lease:
        """A token and its lease, from the source."""

    def changed(self) -> bool:
        """A newer token is waiting in the source (a token file was rewritten)."""
        return False


class GivenToken(TokenSource):
    """A token given once (environment variable, argument); renewed if renewable.

    ``look_up=False`` skips the lookup (root tokens of bootstrap: never renewed).
    """

    def __init__(self, token: str, *, look_up: bool = True) -> None:
        self._token = token
        self._look_up = look_up

    def obtain(self, send: Send) -> Lease:
        if not self._look_up:
            return Lease(self._token, 0, False)
        try:
            return look_up(send, self._token)
        except KeyAccessDenied:
            # No lookup-self grant: use it as it is; a dead token shows on the call itself.
            return Lease(self._token, 0, False)


class TokenFile(GivenToken):
    """A token in a file that another program rewrites (Vault Agent sink, orchestrator).

    The file is read again whenever its size, modification time or inode change.
    """

    def __init__(self, path: str, what: str = "token_file") -> None:
        super().__init__("")
        self._path = path
        self._what = what
        self._seen: tuple[int, int, int] | None = None

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def changed(self) -> bool:
        signature = self._signature()
        return signature is not None and signature != self._seen

    def obtain(self, send: Send) -> Lease:
        self._seen = self._signature()
        self._token = read_secret_file(self._path, self._what)
        return super().obtain(send)


class AppRoleLogin(TokenSource):
    """AppRole: role id and secret id (read from their files at each login), then a token."""

    can_log_in = True

    def __init__(
        self,
        role_id: Callable[[], str],
        secret_id: Callable[[], str],
        mount: str = "approle",
    ) -> None:
        self._role_id = role_id
        self._secret_id = secret_id
        self._path = f"/v1/auth/{mount.strip('/')}/login"

    @classmethod
    def from_files(
        cls, role_id_file: str, secret_id_file: str, mount: str = "approle"
    ) -> AppRoleLogin:
        return cls(
            lambda: read_secret_file(role_id_file, "role_id_file"),
            lambda: read_secret_file(secret_id_file, "secret_id_file"),
            mount,
        )

    def obtain(self, send: Send) -> Lease:
        credentials = {"role_id": self._role_id(), "secret_id": self._secret_id()}
        try:
            body = send("auth.login", "post", self._path, credentials)
        except KeyError_:
            # A wrong role or secret id is answered with 400, not 403.
            raise KeyAccessDenied("the key service refused the AppRole credentials") from None
        return _lease_from_auth(body.get("auth") or {})


class VaultAuth:
    """The token a ``Transport`` sends, kept alive (see the module docstring).

    Thread-safe; one instance may serve several transports to the same server
    (the shards of a region), so they share one login.
    """

    def __init__(self, source: TokenSource, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._lease: Lease | None = None
        self._first_ttl = 0.0
        self._capped = False
        self._expires_at = math.inf
        self._refresh_at = math.inf
        #: logins (or token reads) and renewals so far, for tests and logs
        self.logins = 0
        self.renewals = 0

    def token(self, send: Send) -> str:
        """The token for the next call: obtained, renewed or replaced first when due."""
        lease = self._lease
        if lease is not None and self._clock() < self._refresh_at and not self._source.changed():
            return lease.token
        with self._lock:
            if self._lease is None or self._source.changed():
                return self._obtain(send).token
            if self._clock() >= self._refresh_at:
                self._refresh(send)
            assert self._lease is not None
            return self._lease.token

    def recover(self, send: Send, used: str) -> bool:
        """After a 403 with token ``used``: True when a retry with a new token is worth it."""
        with self._lock:
            if self._lease is None or self._lease.token != used:
                return True  # another thread replaced it already
            try:
                look_up(send, used)
            except KeyAccessDenied:
                pass  # the token itself is dead
            except KeyError_:
                return False
            else:
                return False  # a live token: the policy refused the operation
            if not (self._source.can_log_in or self._source.changed()):
                log.warning("vault token refused and no way to obtain another")
                return False
            log.info("vault token refused; obtaining a new one")
            return self._obtain(send).token != used

    def _obtain(self, send: Send) -> Lease:
        started = self._clock()
        lease = self._source.obtain(send)
        self.logins += 1
        self._first_ttl = lease.ttl
        self._capped = False
        self._set(lease, started)
        return lease

    def _set(self, lease: Lease, started: float) -> None:
        self._lease = lease
        if lease.ttl <= 0:
            self._expires_at = self._refresh_at = math.inf
        else:
            self._expires_at = started + lease.ttl
            self._refresh_at = started + lease.ttl * RENEW_AT

    def _refresh(self, send: Send) -> None:
        """Renew, or log in again; keep a still valid token when the server cannot be reached."""
        assert self._lease is not None
        started = self._clock()
        try:
            if self._lease.renewable and not (self._capped and self._source.can_log_in):
                renewed = self._renew(send, self._lease.token)
                if renewed is not None:
                    self.renewals += 1
                    # granted less than asked: the maximum TTL caps it, the next refresh logs in
                    self._capped = renewed.ttl < self._first_ttl
                    self._set(renewed, started)
                    return
            if self._source.can_log_in:
                self._obtain(send)
                return
            # Not renewed and no way to log in: use it until it is refused, trying again soon.
            self._retry_refresh_soon()
        except VaultError as exc:
            if self._clock() >= self._expires_at:
                raise
            # The token still works: keep it (a refused login must not fail calls it could serve).
            log.warning("vault token refresh failed (%s); trying again soon", exc.code)
            self._retry_refresh_soon()

    def _retry_refresh_soon(self) -> None:
        now = self._clock()
        if now < self._expires_at:
            self._refresh_at = min(now + RETRY_REFRESH_SECONDS, self._expires_at)
        else:
            self._refresh_at = math.inf  # expired: the next 403 goes through ``recover``

    def _renew(self, send: Send, token: str) -> Lease | None:
        """A renewed lease, or None when renewal failed or the maximum TTL is near."""
        try:
            body = send("auth.renew", "post", "/v1/auth/token/renew-self", {}, token=token)
            lease = _lease_from_auth(body.get("auth") or {})
        except VaultError as exc:
            # OpenBao answers a renewal past the maximum TTL with 500 ("past the max TTL,
            # cannot renew"), so any failure counts as refused; a server that is really
            # down fails the login that follows too, and ``_refresh`` handles that.
            log.info("vault token renewal refused (%s)", exc.code)
            return None
        if self._source.can_log_in and lease.ttl < self._first_ttl * SHORT_RENEWAL:
            log.info("vault token near its maximum TTL; logging in again")
            return None
        return lease
