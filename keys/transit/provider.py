"""Subject keys on one Transit mount: ``TransitKeyProvider``.

It serves the record path (wrap, unwrap, rewrap in batches) and the key
lifecycle (create, rotate, minimums, trim, destroy). Its HTTP calls go through
``keys.vault_transit.Transport``.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from keys.base import (
    KeyAccessDenied,
    KeyDescription,
    KeyDestroyed,
    KeyError_,
    KeyNotFound,
    KeyUnavailable,
    WrappedDek,
)
from keys.batch import batch_failure
from keys.naming import PREFIX
from keys.transit.auth import AppRoleLogin, GivenToken, VaultAuth
from keys.vault_transit import CallObserver, Transport, map_transit_error
from vault.errors import VaultError

_Out = TypeVar("_Out")

_VERSION_PREFIX = re.compile(r"^vault:v(\d+):")


# binascii directly: base64.b64encode/b64decode add a type check and a call per
# item, ~half the encoding time of a 250-item batch.
_b64encode = binascii.b2a_base64
_b64decode = binascii.a2b_base64


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


class TransitKeyProvider:
    """Subject keys on one Transit mount of one OpenBao/Vault server (see ``docs/keys.md``)."""

    def __init__(
        self,
        addr: str,
        mount: str,
        *,
        token: str | None = None,
        approle: tuple[str, str] | None = None,
        auth: VaultAuth | None = None,
        namespace: str | None = None,
        verify: bool | str = True,
        client_cert: tuple[str, str] | None = None,
        timeout: float = 5.0,
        batch_size: int = 250,
        on_call: CallObserver | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if sum(given is not None for given in (token, approle, auth)) != 1:
            raise ValueError("give exactly one of token, approle or auth")
        if auth is None:
            if token is not None:
                auth = VaultAuth(GivenToken(token))
            else:
                assert approle is not None
                role_id, secret_id = approle
                auth = VaultAuth(AppRoleLogin(lambda: role_id, lambda: secret_id))
        self.auth = auth
        self._mount = mount.strip("/")
        self._label = f"vault:{addr.rstrip('/')}/{self._mount}"
        self._batch_size = batch_size
        self._transport = Transport(
            addr,
            auth=auth,
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

    @property
    def auth_calls(self) -> int:
        """Logins, renewals and lookups made to keep the token alive."""
        return self._transport.auth_calls

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
        )

    # -- lifecycle -----------------------------------------------------------------

    def ensure_key(self, name: str) -> KeyDescription:
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
        """Every subject key of the mount, in one LIST.

        Not paged on purpose: OpenBao honours ``limit``/``after`` on Transit's
        LIST, but each page costs about as much as the whole list (measured in
        docs/scale.md), so paging through N keys would cost O(N²). Mounts are
        kept small enough for one answer instead (ADR 0012).
        """
        try:
            data = self._call("keys.list", "list", "keys").get("data") or {}
        except KeyNotFound:
            return iter(())
        return iter(sorted(key for key in data.get("keys", []) if key.startswith(PREFIX)))

    def health(self) -> None:
        try:
            status = self._transport.unauthenticated(
                "health", "get", "/v1/sys/health?standbyok=true"
            )
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
                lambda start, stop: [
                    {"plaintext": _b64encode(dek, newline=False).decode("ascii")}
                    for dek in deks[start:stop]
                ],
                lambda results: _wrapped(name, results),
            )
        except KeyAccessDenied:
            # With disable_upsert and no "create" grant, encrypt to a missing key is refused
            # as a create; say what actually happened.
            if not self.describe(name).exists:
                raise map_transit_error("encryption key not found", name) from None
            raise

    def unwrap(self, name: str, wrapped: Sequence[str]) -> list[bytes]:
        return self._batched(
            "decrypt",
            name,
            len(wrapped),
            lambda start, stop: [{"ciphertext": text} for text in wrapped[start:stop]],
            lambda results: [_b64decode(r["plaintext"]) for r in results],
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
                        failures[start + offset] = map_transit_error(str(result["error"]), name)
            elif not failures:
                out.extend(convert(results))
        if failures:
            raise batch_failure(op, failures, total)
        return out
