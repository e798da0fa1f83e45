"""The ObjectStore interface: what recvault needs from a blob store, nothing more.

Keys are pseudonymous (``<region>/<2 hex>/<uuid>``); stores never see a
plaintext byte or an identifier of a person. Implementations: ``LocalStore``
(filesystem) and ``S3Store`` (AWS S3, MinIO, Ceph). Every implementation
passes ``tests/storage/conformance.py``.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from vault.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable


class ObjectNotFound(NotFound):
    """No object under that key in this store."""

    code = "object-not-found"


class StoreUnavailable(Unavailable):
    """The object store did not answer; retry later."""

    code = "store-unavailable"


class InvalidObjectKey(InvalidInput):
    """The object key is not a valid relative key for this store."""

    code = "invalid-object-key"


class StoreAccessDenied(PermissionDenied):
    """The object store refused recvault's credentials for this operation."""

    code = "store-access-denied"


class ObjectLocked(Conflict):
    """The store refuses the change: a retention or legal hold protects the object.

    ``retain_until`` is the latest retain-until date among the object's locked
    versions (None when only a legal hold keeps it, or the store did not say);
    ``legal_hold`` says whether a legal hold was among the reasons.
    """

    code = "object-locked"

    def __init__(
        self,
        message: str,
        *,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
    ) -> None:
        super().__init__(message)
        self.retain_until = retain_until
        self.legal_hold = legal_hold


class RetentionMode(enum.StrEnum):
    COMPLIANCE = "COMPLIANCE"
    GOVERNANCE = "GOVERNANCE"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class ObjectProtection:
    """Object Lock state of one object (all fields None/False without Object Lock)."""

    retain_until: datetime | None = None
    mode: RetentionMode | None = None
    legal_hold: bool = False


class PutBatch:
    """Puts whose durability is settled together by ``commit``.

    Each ``put`` is atomic as usual (the whole object or nothing under its key),
    but an object may not survive a crash until ``commit`` has returned. A caller
    that writes many small objects and records them in a database afterwards
    (``RecordVault.put_records``) commits the batch before its rows. This default
    makes every put durable on its own; ``LocalStore`` flushes a batch at once.
    ``put`` may be called from several threads.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def put(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        return self.store.put(key, chunks)

    def commit(self) -> None:
        """Make every object put through this batch durable (raise if that failed)."""


class ObjectStore(abc.ABC):
    """A flat namespace of immutable objects addressed by relative keys."""

    #: True when the store enforces retention and legal holds (S3 Object Lock).
    supports_object_lock: bool = False
    #: How many puts of a bulk write pay to run at once (network stores: round trips
    #: overlap; 1 for a store whose puts are local copies flushed by the batch).
    parallel_puts: int = 16

    @abc.abstractmethod
    def put(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Write an object from an iterable of byte chunks, atomically.

        Either the whole object becomes visible or nothing does (an exception
        from ``chunks`` aborts the write and leaves no object behind).
        """

    def batch(self) -> PutBatch:
        """A batch of puts made durable together by its ``commit``."""
        return PutBatch(self)

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Return a readable binary stream of the whole object (close it after use)."""

    @abc.abstractmethod
    def get_range(self, key: str, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of the object (fewer at its end)."""

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Return size and etag of an object, or raise ``ObjectNotFound``."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete every version of the object. Deleting a missing key is not an error."""

    @abc.abstractmethod
    def list(
        self, prefix: str = "", page_size: int = 1000, *, start_after: str = ""
    ) -> Iterator[ObjectInfo]:
        """Yield objects under ``prefix`` in ascending key order, page by page.

        ``start_after``: only keys greater than it (S3's ``StartAfter``), so a paged
        listing resumes without walking what it already returned.
        """

    @abc.abstractmethod
    def location(self) -> str:
        """The location the store reports (S3: bucket region; local: its label)."""

    def set_retention(  # noqa: B027  (a no-op by default: most stores have no Object Lock)
        self, key: str, retain_until: datetime, mode: RetentionMode | None = None
    ) -> None:
        """Set (or extend) the object's retain-until date. No-op without Object Lock.

        ``mode=None`` uses the store's configured mode (COMPLIANCE unless set).
        """

    def set_legal_hold(self, key: str, on: bool) -> None:  # noqa: B027
        """Mirror a legal hold onto the object. No-op without Object Lock."""

    def protection(self, key: str) -> ObjectProtection:
        """Object Lock state of the object (defaults without Object Lock)."""
        self.head(key)
        return ObjectProtection()

    def health(self) -> None:
        """Raise ``StoreUnavailable`` when the store cannot be reached."""
        self.location()
