"""Subject keys in OpenBao / Vault Transit; the only module of recvault that imports hvac.

``TransitKeyProvider`` serves the record path (wrap, unwrap, rewrap in batches)
and the key lifecycle (create, rotate, minimums, trim, destroy).
``TransitAdmin`` holds the few root-token calls that ``keys.bootstrap`` needs.
Every failure of the key service becomes a recvault error in one place:
``map_transit_error``.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

from keys.base import (
    KeyAccessDenied,
    KeyDescription,
    KeyDestroyed,
    KeyError_,
    KeyNotFound,
    KeyUnavailable,
    KeyVersionRetired,
    WrappedDek,
)
from keys.batch import batch_failure
from keys.naming import PREFIX
from vault.errors import IntegrityError, VaultError

CallObserver = Callable[[str, float], None]
_Out = TypeVar("_Out")
DestroyedNames = Callable[[str], bool]

_VERSION_PREFIX = re.compile(r"^vault:v(\d+):")
_NOT_FOUND_MARKERS = ("encryption key not found", "no existing key named", "not found")
_RETIRED_MARKERS = ("disallowed by policy (too old)",)
_INTEGRITY_MARKERS = ("invalid ciphertext", "message authentication failed")


def map_transit_error(
    error: BaseException | str, key_name: str = "", destroyed_names: DestroyedNames | None = None
) -> VaultError:
    """Turn an hvac/requests exception, or a per-item batch error message, into a recvault error.

    Transit answers a destroyed key exactly like one that never existed; only the
    caller's records can tell them apart, hence ``destroyed_names``.
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
        if key_name and destroyed_names is not None and destroyed_names(key_name):
            return KeyDestroyed(f"subject key {key_name} was destroyed")
        return KeyNotFound(f"no subject key {key_name}")
    return KeyError_(f"key service refused the request: {message[:200]}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _wrapped(name: str, results: list[dict[str, Any]]) -> list[WrappedDek]:
    """WrappedDeks from batch results; each version is the one in its ``vault:vN:`` prefix."""
    wrapped: list[WrappedDek] = []
    prefix, version = "\x00", 0  # a batch nearly always shares one prefix: parse it once
    for result in results:
        ciphertext: str = result["ciphertext"]
        if not ciphertext.startswith(prefix):
            match = _VERSION_PREFIX.match(ciphertext)
            if match is None:
                raise KeyError_("key service returned a ciphertext without a version prefix")
            prefix, version = match.group(0), int(match.group(1))
        wrapped.append(WrappedDek(name, version, ciphertext))
    return wrapped


def _describe(name: str, data: dict[str, Any]) -> KeyDescription:
    versions = {
        int(version): datetime.fromtimestamp(int(created), tz=UTC)
        for version, created in (data.get("keys") or {}).items()
    }
    return KeyDescription(
        name=name,
        exists=True,
        latest_version=int(data["latest_version"]),
        min_decryption_version=int(data["min_decryption_version"]),
        min_encryption_version=int(data["min_encryption_version"]),
        min_available_version=int(data["min_available_version"]),
        versions=versions,
    )


class _Transport:
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
        self.client = hvac.Client(
            url=addr,
            token=token,
            namespace=namespace,
            verify=verify,
            cert=client_cert,
            timeout=timeout,
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
        destroyed_names: DestroyedNames | None = None,
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
            raise map_transit_error(exc, key_name, destroyed_names) from None
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
            raise map_transit_error(exc, key_name, destroyed_names) from None
        finally:
            if self.on_call is not None:
                self.on_call(op, time.perf_counter() - started)
        return response if isinstance(response, dict) else {}


class TransitKeyProvider:
    """Subject keys on one Transit mount of one OpenBao/Vault server (see ``docs/keys.md``)."""

    def __init__(
        self,
        addr: str,
        mount: str,
        *,
        token: str | None = None,
        approle: tuple[str, str] | None = None,
        namespace: str | None = None,
        verify: bool | str = True,
        client_cert: tuple[str, str] | None = None,
        timeout: float = 5.0,
        batch_size: int = 250,
        destroyed_names: DestroyedNames | None = None,
        on_call: CallObserver | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if (token is None) == (approle is None):
            raise ValueError("give exactly one of token or approle")
        self._mount = mount.strip("/")
        self._label = f"vault:{addr.rstrip('/')}/{self._mount}"
        self._batch_size = batch_size
        self._destroyed_names = destroyed_names
        self._transport = _Transport(
            addr,
            token=token,
            approle=approle,
            namespace=namespace,
            verify=verify,
            client_cert=client_cert,
            timeout=timeout,
            on_call=on_call,
        )

    @property
    def label(self) -> str:
        return self._label

    @property
    def calls(self) -> int:
        """HTTP calls made to the key service so far (for tests, benchmarks and metrics)."""
        return self._transport.calls

    def _call(
        self,
        op: str,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        name: str = "",
        batch: bool = False,
    ) -> dict[str, Any]:
        return self._transport.request(
            op,
            method,
            f"/v1/{self._mount}/{path}",
            payload,
            key_name=name,
            batch=batch,
            destroyed_names=self._destroyed_names,
        )

    # -- lifecycle -----------------------------------------------------------------

    def ensure_key(self, name: str) -> KeyDescription:
        if self._destroyed_names is not None and self._destroyed_names(name):
            raise KeyDestroyed(f"subject key {name} was destroyed; it is not re-created")
        spec = {"type": "aes256-gcm96", "exportable": False, "allow_plaintext_backup": False}
        try:
            # Transit answers an existing key's create with that key, so this is idempotent
            # and concurrent creators all see the same key.
            data = self._call("keys.create", "post", f"keys/{name}", spec, name=name).get("data")
        except KeyAccessDenied:
            # A read-path credential may still confirm that the key already exists.
            found = self.describe(name)
            if found.exists:
                return found
            raise
        if not data:
            return self.describe(name)
        return _describe(name, data)

    def rotate(self, name: str) -> int:
        data = self._call("keys.rotate", "post", f"keys/{name}/rotate", name=name).get("data")
        if data and "latest_version" in data:
            return int(data["latest_version"])
        return self.describe(name).latest_version

    def set_min_decryption_version(self, name: str, version: int) -> None:
        self._call(
            "keys.config",
            "post",
            f"keys/{name}/config",
            {"min_decryption_version": version},
            name=name,
        )

    def set_min_encryption_version(self, name: str, version: int) -> None:
        self._call(
            "keys.config",
            "post",
            f"keys/{name}/config",
            {"min_encryption_version": version},
            name=name,
        )

    def trim(self, name: str, min_available_version: int) -> None:
        self._call(
            "keys.trim",
            "post",
            f"keys/{name}/trim",
            {"min_available_version": min_available_version},
            name=name,
        )

    def describe(self, name: str) -> KeyDescription:
        try:
            data = self._call("keys.read", "get", f"keys/{name}", name=name).get("data")
        except (KeyNotFound, KeyDestroyed):
            return KeyDescription(name=name, exists=False)
        if not data:
            return KeyDescription(name=name, exists=False)
        return _describe(name, data)

    def destroy(self, name: str) -> None:
        try:
            self._call(
                "keys.config", "post", f"keys/{name}/config", {"deletion_allowed": True}, name=name
            )
        except (KeyNotFound, KeyDestroyed):
            return
        try:
            self._call("keys.delete", "delete", f"keys/{name}", name=name)
        except (KeyNotFound, KeyDestroyed):
            return

    def list_keys(self) -> Iterator[str]:
        try:
            data = self._call("keys.list", "list", "keys").get("data") or {}
        except KeyNotFound:
            return iter(())
        return iter(sorted(key for key in data.get("keys", []) if key.startswith(PREFIX)))

    def health(self) -> None:
        try:
            status = self._transport.request("health", "get", "/v1/sys/health?standbyok=true")
        except KeyUnavailable:
            raise
        except VaultError as exc:
            raise KeyUnavailable(f"key service health check failed: {exc.code}") from None
        if status.get("sealed") or not status.get("initialized", True):
            raise KeyUnavailable("key service is sealed or not initialised")

    # -- record path ---------------------------------------------------------------

    def wrap(self, name: str, deks: Sequence[bytes]) -> list[WrappedDek]:
        try:
            return self._batched(
                "encrypt",
                name,
                len(deks),
                lambda start, stop: [{"plaintext": _b64(dek)} for dek in deks[start:stop]],
                lambda results: _wrapped(name, results),
            )
        except KeyAccessDenied:
            # With disable_upsert and no "create" grant, encrypt to a missing key is refused
            # as a create; say what actually happened.
            if not self.describe(name).exists:
                raise map_transit_error(
                    "encryption key not found", name, self._destroyed_names
                ) from None
            raise

    def unwrap(self, name: str, wrapped: Sequence[str]) -> list[bytes]:
        return self._batched(
            "decrypt",
            name,
            len(wrapped),
            lambda start, stop: [{"ciphertext": text} for text in wrapped[start:stop]],
            lambda results: [base64.b64decode(r["plaintext"]) for r in results],
        )

    def rewrap(self, name: str, wrapped: Sequence[str]) -> list[WrappedDek]:
        return self._batched(
            "rewrap",
            name,
            len(wrapped),
            lambda start, stop: [{"ciphertext": text} for text in wrapped[start:stop]],
            lambda results: _wrapped(name, results),
        )

    def _batched(
        self,
        op: str,
        name: str,
        total: int,
        items: Callable[[int, int], list[dict[str, str]]],
        convert: Callable[[list[dict[str, Any]]], list[_Out]],
    ) -> list[_Out]:
        """Send ``total`` items in batches of ``batch_size``; gather failures by global index.

        Each batch is built and converted on its own, so no more than one batch of
        request and answer objects is alive at a time.
        """
        out: list[_Out] = []
        failures: dict[int, VaultError] = {}
        for start in range(0, total, self._batch_size):
            chunk = items(start, start + self._batch_size)
            payload = {"batch_input": chunk}
            body = self._call(op, "post", f"{op}/{name}", payload, name=name, batch=True)
            results = (body.get("data") or {}).get("batch_results") or []
            if len(results) != len(chunk):
                raise KeyError_(f"key service answered {len(results)} items for {len(chunk)}")
            if any(result.get("error") for result in results):
                for offset, result in enumerate(results):
                    if result.get("error"):
                        failures[start + offset] = map_transit_error(
                            str(result["error"]), name, self._destroyed_names
                        )
            elif not failures:
                out.extend(convert(results))
        if failures:
            raise batch_failure(op, failures, total)
        return out


class TransitAdmin:
    """Root-token calls for ``keys.bootstrap``: mounts, Transit settings, policies, tokens.

    It returns no secret except the token that ``create_token`` is asked for.
    """

    def __init__(
        self, addr: str, token: str, *, verify: bool | str = True, timeout: float = 10.0
    ) -> None:
        self._transport = _Transport(
            addr,
            token=token,
            approle=None,
            namespace=None,
            verify=verify,
            client_cert=None,
            timeout=timeout,
            on_call=None,
        )

    def mounts(self) -> set[str]:
        data = self._transport.request("sys.mounts", "get", "/v1/sys/mounts")
        table = data.get("data") or data
        return {path.strip("/") for path in table if isinstance(table.get(path), dict)}

    def enable_transit(self, mount: str) -> bool:
        """Enable Transit at ``mount``; False when something is already mounted there."""
        if mount in self.mounts():
            return False
        self._transport.request("sys.mount", "post", f"/v1/sys/mounts/{mount}", {"type": "transit"})
        return True

    def configure_transit(self, mount: str, *, cache_size: int) -> None:
        self._transport.request(
            "keys.settings", "post", f"/v1/{mount}/config/keys", {"disable_upsert": True}
        )
        self._transport.request(
            "cache.settings", "post", f"/v1/{mount}/cache-config", {"size": cache_size}
        )

    def transit_settings(self, mount: str) -> dict[str, Any]:
        keys = (
            self._transport.request("keys.settings", "get", f"/v1/{mount}/config/keys").get("data")
            or {}
        )
        cache = (
            self._transport.request("cache.settings", "get", f"/v1/{mount}/cache-config").get(
                "data"
            )
            or {}
        )
        return {
            "disable_upsert": bool(keys.get("disable_upsert")),
            "cache_size": int(cache.get("size", 0)),
        }

    def write_policy(self, name: str, hcl: str) -> None:
        self._transport.request(
            "sys.policy", "post", f"/v1/sys/policies/acl/{name}", {"policy": hcl}
        )

    def read_policy(self, name: str) -> str:
        data = (
            self._transport.request("sys.policy", "get", f"/v1/sys/policies/acl/{name}").get("data")
            or {}
        )
        return str(data.get("policy", ""))

    def create_token(self, policies: Sequence[str], *, ttl: str = "24h") -> str:
        payload = {"policies": list(policies), "ttl": ttl, "no_default_policy": False}
        auth = self._transport.request(
            "auth.token.create", "post", "/v1/auth/token/create", payload
        ).get("auth")
        if not auth or "client_token" not in auth:
            raise KeyError_("key service issued no token")
        return str(auth["client_token"])
