"""A bounded LRU + TTL cache of unwrapped DEKs in front of any ``KeyProvider``.

Reading a record twice within the TTL costs one key-service call, not two.
Entries of a key are dropped as soon as its versions or minimums change
(rotate, minimum decryption version, trim) or it is destroyed, so a cached
DEK never outlives a decision to retire or shred it in this process.
``max_entries=0`` turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

from keys.base import KeyDescription, KeyProvider, WrappedDek

Clock = Callable[[], float]


class CachingKeyProvider:
    """Wraps ``inner``; caches ``unwrap`` results keyed by (key name, wrapped DEK)."""

    def __init__(
        self,
        inner: KeyProvider,
        max_entries: int = 10000,
        ttl_seconds: float = 300.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_entries < 0 or ttl_seconds < 0:
            raise ValueError("max_entries and ttl_seconds must not be negative")
        self._inner = inner
        self._max_entries = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def label(self) -> str:
        return self._inner.label

    def __len__(self) -> int:
        return len(self._entries)

    def unwrap(self, name: str, wrapped: Sequence[str]) -> list[bytes]:
        if self._max_entries == 0:
            return self._inner.unwrap(name, wrapped)
        now = self._clock()
        found: dict[int, bytes] = {}
        with self._lock:
            for index, text in enumerate(wrapped):
                entry = self._entries.get((name, text))
                if entry is None:
                    continue
                expires, dek = entry
                if expires <= now:
                    del self._entries[(name, text)]
                    continue
                self._entries.move_to_end((name, text))
                found[index] = dek
            self.hits += len(found)
            self.misses += len(wrapped) - len(found)
        missing = [index for index in range(len(wrapped)) if index not in found]
        if missing:
            # On failure the inner provider's error stands; nothing is cached.
            fresh = self._inner.unwrap(name, [wrapped[index] for index in missing])
            with self._lock:
                for index, dek in zip(missing, fresh, strict=True):
                    found[index] = dek
                    self._entries[(name, wrapped[index])] = (now + self._ttl, dek)
                    self._entries.move_to_end((name, wrapped[index]))
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        return [found[index] for index in range(len(wrapped))]

    def invalidate(self, name: str) -> None:
        """Drop every cached DEK of one subject key."""
        with self._lock:
            for cache_key in [k for k in self._entries if k[0] == name]:
                del self._entries[cache_key]

    # -- calls that change what may be unwrapped -----------------------------------

    # Each drops the key's entries before and after the change: an unwrap running
    # concurrently may refill the cache while the change is under way.

    def rotate(self, name: str) -> int:
        self.invalidate(name)
        try:
            return self._inner.rotate(name)
        finally:
            self.invalidate(name)

    def set_min_decryption_version(self, name: str, version: int) -> None:
        self.invalidate(name)
        try:
            self._inner.set_min_decryption_version(name, version)
        finally:
            self.invalidate(name)

    def trim(self, name: str, min_available_version: int) -> None:
        self.invalidate(name)
        try:
            self._inner.trim(name, min_available_version)
        finally:
            self.invalidate(name)

    def destroy(self, name: str) -> None:
        self.invalidate(name)
        try:
            self._inner.destroy(name)
        finally:
            self.invalidate(name)

    # -- everything else delegates --------------------------------------------------

    def ensure_key(self, name: str) -> KeyDescription:
        return self._inner.ensure_key(name)

    def wrap(self, name: str, deks: Sequence[bytes]) -> list[WrappedDek]:
        return self._inner.wrap(name, deks)

    def rewrap(self, name: str, wrapped: Sequence[str]) -> list[WrappedDek]:
        return self._inner.rewrap(name, wrapped)

    def set_min_encryption_version(self, name: str, version: int) -> None:
        self._inner.set_min_encryption_version(name, version)

    def describe(self, name: str) -> KeyDescription:
        return self._inner.describe(name)

    def list_keys(self) -> Iterator[str]:
        return self._inner.list_keys()

    def health(self) -> None:
        self._inner.health()
