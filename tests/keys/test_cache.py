"""CachingKeyProvider: LRU bound, TTL, invalidation; a fake inner provider and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from keys.base import KeyDescription, KeyNotFound, KeyProvider, WrappedDek
from keys.cache import CachingKeyProvider


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingProvider:
    """Wraps by hex-encoding; counts the items it is asked to unwrap."""

    label = "fake"

    def __init__(self) -> None:
        self.unwrapped_items = 0
        self.destroyed: set[str] = set()

    def unwrap(self, name: str, wrapped: Sequence[str]) -> list[bytes]:
        if name in self.destroyed:
            raise KeyNotFound(name)
        self.unwrapped_items += len(wrapped)
        return [bytes.fromhex(text.removeprefix("fake:")) for text in wrapped]

    def wrap(self, name: str, deks: Sequence[bytes]) -> list[WrappedDek]:
        return [WrappedDek(name, 1, "fake:" + dek.hex()) for dek in deks]

    def rewrap(self, name: str, wrapped: Sequence[str]) -> list[WrappedDek]:
        return [WrappedDek(name, 2, text) for text in wrapped]

    def ensure_key(self, name: str) -> KeyDescription:
        return KeyDescription(name=name, exists=True, latest_version=1)

    def describe(self, name: str) -> KeyDescription:
        return KeyDescription(name=name, exists=name not in self.destroyed)

    def rotate(self, name: str) -> int:
        return 2

    def set_min_decryption_version(self, name: str, version: int) -> None:
        pass

    def set_min_encryption_version(self, name: str, version: int) -> None:
        pass

    def trim(self, name: str, min_available_version: int) -> None:
        pass

    def destroy(self, name: str) -> None:
        self.destroyed.add(name)

    def list_keys(self) -> Iterator[str]:
        return iter(["subj-a"])

    def health(self) -> None:
        pass


def _texts(n: int, start: int = 0) -> list[str]:
    return ["fake:" + bytes([i % 256]).hex() * 32 for i in range(start, start + n)]


@pytest.fixture
def inner() -> CountingProvider:
    return CountingProvider()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_it_is_a_key_provider(inner: CountingProvider) -> None:
    cache = CachingKeyProvider(inner)
    assert isinstance(cache, KeyProvider)
    assert cache.label == "fake"


def test_repeated_unwrap_is_served_from_the_cache(
    inner: CountingProvider, clock: FakeClock
) -> None:
    cache = CachingKeyProvider(inner, clock=clock)
    texts = _texts(3)
    first = cache.unwrap("subj-a", texts)
    second = cache.unwrap("subj-a", texts)
    assert first == second == [bytes([i]) * 32 for i in range(3)]
    assert inner.unwrapped_items == 3
    assert (cache.hits, cache.misses) == (3, 3)


def test_a_partly_cached_batch_asks_only_for_the_rest_and_keeps_order(
    inner: CountingProvider, clock: FakeClock
) -> None:
    cache = CachingKeyProvider(inner, clock=clock)
    cache.unwrap("subj-a", _texts(1, start=1))
    result = cache.unwrap("subj-a", _texts(3))
    assert result == [bytes([i]) * 32 for i in range(3)]
    assert inner.unwrapped_items == 1 + 2


def test_entries_are_keyed_by_name_too(inner: CountingProvider, clock: FakeClock) -> None:
    cache = CachingKeyProvider(inner, clock=clock)
    cache.unwrap("subj-a", _texts(1))
    cache.unwrap("subj-b", _texts(1))
    assert inner.unwrapped_items == 2


def test_entries_expire_after_the_ttl(inner: CountingProvider, clock: FakeClock) -> None:
    cache = CachingKeyProvider(inner, ttl_seconds=300, clock=clock)
    cache.unwrap("subj-a", _texts(1))
    clock.now += 299
    cache.unwrap("subj-a", _texts(1))
    assert inner.unwrapped_items == 1
    clock.now += 2  # 301 s after the entry was made
    cache.unwrap("subj-a", _texts(1))
    assert inner.unwrapped_items == 2


def test_the_cache_is_bounded_and_evicts_least_recently_used(
    inner: CountingProvider, clock: FakeClock
) -> None:
    cache = CachingKeyProvider(inner, max_entries=3, clock=clock)
    a, b, c, d = _texts(4)
    cache.unwrap("subj-a", [a, b, c])
    cache.unwrap("subj-a", [a])  # a is now the most recently used
    cache.unwrap("subj-a", [d])  # evicts b
    assert len(cache) == 3
    before = inner.unwrapped_items
    cache.unwrap("subj-a", [a, c, d])
    assert inner.unwrapped_items == before
    cache.unwrap("subj-a", [b])
    assert inner.unwrapped_items == before + 1


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.rotate("subj-a"),
        lambda p: p.set_min_decryption_version("subj-a", 2),
        lambda p: p.trim("subj-a", 2),
    ],
    ids=["rotate", "min_decryption_version", "trim"],
)
def test_key_changes_invalidate_that_key_only(
    inner: CountingProvider, clock: FakeClock, change: object
) -> None:
    cache = CachingKeyProvider(inner, clock=clock)
    cache.unwrap("subj-a", _texts(2))
    cache.unwrap("subj-b", _texts(2))
    change(cache)  # type: ignore[operator]
    cache.unwrap("subj-a", _texts(2))
    cache.unwrap("subj-b", _texts(2))
    assert inner.unwrapped_items == 2 + 2 + 2


def test_destroy_drops_cached_deks_so_unwrap_fails(
    inner: CountingProvider, clock: FakeClock
) -> None:
    cache = CachingKeyProvider(inner, clock=clock)
    cache.unwrap("subj-a", _texts(2))
    cache.destroy("subj-a")
    assert len(cache) == 0
    with pytest.raises(KeyNotFound):
        cache.unwrap("subj-a", _texts(2))


def test_failed_unwraps_are_not_cached(inner: CountingProvider, clock: FakeClock) -> None:
    cache = CachingKeyProvider(inner, clock=clock)
    inner.destroyed.add("subj-a")
    with pytest.raises(KeyNotFound):
        cache.unwrap("subj-a", _texts(1))
    assert len(cache) == 0


def test_max_entries_zero_disables_the_cache(inner: CountingProvider, clock: FakeClock) -> None:
    cache = CachingKeyProvider(inner, max_entries=0, clock=clock)
    cache.unwrap("subj-a", _texts(2))
    cache.unwrap("subj-a", _texts(2))
    assert inner.unwrapped_items == 4
    assert len(cache) == 0


def test_everything_else_delegates(inner: CountingProvider) -> None:
    cache = CachingKeyProvider(inner)
    assert cache.wrap("subj-a", [b"\x01" * 32])[0].ciphertext == "fake:" + "01" * 32
    assert cache.rewrap("subj-a", ["x"])[0].key_version == 2
    assert cache.ensure_key("subj-a").exists
    assert list(cache.list_keys()) == ["subj-a"]
    assert cache.describe("subj-a").exists
    cache.set_min_encryption_version("subj-a", 1)
    cache.health()


def test_negative_settings_are_refused(inner: CountingProvider) -> None:
    with pytest.raises(ValueError):
        CachingKeyProvider(inner, max_entries=-1)
