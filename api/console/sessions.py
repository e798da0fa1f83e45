"""Console sessions: kept on the server, named by a random cookie, ended by idleness or age.

``start_session`` is the one way a person becomes signed in, whatever proved
who they are (a recvault token today, single sign-on tomorrow): it takes the
``Actor`` the proof established and returns the cookie to set. The cookie
carries only a random name; the store keeps a hash of it, the actor, and the
CSRF token that every state-changing request must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from vault.domain import Actor

#: the session cookie (path /console, HttpOnly, SameSite=Strict, Secure over TLS)
COOKIE = "recvault_console"
#: the cookie and form field that protect the sign-in form itself (double submit)
SIGN_IN_COOKIE = "recvault_console_signin"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


#: how long a single sign-on session's grants count when the provider names no expiry
DEFAULT_RENEWAL = timedelta(minutes=5)


@dataclass(frozen=True)
class Renewal:
    """Single sign-on: when a session's grants lapse (its access token's expiry), and the
    refresh token that renews them at the provider ('' if it gave none: the session ends)."""

    due: datetime
    refresh_token: str = ""

    @classmethod
    def after(cls, now: datetime, lifetime: int | None, refresh_token: str | None) -> Renewal:
        """Due when an access token of ``lifetime`` seconds (if the provider said) expires."""
        lasts = timedelta(seconds=lifetime) if lifetime else DEFAULT_RENEWAL
        return cls(now + lasts, refresh_token or "")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def session_ref(cookie: str | None) -> str:
    """What names the session of ``cookie`` without granting it ('' for no cookie).

    The store's key for it, a hash: it may travel where the cookie itself must not,
    such as the pending single sign-on (``api.oidc_login``), to end that session later.
    """
    return _digest(cookie) if cookie else ""


@dataclass(frozen=True)
class ConsoleSession:
    actor: Actor
    csrf: str
    method: str  # how the person proved who they are: "token", "oidc"
    started_at: datetime
    last_seen: datetime
    #: the SHA-256 of the sign-in token (as the database keeps it): the principal is
    #: checked again on every request, so disabling it ends its sessions at once
    credential: str = ""
    #: single sign-on: from ``renewal.due`` on, the next request renews the grants first
    renewal: Renewal | None = None

    def csrf_ok(self, offered: str | None) -> bool:
        return bool(offered) and hmac.compare_digest(self.csrf, str(offered))


class Expired(Exception):
    """The session existed but timed out (the person is told so on the sign-in page)."""

    def __init__(self, session: ConsoleSession) -> None:
        super().__init__("session expired")
        self.session = session


class SessionStore:
    """Sessions of this API process, in memory, bounded by the two timeouts.

    In memory on purpose: a restart signs everyone out, and nothing that grants
    access outlives the process in a database or a backup. Replicas behind a
    load balancer need sticky sessions for the console (ADR 0007).
    """

    def __init__(self, clock: Callable[[], datetime], idle: timedelta, absolute: timedelta) -> None:
        self.clock = clock
        self.idle = idle
        self.absolute = absolute
        self._sessions: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def start(
        self,
        actor: Actor,
        method: str,
        credential: str = "",
        renewal: Renewal | None = None,
    ) -> tuple[str, ConsoleSession]:
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        session = ConsoleSession(
            actor,
            secrets.token_urlsafe(32),
            method,
            now,
            now,
            credential,
            renewal,
        )
        with self._lock:
            self._drop_expired(now)
            self._sessions[_digest(cookie)] = session
        return cookie, session

    def get(self, cookie: str | None) -> ConsoleSession | None:
        """The live session of ``cookie``, its idle clock restarted; ``Expired`` if timed out."""
        if not cookie:
            return None
        key = _digest(cookie)
        now = self.clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[key]
                raise Expired(session)
            session = replace(session, last_seen=now)
            self._sessions[key] = session
            return session

    def renewed(self, cookie: str, actor: Actor, renewal: Renewal) -> ConsoleSession | None:
        """The session of ``cookie`` with the grants a renewal at the provider gave."""
        key = _digest(cookie)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            session = replace(session, actor=actor, renewal=renewal)
            self._sessions[key] = session
            return session

    def end(self, cookie: str | None) -> ConsoleSession | None:
        if not cookie:
            return None
        with self._lock:
            return self._sessions.pop(_digest(cookie), None)

    def end_replaced(self, refs: Iterable[str]) -> list[ConsoleSession]:
        """End the sessions ``refs`` name (``session_ref``) as a new sign-in replaces them.

        Returns those that were still live (to audit); unknown or timed-out ones end silently.
        """
        now = self.clock()
        ended: list[ConsoleSession] = []
        with self._lock:
            for ref in set(refs) - {""}:
                session = self._sessions.pop(ref, None)
                if session is not None and not self._expired(session, now):
                    ended.append(session)
        return ended

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, session: ConsoleSession, now: datetime) -> bool:
        return now - session.last_seen >= self.idle or now - session.started_at >= self.absolute

    def _drop_expired(self, now: datetime) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


def start_session(
    store: SessionStore,
    actor: Actor,
    method: str = "token",
    credential: str = "",
    renewal: Renewal | None = None,
) -> str:
    """Sign ``actor`` in; return the cookie value to set (see ``api.console.web.signed_in``).

    ``credential``: for a recvault token, its SHA-256, so that every request
    checks the principal is still enabled. ``renewal``: for single sign-on,
    when the grants are renewed at the provider (``Console.renew``), or the session ends.
    """
    cookie, _ = store.start(actor, method, credential, renewal)
    return cookie
