"""ShardedKeyProvider: a region's subject keys over several Transit mounts of a real OpenBao.

The conformance suite runs over two mounts bootstrapped as ``recvault keys
bootstrap`` does; the rest checks the placement rule of ADR 0012: a key's
mount is recorded in its name, so adding mounts moves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from keys.base import KeyProvider, KeyUnavailable
from keys.bootstrap import bootstrap_transit
from keys.local import LocalKeyProvider
from keys.naming import PREFIX, subject_key_name
from keys.sharded import ShardedKeyProvider, mount_tag, split_name
from keys.transit import TransitAdmin, TransitKeyProvider
from tests.fixtures.bao import TRANSIT_MOUNTS, BaoServer
from tests.keys.conformance import NAME_SECRET, KeyProviderConformance, dek
from vault.regions import build_keys
from vault.settings import Settings

SHARD_MOUNTS = ("transit-jp-0", "transit-jp-1", "transit-jp-2")
MASTER_KEY = bytes(range(32))


@pytest.fixture(scope="module")
def sharded_bao(bao_server: BaoServer) -> BaoServer:
    """The session server with the shard mounts enabled by the bootstrap.

    The bootstrap writes the policies for exactly the mounts it is given: the session's
    own mounts stay in the list, or other tests' tokens would lose them.
    """
    mounts = [*TRANSIT_MOUNTS, *SHARD_MOUNTS]
    bootstrap_transit(bao_server.addr, bao_server.root_token, mounts)
    return bao_server


def transit_shards(server: BaoServer, mounts: tuple[str, ...]) -> dict[str, KeyProvider]:
    return {m: TransitKeyProvider(server.addr, m, token=server.root_token) for m in mounts}


class TestShardedTransitConformance(KeyProviderConformance):
    @pytest.fixture
    def provider(self, sharded_bao: BaoServer) -> KeyProvider:
        return ShardedKeyProvider(transit_shards(sharded_bao, SHARD_MOUNTS[:2]))

    @pytest.fixture
    def name(self, provider: ShardedKeyProvider, subject_id: str) -> str:
        return provider.place(subject_key_name(NAME_SECRET, subject_id))


def test_bootstrap_enables_every_shard_mount_with_bounded_cache(sharded_bao: BaoServer) -> None:
    admin = TransitAdmin(sharded_bao.addr, sharded_bao.root_token)
    assert set(SHARD_MOUNTS) <= admin.mounts()
    for mount in SHARD_MOUNTS:
        settings = admin.transit_settings(mount)
        assert settings["disable_upsert"] and settings["cache_size"] > 0


def test_adding_a_mount_moves_no_key(sharded_bao: BaoServer) -> None:
    two = ShardedKeyProvider(transit_shards(sharded_bao, SHARD_MOUNTS[:2]))
    names = [two.ensure_key(subject_key_name(NAME_SECRET, f"grow-{i}")).name for i in range(12)]
    wrapped = {name: two.wrap(name, [bytes([i]) * 32])[0] for i, name in enumerate(names)}
    assert {two.mount_of(n) for n in names} == set(SHARD_MOUNTS[:2])

    three = ShardedKeyProvider(transit_shards(sharded_bao, SHARD_MOUNTS))
    for i, name in enumerate(names):
        assert three.mount_of(name) == two.mount_of(name)
        assert three.unwrap(name, [wrapped[name].ciphertext]) == [bytes([i]) * 32]
    fresh = [three.ensure_key(subject_key_name(NAME_SECRET, f"new-{i}")).name for i in range(24)]
    assert SHARD_MOUNTS[2] in {three.mount_of(n) for n in fresh}  # new keys reach the new mount
    # reordering the list changes nothing either: the tag names the mount, not a position
    reordered = ShardedKeyProvider(transit_shards(sharded_bao, SHARD_MOUNTS[::-1]))
    name = names[0]
    assert reordered.unwrap(name, [wrapped[name].ciphertext]) == [bytes([0]) * 32]


def test_key_names_carry_the_mount_tag_and_stay_opaque(sharded_bao: BaoServer) -> None:
    sharded = ShardedKeyProvider(transit_shards(sharded_bao, SHARD_MOUNTS[:2]))
    raw = subject_key_name(NAME_SECRET, "opaque")
    name = sharded.ensure_key(raw).name
    base, tag = split_name(name)
    assert base == raw and tag == mount_tag(sharded.mount_of(name))
    assert name.startswith(PREFIX) and len(name) <= 80  # the DB's key_name columns
    assert sharded.ensure_key(raw).name == name == sharded.place(name)  # idempotent


def test_untagged_names_live_on_the_first_mount(sharded_bao: BaoServer) -> None:
    """A region that had one mount lists it first: its keys stay where they are."""
    home = TransitKeyProvider(sharded_bao.addr, SHARD_MOUNTS[0], token=sharded_bao.root_token)
    legacy = subject_key_name(NAME_SECRET, "before-sharding")
    home.ensure_key(legacy)
    [wrapped] = home.wrap(legacy, [b"\x07" * 32])
    sharded = ShardedKeyProvider(transit_shards(sharded_bao, SHARD_MOUNTS))
    assert sharded.mount_of(legacy) == SHARD_MOUNTS[0]
    assert sharded.unwrap(legacy, [wrapped.ciphertext]) == [b"\x07" * 32]
    assert sharded.describe(legacy).exists


def test_a_key_on_a_mount_no_longer_configured_is_unavailable(sharded_bao: BaoServer) -> None:
    three = ShardedKeyProvider(transit_shards(sharded_bao, SHARD_MOUNTS))
    names = [three.place(subject_key_name(NAME_SECRET, f"lost-{i}")) for i in range(24)]
    on_third = next(n for n in names if three.mount_of(n) == SHARD_MOUNTS[2])
    two = ShardedKeyProvider(transit_shards(sharded_bao, SHARD_MOUNTS[:2]))
    with pytest.raises(KeyUnavailable, match="not configured"):
        two.wrap(on_third, [dek()])


def test_repeated_mounts_are_refused(tmp_path: Path) -> None:
    local = LocalKeyProvider(tmp_path / "k.db", MASTER_KEY)
    with pytest.raises(ValueError, match="repeat"):
        ShardedKeyProvider({"transit-jp-0": local, "/transit-jp-0/": local})


def test_a_region_with_mounts_builds_a_sharded_provider(
    sharded_bao: BaoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write_settings: Callable[[str], Settings],
) -> None:
    monkeypatch.setenv("RECVAULT_VAULT_TOKEN", sharded_bao.root_token)
    settings = write_settings(
        f'[regions.JP]\nlocation = "ap-northeast-1"\n[regions.JP.keys]\nkind = "vault"\n'
        f'addr = "{sharded_bao.addr}"\nmounts = ["transit-jp-0", "transit-jp-1"]\n'
    )
    provider = build_keys("JP", settings.regions["JP"].keys, settings)
    name = provider.ensure_key(subject_key_name(NAME_SECRET, "configured")).name
    assert split_name(name)[1] in {mount_tag("transit-jp-0"), mount_tag("transit-jp-1")}
    [wrapped] = provider.wrap(name, [b"\x09" * 32])
    assert provider.unwrap(name, [wrapped.ciphertext]) == [b"\x09" * 32]


@pytest.fixture
def write_settings(tmp_path: Path) -> Callable[[str], Settings]:
    def write(text: str) -> Settings:
        path = tmp_path / "recvault.toml"
        path.write_text(text)
        return Settings.load(path)

    return write
