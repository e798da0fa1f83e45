"""The HTTP layer to OpenBao / Vault Transit and its error translation.

``Transport`` is one hvac client with the call counter and timing shared by
``TransitKeyProvider`` and ``TransitAdmin``. Every failure of the key service
becomes a recvault error in one place: ``map_transit_error``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import hvac
import hvac.exceptions
import requests

from keys.base import (
    KeyAccessDenied,
    KeyError_,
    KeyNotFound,
    KeyUnavailable,
    KeyVersionRetired,
)
from vault.errors import IntegrityError, VaultError

CallObserver = Callable[[str, float], None]


class Send(Protocol):
    """``Transport.send``: one call made with ``token`` (or none)."""

    def __call__(
        self,
        op: str,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> dict[str, Any]: ...


_NOT_FOUND_MARKERS = ("encryption key not found", "no existing key named", "not found")
_RETIRED_MARKERS = ("disallowed by policy (too old)",)
_INTEGRITY_MARKERS = ("invalid ciphertext", "message authentication failed")


def map_transit_error(error: BaseException | str, key_name: str = "") -> VaultError:
    """Turn an hvac/requests exception, or a per-item batch error message, into a recvault error.

    Transit answers a destroyed key exactly like one that never existed; the
    metadata DB records destructions, and the records layer answers "erased".
    """
    if isinstance(error, requests.exceptions.RequestException):
        return KeyUnavailable(f"key service unreachable: {type(error).__name__}")
    if isinstance(error, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
        return KeyAccessDenied("the key service refused this credential for the operation")
    if isinstance(
        error,
        hvac.exceptions.VaultDown
        | hvac.exceptions.InternalServerError
        | hvac.exceptions.BadGateway
        | hvac.exceptions.VaultNotInitialized
        | hvac.exceptions.RateLimitExceeded,
    ):
        return KeyUnavailable(f"key service not serving: {type(error).__name__}")
    if isinstance(error, hvac.exceptions.InvalidPath):
        message = "not found"
    elif isinstance(error, hvac.exceptions.VaultError):
        message = (
            ", ".join(error.errors) if error.errors else str(error.args[0] if error.args else "")
        )
        if isinstance(error, hvac.exceptions.UnexpectedError):
            return KeyError_(f"unexpected answer from the key service: {message[:200]}")
    elif isinstance(error, str):
        message = error
    else:
        return KeyError_(f"key service call failed: {type(error).__name__}")

    lowered = message.lower()
    if any(marker in lowered for marker in _RETIRED_MARKERS):
        return KeyVersionRetired(
            f"wrapped DEK of {key_name} is below its minimum decryption version"
        )
    if any(marker in lowered for marker in _INTEGRITY_MARKERS):
        return IntegrityError(f"wrapped DEK does not authenticate under {key_name}")
    if any(marker in lowered for marker in _NOT_FOUND_MARKERS):
        return KeyNotFound(f"no subject key {key_name}")
    return KeyError_(f"key service refused the request: {message[:200]}")


def _session(
    addr: str, verify: bool | str, client_cert: tuple[str, str] | None
) -> requests.Session:
    """A session that read the proxy and CA environment once, at construction.

    requests otherwise reads the environment on every call (proxy variables,
    ``no_proxy`` matching, ``REQUESTS_CA_BUNDLE``, ``.netrc``): ~0.1-0.2 ms of
    CPU per Transit call here, a tenth of a single call's round trip
    (docs/benchmarks.md, Keys). The variables keep their meaning; they are
    read when the provider is built, as the rest of the configuration is.
    TLS settings go on the session and to hvac alike: hvac prefers a
    session's ``verify`` and ``cert`` to its own arguments, but only when
    they are truthy.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies = dict(requests.utils.get_environ_proxies(addr))
    if verify is True:
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.verify = verify
    session.cert = client_cert
    return session


class Authenticator(Protocol):
    """What ``Transport`` needs of ``keys.transit.auth.VaultAuth``."""

    def token(self, send: Send) -> str: ...

    def recover(self, send: Send, used: str) -> bool: ...


class Transport:
    """One hvac client plus the call counter and timing shared by provider and admin.

    The token is not the hvac client's: each call carries the one ``auth`` hands
    out, so a 403 can be told apart by the token that met it (``VaultAuth.recover``).
    ``calls`` and ``on_call`` count Transit and admin calls; ``auth_calls`` the
    logins, renewals and lookups made to keep the token alive.
    """

    def __init__(
        self,
        addr: str,
        *,
        auth: Authenticator,
        namespace: str | None,
        verify: bool | str,
        client_cert: tuple[str, str] | None,
        timeout: float,
        on_call: CallObserver | None,
    ) -> None:
        session = _session(addr, verify, client_cert)
        self.client = hvac.Client(
            url=addr,
            # never hvac's own token (nor VAULT_TOKEN, ~/.vault-token): each call sends auth's
            token="",
            namespace=namespace,
            # hvac takes a session's verify and cert when they are truthy, these otherwise
            verify=session.verify,
            cert=session.cert,
            timeout=timeout,
            session=session,
        )
        self.auth = auth
        self.on_call = on_call
        self.calls = 0
        self.auth_calls = 0
        self._lock = threading.Lock()

    def request(
        self,
        op: str,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        key_name: str = "",
        batch: bool = False,
    ) -> dict[str, Any]:
        """One authenticated call; a 403 met by a dead token is retried once with a new one.

        With ``batch``, a 400 carrying ``batch_results`` is returned.
        """
        token = self.auth.token(self.send)
        try:
            return self._timed(op, method, path, payload, token, key_name, batch)
        except KeyAccessDenied:
            if not self.auth.recover(self.send, token):
                raise
        return self._timed(op, method, path, payload, self.auth.token(self.send), key_name, batch)

    def unauthenticated(self, op: str, method: str, path: str) -> dict[str, Any]:
        """A counted call that needs no token (``sys/health``)."""
        return self._timed(op, method, path, None, None, "", False)

    def send(
        self,
        op: str,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """One call for keeping the token (login, renew, lookup) or an unauthenticated one."""
        with self._lock:
            self.auth_calls += 1
        return self._http(method, path, payload, token, "", False)

    def _timed(
        self,
        op: str,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        token: str | None,
        key_name: str,
        batch: bool,
    ) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
        started = time.perf_counter()
        try:
            return self._http(method, path, payload, token, key_name, batch)
        finally:
            if self.on_call is not None:
                self.on_call(op, time.perf_counter() - started)

    def _http(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        token: str | None,
        key_name: str,
        batch: bool,
    ) -> dict[str, Any]:
        headers = {"X-Vault-Token": token} if token else None
        adapter = self.client.adapter
        try:
            if method == "post":
                response = adapter.post(path, json=payload, headers=headers)
            elif method == "get":
                response = adapter.get(path, headers=headers)
            elif method == "list":
                response = adapter.list(path, headers=headers)
            elif method == "delete":
                response = adapter.delete(path, headers=headers)
            else:  # pragma: no cover - programming error
                raise ValueError(method)
        except hvac.exceptions.InvalidRequest as exc:
            body = exc.json if isinstance(exc.json, dict) else None
            if batch and body is not None and "batch_results" in (body.get("data") or {}):
                return body
            raise map_transit_error(exc, key_name) from None
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
            raise map_transit_error(exc, key_name) from None
        return response if isinstance(response, dict) else {}
