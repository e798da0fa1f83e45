"""Key providers: subject keys that wrap data keys (Vault Transit or embedded)."""

from keys.base import (
    KeyAccessDenied,
    KeyBatchError,
    KeyDescription,
    KeyDestroyed,
    KeyError_,
    KeyNotFound,
    KeyProvider,
    KeyUnavailable,
    KeyVersionRetired,
    WrappedDek,
)

__all__ = [
    "KeyAccessDenied",
    "KeyBatchError",
    "KeyDescription",
    "KeyDestroyed",
    "KeyError_",
    "KeyNotFound",
    "KeyProvider",
    "KeyUnavailable",
    "KeyVersionRetired",
    "WrappedDek",
]
