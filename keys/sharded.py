"""Spread subject keys over several providers (Transit mounts) by their name's HMAC prefix."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from keys.base import KeyDescription, KeyProvider, WrappedDek
from keys.naming import shard_for


class ShardedKeyProvider:
    """A KeyProvider whose keys live in one of ``shards``, chosen by the key name."""

    def __init__(self, shards: Sequence[KeyProvider]) -> None:
        if not shards:
            raise ValueError("at least one shard")
        self._shards = list(shards)

    @property
    def label(self) -> str:
        return "sharded(" + ",".join(s.label for s in self._shards) + ")"

    def _for(self, name: str) -> KeyProvider:
        return self._shards[shard_for(name, len(self._shards))]

    def ensure_key(self, name: str) -> KeyDescription:
        return self._for(name).ensure_key(name)

    def wrap(self, name: str, deks: Sequence[bytes]) -> list[WrappedDek]:
        return self._for(name).wrap(name, deks)

    def unwrap(self, name: str, wrapped: Sequence[str]) -> list[bytes]:
        return self._for(name).unwrap(name, wrapped)

    def rewrap(self, name: str, wrapped: Sequence[str]) -> list[WrappedDek]:
        return self._for(name).rewrap(name, wrapped)

    def rotate(self, name: str) -> int:
        return self._for(name).rotate(name)

    def set_min_decryption_version(self, name: str, version: int) -> None:
        self._for(name).set_min_decryption_version(name, version)

    def set_min_encryption_version(self, name: str, version: int) -> None:
        self._for(name).set_min_encryption_version(name, version)

    def trim(self, name: str, min_available_version: int) -> None:
        self._for(name).trim(name, min_available_version)

    def describe(self, name: str) -> KeyDescription:
        return self._for(name).describe(name)

    def destroy(self, name: str) -> None:
        self._for(name).destroy(name)

    def list_keys(self) -> Iterator[str]:
        for shard in self._shards:
            yield from shard.list_keys()

    def health(self) -> None:
        for shard in self._shards:
            shard.health()
