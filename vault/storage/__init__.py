"""Object stores: where sealed objects live (never plaintext)."""

from vault.storage.base import (
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectProtection,
    ObjectStore,
    RetentionMode,
    StoreUnavailable,
)

__all__ = [
    "InvalidObjectKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectProtection",
    "ObjectStore",
    "RetentionMode",
    "StoreUnavailable",
]
