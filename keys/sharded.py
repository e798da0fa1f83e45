"""Spread a region's subject keys over several providers (Transit mounts), placements kept.

A new key is placed by a stable hash of its name over the mounts configured
when it is created, and the chosen mount is recorded in the key's name: the
name ``ensure_key`` returns is ``subj-<hex>.<tag>``, where ``<tag>`` is six hex
digits of SHA-256 over the mount's name. Every later call routes by that tag,
so adding mounts never moves an existing key (docs/adr/0012-subject-keys-over-mounts.md).
A name without a tag is a key made before the region was sharded: it lives on
the first mount, the region's original one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence

from keys.base import KeyDescription, KeyProvider, KeyUnavailable, WrappedDek
from keys.naming import shard_for

#: separates a key's name from its mount's tag (Transit names allow ``[\w.-]``)
TAG_SEPARATOR = "."
TAG_LENGTH = 6


def mount_tag(mount: str) -> str:
    """The tag a key placed on ``mount`` carries: six hex digits, stable across reorderings."""
    return hashlib.sha256(b"recvault/mount\x00" + mount.strip("/").encode()).hexdigest()[
        :TAG_LENGTH
    ]


def split_name(name: str) -> tuple[str, str | None]:
    """``(base name, tag)``; the tag is None for a name made before sharding."""
    base, separator, tag = name.rpartition(TAG_SEPARATOR)
    if separator and len(tag) == TAG_LENGTH and all(c in "0123456789abcdef" for c in tag):
        return base, tag
    return name, None


class ShardedKeyProvider:
    """A KeyProvider whose keys live on one of ``shards`` (mount name -> provider).

    The first shard is the home mount: keys whose names carry no tag live there.
    """

    def __init__(self, shards: Mapping[str, KeyProvider]) -> None:
        if not shards:
            raise ValueError("at least one shard")
        self._names = [name.strip("/") for name in shards]
        self._shards = list(shards.values())
        self._tags: dict[str, int] = {}
        for index, mount in enumerate(self._names):
            tag = mount_tag(mount)
            if tag in self._tags:
                raise ValueError(f"mounts {self._names[self._tags[tag]]} and {mount} repeat")
            self._tags[tag] = index

    @property
    def label(self) -> str:
        return "sharded(" + ",".join(s.label for s in self._shards) + ")"

    @property
    def mounts(self) -> Sequence[str]:
        return tuple(self._names)

    def place(self, name: str) -> str:
        """The name a new key called ``name`` gets: its mount's tag appended (idempotent)."""
        base, tag = split_name(name)
        if tag is not None:
            return name
        index = shard_for(base, len(self._shards))
        return f"{base}{TAG_SEPARATOR}{mount_tag(self._names[index])}"

    def mount_of(self, name: str) -> str:
        """The mount that holds (or would hold) the key ``name``."""
        return self._names[self._index(name)]

    def _index(self, name: str) -> int:
        _, tag = split_name(name)
        if tag is None:
            return 0
        index = self._tags.get(tag)
        if index is None:
            raise KeyUnavailable(
                f"key {name} lives on a mount (tag {tag}) that is not configured for this "
                f"region; configured: {', '.join(self._names)}"
            )
        return index

    def _for(self, name: str) -> KeyProvider:
        return self._shards[self._index(name)]

    def ensure_key(self, name: str) -> KeyDescription:
        """Create the key if missing; an untagged name is placed first (see ``place``).

        The description's ``name`` is the one to record and use from then on.
        """
        placed = self.place(name)
        return self._for(placed).ensure_key(placed)

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
        """Every key of every mount, by the name recorded for it.

        A key on a mount other than the home one whose name carries no tag (or
        another mount's tag) was not made through this provider; it is listed as
        found, so that a residency check reports it.
        """
        for shard in self._shards:
            yield from shard.list_keys()

    def health(self) -> None:
        for shard in self._shards:
            shard.health()
