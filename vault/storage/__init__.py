"""Object stores: where sealed objects live (never plaintext).

Owns ``ObjectStore`` and its conformance contract (``base``), pseudonymous
object names (``naming``), ``LocalStore`` (``local``: atomic puts and batches,
with ``local_reads`` and ``local_listing``) and ``S3Store`` (``s3``, the only
boto3 importer: client and error translation, with ``s3_multipart`` for
writes, ``s3_listing`` and ``s3_object_lock``); Linux I/O tuning is private
(``tuning``). Imports neither keys nor crypto nor the metadata DB.

``S3Store`` is imported on first use, so that a vault on local files never
loads boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault.storage.base import (
    InvalidObjectKey,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectProtection,
    ObjectStore,
    PutBatch,
    RetentionMode,
    StoreAccessDenied,
    StoreUnavailable,
)
from vault.storage.local import LocalStore

if TYPE_CHECKING:
    from vault.storage.s3 import S3Store

__all__ = [
    "InvalidObjectKey",
    "LocalStore",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "ObjectProtection",
    "ObjectStore",
    "PutBatch",
    "RetentionMode",
    "S3Store",
    "StoreAccessDenied",
    "StoreUnavailable",
    "tune_process",
]


def tune_process(enabled: bool = True) -> bool:
    """Process-wide I/O tuning, called once by the long-running commands at start-up.

    Raises glibc's allocator thresholds so 1 MiB segment buffers are reused
    (``tuning.allocator``); True when applied. A library caller that builds a
    ``RecordVault`` decides for its own process.
    """
    if not enabled:
        return False
    from vault.storage.tuning.allocator import tune_allocator

    return tune_allocator()


def __getattr__(name: str) -> Any:
    if name == "S3Store":
        from vault.storage.s3 import S3Store

        return S3Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
