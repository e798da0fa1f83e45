"""The KeyProvider protocol: subject keys that wrap per-version data keys (DEKs).

A provider holds one *subject key* per data subject, named opaquely
(``subj-<hex>``, see ``keys.naming``). DEKs are 32 random bytes made by the
caller; the provider only wraps, unwraps and rewraps them, so plaintext DEKs
never leave the process and subject keys never leave the provider.

Two narrow protocols: ``DekWrapper`` (the record path: wrap, unwrap,
rewrap) and ``KeyLifecycle`` (create, rotate, minimum versions, trim,
destroy, list). ``KeyProvider`` is both, as a region holds it.

Implementations: ``keys.transit.TransitKeyProvider`` (HashiCorp Vault /
OpenBao Transit) and ``keys.local.LocalKeyProvider`` (embedded); the
wrappers ``keys.cache.CachingKeyProvider`` and ``keys.sharded.ShardedKeyProvider``.
All four pass ``tests/keys/conformance.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

from vault.errors import Erased, NotFound, PermissionDenied, Unavailable, VaultError


class KeyError_(VaultError):
    """Base of key-provider errors (named with a trailing underscore: not builtins.KeyError)."""

    code = "key-error"


class KeyUnavailable(Unavailable):
    """The key service did not answer in time or is sealed; retryable."""

    code = "key-unavailable"


class KeyNotFound(NotFound):
    """No subject key of that name exists (and none is known to have been destroyed)."""

    code = "key-not-found"


class KeyDestroyed(Erased):
    """The subject key was destroyed: everything it wrapped is unreadable for good."""

    code = "key-destroyed"


class KeyAccessDenied(PermissionDenied):
    """The key service refused the service's credentials for this operation."""

    code = "key-access-denied"


class KeyVersionRetired(KeyError_):
    """The wrapped DEK was made under a key version below the minimum decryption version."""

    code = "key-version-retired"


class KeyBatchError(KeyError_):
    """Some items of a batch failed; ``failures`` maps item index to its error."""

    code = "key-batch-error"

    def __init__(self, message: str, failures: Mapping[int, VaultError]) -> None:
        super().__init__(message)
        self.failures = dict(failures)


class WrappedDek(NamedTuple):
    """A DEK wrapped by a subject key: opaque provider text plus the key version used.

    A named tuple, not a frozen dataclass: batches build tens of thousands of
    these, and a frozen dataclass's ``__init__`` (``object.__setattr__`` per
    field) cost ~0.8 µs each, 7 % of a batched Transit wrap (docs/benchmarks.md).
    """

    key_name: str
    key_version: int
    ciphertext: str


@dataclass(frozen=True)
class KeyDescription:
    name: str
    exists: bool
    latest_version: int = 0
    min_decryption_version: int = 0
    min_encryption_version: int = 0
    min_available_version: int = 0
    #: creation time of every live version
    versions: Mapping[int, datetime] = field(default_factory=dict)


@runtime_checkable
class DekWrapper(Protocol):
    """The record path: wrap, unwrap and rewrap DEKs under a subject key.

    Everything that stores or reads records needs only this (as age's
    ``Recipient.Wrap`` / ``Identity.Unwrap`` carry all of its key handling).
    """

    #: a stable label for the provider (e.g. ``vault:http://…/transit-jp``), no secrets
    @property
    def label(self) -> str: ...

    def wrap(self, name: str, deks: Sequence[bytes]) -> list[WrappedDek]:
        """Wrap DEKs under the key's latest version, in batches."""
        ...

    def unwrap(self, name: str, wrapped: Sequence[str]) -> list[bytes]:
        """Unwrap DEKs. Raises ``KeyDestroyed``/``KeyNotFound``/``KeyVersionRetired``
        when every item fails for the same reason, else ``KeyBatchError``."""
        ...

    def rewrap(self, name: str, wrapped: Sequence[str]) -> list[WrappedDek]:
        """Re-wrap DEKs under the latest key version without revealing them."""
        ...


@runtime_checkable
class KeyLifecycle(Protocol):
    """The life of a subject key: create, rotate, retire versions, destroy, list."""

    @property
    def label(self) -> str: ...

    def ensure_key(self, name: str) -> KeyDescription:
        """Create the subject key if missing; idempotent and safe under races."""
        ...

    def rotate(self, name: str) -> int:
        """Add a key version; return the new latest version."""
        ...

    def set_min_decryption_version(self, name: str, version: int) -> None:
        """Refuse unwrapping of anything made under an older version."""
        ...

    def set_min_encryption_version(self, name: str, version: int) -> None: ...

    def trim(self, name: str, min_available_version: int) -> None:
        """Delete key versions below ``min_available_version`` for good."""
        ...

    def describe(self, name: str) -> KeyDescription:
        """Versions and minimums of a key; ``exists=False`` when there is none."""
        ...

    def destroy(self, name: str) -> None:
        """Destroy the key and every version of it. Destroying a missing key is a no-op."""
        ...

    def list_keys(self) -> Iterator[str]:
        """Names of every subject key held by this provider."""
        ...

    def health(self) -> None:
        """Raise ``KeyUnavailable`` when the key service cannot serve requests."""
        ...


@runtime_checkable
class KeyProvider(DekWrapper, KeyLifecycle, Protocol):
    """One region's (or one mount's) subject keys: both protocols, as a region holds them."""
