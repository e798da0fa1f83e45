"""Object stores: where sealed objects live (never plaintext).

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
]


def __getattr__(name: str) -> Any:
    if name == "S3Store":
        from vault.storage.s3 import S3Store

        return S3Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
