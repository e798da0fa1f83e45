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
from typing import Any

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


class Transport:
    """One hvac client plus the call counter and timing shared by provider and admin."""

    def __init__(
        self,
        addr: str,
        *,
        token: str | None,
        approle: tuple[str, str] | None,
        namespace: str | None,
        verify: bool | str,
        client_cert: tuple[str, str] | None,
        timeout: float,
        on_call: CallObserver | None,
    ) -> None:
        session = _session(addr, verify, client_cert)
        self.client = hvac.Client(
            url=addr,
            token=token,
            namespace=namespace,
            # hvac takes a session's verify and cert when they are truthy, these otherwise
            verify=session.verify,
            cert=session.cert,
            timeout=timeout,
            session=session,
        )
        self.on_call = on_call
        self.calls = 0
        self._lock = threading.Lock()
        if approle is not None:
            role_id, secret_id = approle
            try:
                body = self.request(
                    "login",
                    "post",
                    "/v1/auth/approle/login",
                    {"role_id": role_id, "secret_id": secret_id},
                )
            except KeyError_:
                # A wrong role or secret id is answered with 400, not 403.
                raise KeyAccessDenied("the key service refused the AppRole credentials") from None
            auth = body.get("auth") or {}
            if "client_token" not in auth:
                raise KeyAccessDenied("the key service issued no token for this AppRole")
            self.client.token = auth["client_token"]

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
        """One HTTP call; with ``batch``, a 400 carrying ``batch_results`` is returned."""
        with self._lock:
            self.calls += 1
        started = time.perf_counter()
        try:
            if method == "post":
                response = self.client.adapter.post(path, json=payload)
            elif method == "get":
                response = self.client.adapter.get(path)
            elif method == "list":
                response = self.client.adapter.list(path)
            elif method == "delete":
                response = self.client.adapter.delete(path)
            else:  # pragma: no cover - programming error
                raise ValueError(method)
        except hvac.exceptions.InvalidRequest as exc:
            body = exc.json if isinstance(exc.json, dict) else None
            if batch and body is not None and "batch_results" in (body.get("data") or {}):
                return body
            raise map_transit_error(exc, key_name) from None
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
            raise map_transit_error(exc, key_name) from None
        finally:
            if self.on_call is not None:
                self.on_call(op, time.perf_counter() - started)
        return response if isinstance(response, dict) else {}
