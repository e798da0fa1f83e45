"""The caching and sharding wrappers run the same KeyProvider conformance suite.

Caching wraps a local provider; sharding spreads keys over two local providers
and, separately, over two Transit mounts of a real OpenBao.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keys.base import KeyProvider
from keys.cache import CachingKeyProvider
from keys.local import LocalKeyProvider
from keys.naming import shard_for, subject_key_name
from keys.sharded import ShardedKeyProvider
from keys.transit import TransitKeyProvider
from tests.fixtures.bao import TransitSetup
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
            [LocalKeyProvider(tmp_path / f"shard{i}.db", MASTER_KEY) for i in range(2)]
        )


class TestShardedTransitConformance(KeyProviderConformance):
    @pytest.fixture
    def provider(self, transit: TransitSetup) -> KeyProvider:
        return ShardedKeyProvider(
            [
                TransitKeyProvider(transit.addr, mount, token=transit.admin_token)
                for mount in ("transit-jp", "transit-ph")
            ]
        )


def test_sharded_keys_live_only_in_their_shard(tmp_path: Path) -> None:
    shards = [LocalKeyProvider(tmp_path / f"shard{i}.db", MASTER_KEY) for i in range(2)]
    sharded = ShardedKeyProvider(shards)
    names = [subject_key_name(NAME_SECRET, f"subject-{i}") for i in range(16)]
    for name in names:
        sharded.ensure_key(name)
        [wrapped] = sharded.wrap(name, [dek()])
        assert sharded.unwrap(name, [wrapped.ciphertext])
    for index, shard in enumerate(shards):
        assert set(shard.list_keys()) == {n for n in names if shard_for(n, 2) == index}
    assert sorted(sharded.list_keys()) == sorted(names)
    assert {shard_for(n, 2) for n in names} == {0, 1}  # both shards used
