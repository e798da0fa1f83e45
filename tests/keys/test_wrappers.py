"""The caching and sharding wrappers run the same KeyProvider conformance suite.

Caching wraps a local provider; sharding spreads keys over two local providers
(over Transit mounts of a real OpenBao: tests/keys/test_sharded.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keys.base import KeyProvider
from keys.cache import CachingKeyProvider
from keys.local import LocalKeyProvider
from keys.naming import subject_key_name
from keys.sharded import ShardedKeyProvider
from tests.keys.conformance import NAME_SECRET, KeyProviderConformance, dek

MASTER_KEY = bytes(range(32))


class TestCachingConformance(KeyProviderConformance):
    @pytest.fixture
    def provider(self, tmp_path: Path) -> KeyProvider:
        return CachingKeyProvider(LocalKeyProvider(tmp_path / "keys.db", MASTER_KEY))


class TestShardedLocalConformance(KeyProviderConformance):
    @pytest.fixture
    def provider(self, tmp_path: Path) -> KeyProvider:
        return ShardedKeyProvider(
            {f"m{i}": LocalKeyProvider(tmp_path / f"shard{i}.db", MASTER_KEY) for i in range(2)}
        )

    @pytest.fixture
    def name(self, provider: ShardedKeyProvider, subject_id: str) -> str:
        return provider.place(subject_key_name(NAME_SECRET, subject_id))


def test_sharded_keys_live_only_in_their_shard(tmp_path: Path) -> None:
    shards = {f"m{i}": LocalKeyProvider(tmp_path / f"shard{i}.db", MASTER_KEY) for i in range(2)}
    sharded = ShardedKeyProvider(shards)
    names = [
        sharded.ensure_key(subject_key_name(NAME_SECRET, f"subject-{i}")).name for i in range(16)
    ]
    for name in names:
        [wrapped] = sharded.wrap(name, [dek()])
        assert sharded.unwrap(name, [wrapped.ciphertext])
    for mount, shard in shards.items():
        assert set(shard.list_keys()) == {n for n in names if sharded.mount_of(n) == mount}
    assert sorted(sharded.list_keys()) == sorted(names)
    assert {sharded.mount_of(n) for n in names} == {"m0", "m1"}  # both shards used
