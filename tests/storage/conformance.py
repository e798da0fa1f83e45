"""The ObjectStore conformance suite: every store inherits it and supplies fixtures.

A subclass provides ``store`` (an empty store) and ``expected_location``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterable, Iterator

import pytest

from vault.errors import InvalidInput
from vault.storage import InvalidObjectKey, ObjectNotFound, ObjectStore

MiB = 1024 * 1024
BIG_SIZE = 9 * MiB + 3  # more than one 8 MiB part, with a ragged tail
ODD_CHUNK_SIZES = (1, 7, 65_537, MiB + 1, 3 * MiB - 5, 4093)


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes without long repeats, so misplaced ranges show."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def chunked(data: bytes, sizes: Iterable[int] = ODD_CHUNK_SIZES) -> Iterator[bytes]:
    """Split ``data`` into chunks of the cycled ``sizes``."""
    offset = 0
    for size in itertools.cycle(sizes):
        if offset >= len(data):
            return
        yield data[offset : offset + size]
        offset += size


class ChunkSourceFailed(Exception):
    pass


def failing_after(data: bytes) -> Iterator[bytes]:
    """Yield ``data`` in chunks, then fail as a broken upstream would."""
    yield from chunked(data, (MiB,))
    raise ChunkSourceFailed("the source broke mid-stream")


class ObjectStoreConformance:
    """Behaviour every ObjectStore must show."""

    @pytest.fixture
    def store(self) -> ObjectStore:
        raise NotImplementedError("subclasses supply an empty store")

    @pytest.fixture
    def expected_location(self) -> str:
        raise NotImplementedError("subclasses supply the location the store must report")

    @pytest.fixture(scope="class")
    @classmethod
    def big(cls) -> bytes:
        return pattern(BIG_SIZE, seed=9)

    # -- put / open -----------------------------------------------------------

    @pytest.mark.parametrize("size", [0, 1, 4097])
    def test_small_round_trip(self, store: ObjectStore, size: int) -> None:
        data = pattern(size)
        info = store.put("jp/0a/small", chunked(data))
        assert info.key == "jp/0a/small"
        assert info.size == size
        with store.open("jp/0a/small") as stream:
            assert stream.read() == data

    def test_empty_iterable_makes_an_empty_object(self, store: ObjectStore) -> None:
        store.put("jp/0a/empty", [])
        assert store.head("jp/0a/empty").size == 0
        with store.open("jp/0a/empty") as stream:
            assert stream.read() == b""

    def test_multi_part_round_trip_with_odd_chunks(self, store: ObjectStore, big: bytes) -> None:
        info = store.put("jp/ff/big", chunked(big))
        assert info.size == BIG_SIZE
        with store.open("jp/ff/big") as stream:
            first = stream.read(5)
            rest = stream.read()
        assert first + rest == big

    def test_open_reads_in_pieces(self, store: ObjectStore, big: bytes) -> None:
        store.put("jp/ff/big", [big])
        pieces = []
        with store.open("jp/ff/big") as stream:
            while piece := stream.read(MiB - 1):
                pieces.append(piece)
        assert b"".join(pieces) == big
        assert len(pieces) == 10

    def test_put_accepts_bytearray_and_memoryview_chunks(self, store: ObjectStore) -> None:
        store.put("jp/0b/mixed", [bytearray(b"ab"), memoryview(b"cd"), b"ef"])  # type: ignore[list-item]
        assert store.get_range("jp/0b/mixed", 0, 10) == b"abcdef"

    def test_overwrite_keeps_the_latest_content(self, store: ObjectStore) -> None:
        store.put("jp/0c/same", [b"first version, longer"])
        store.put("jp/0c/same", [b"second"])
        with store.open("jp/0c/same") as stream:
            assert stream.read() == b"second"
        assert store.head("jp/0c/same").size == 6
        assert [i.key for i in store.list("jp/0c/")] == ["jp/0c/same"]

    # -- ranges ---------------------------------------------------------------

    @pytest.mark.parametrize(
        ("start", "stop"),
        [
            (0, 1),
            (0, MiB),
            (1, 2),
            (MiB - 1, MiB + 1),
            (8 * MiB - 2, 8 * MiB + 2),  # across the part boundary
            (4 * MiB + 17, 6 * MiB),
            (BIG_SIZE - 3, BIG_SIZE),
            (BIG_SIZE - 1, BIG_SIZE + 100),  # runs past the end: fewer bytes
            (0, BIG_SIZE),
        ],
    )
    def test_get_range(self, store: ObjectStore, big: bytes, start: int, stop: int) -> None:
        store.put("jp/ff/big", [big])
        assert store.get_range("jp/ff/big", start, stop) == big[start:stop]

    @pytest.mark.parametrize(
        ("start", "stop"), [(BIG_SIZE, BIG_SIZE + 1), (BIG_SIZE + 5, BIG_SIZE + 9), (7, 7)]
    )
    def test_get_range_outside_or_empty_is_empty(
        self, store: ObjectStore, big: bytes, start: int, stop: int
    ) -> None:
        store.put("jp/ff/big", [big])
        assert store.get_range("jp/ff/big", start, stop) == b""

    def test_get_range_of_an_empty_object(self, store: ObjectStore) -> None:
        store.put("jp/0d/empty", [])
        assert store.get_range("jp/0d/empty", 0, 10) == b""

    def test_get_range_refuses_reversed_and_negative_ranges(self, store: ObjectStore) -> None:
        store.put("jp/0d/r", [b"0123456789"])
        with pytest.raises(InvalidInput):
            store.get_range("jp/0d/r", 5, 4)
        with pytest.raises(InvalidInput):
            store.get_range("jp/0d/r", -1, 4)

    def test_get_range_of_missing_object(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFound):
            store.get_range("jp/00/missing", 0, 10)
        with pytest.raises(ObjectNotFound):
            store.get_range("jp/00/missing", 3, 3)

    # -- head / missing -------------------------------------------------------

    def test_head_reports_size(self, store: ObjectStore) -> None:
        store.put("jp/0e/h", [b"x" * 1234])
        info = store.head("jp/0e/h")
        assert (info.key, info.size) == ("jp/0e/h", 1234)
        assert info.last_modified is not None and info.last_modified.tzinfo is not None

    def test_head_of_missing_object(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFound):
            store.head("jp/00/missing")

    def test_open_of_missing_object(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFound):
            store.open("jp/00/missing")

    def test_a_prefix_of_keys_is_not_an_object(self, store: ObjectStore) -> None:
        store.put("jp/10/x", [b"x"])
        with pytest.raises(ObjectNotFound):
            store.head("jp/10")

    # -- delete ---------------------------------------------------------------

    def test_delete_then_head_is_not_found(self, store: ObjectStore) -> None:
        store.put("jp/0f/d", [b"bye"])
        store.delete("jp/0f/d")
        with pytest.raises(ObjectNotFound):
            store.head("jp/0f/d")
        with pytest.raises(ObjectNotFound):
            store.open("jp/0f/d")
        assert list(store.list("jp/")) == []

    def test_delete_of_overwritten_object_removes_it(self, store: ObjectStore) -> None:
        store.put("jp/0f/v", [b"one"])
        store.put("jp/0f/v", [b"two"])
        store.delete("jp/0f/v")
        with pytest.raises(ObjectNotFound):
            store.head("jp/0f/v")

    def test_delete_leaves_neighbours(self, store: ObjectStore) -> None:
        for key in ("jp/0f/a", "jp/0f/ab", "jp/0f/a0/x"):
            store.put(key, [key.encode()])
        store.delete("jp/0f/a")
        assert [i.key for i in store.list()] == ["jp/0f/a0/x", "jp/0f/ab"]

    def test_delete_of_missing_key_is_fine(self, store: ObjectStore) -> None:
        store.delete("jp/00/never-written")
        store.put("jp/00/once", [b"1"])
        store.delete("jp/00/once")
        store.delete("jp/00/once")
        assert list(store.list()) == []

    # -- list -----------------------------------------------------------------

    KEYS = (
        "jp/0a/b-1",
        "jp/0a/b/1",  # sorts after "b-1" and before "b0": S3 compares '-' < '/' < '0'
        "jp/0a/b/2/deep",
        "jp/0a/b0",
        "jp/1f/x",
        "ph/0a/y",
        "jp/0a/a.x",
    )

    def test_list_is_ascending_and_paginated(self, store: ObjectStore) -> None:
        for key in self.KEYS:
            store.put(key, [key.encode()])
        listed = list(store.list("", page_size=2))
        assert [i.key for i in listed] == sorted(self.KEYS)
        assert {i.key: i.size for i in listed} == {k: len(k) for k in self.KEYS}

    @pytest.mark.parametrize(
        ("prefix", "expected"),
        [
            (
                "jp/",
                ["jp/0a/a.x", "jp/0a/b-1", "jp/0a/b/1", "jp/0a/b/2/deep", "jp/0a/b0", "jp/1f/x"],
            ),
            ("jp/0a/b", ["jp/0a/b-1", "jp/0a/b/1", "jp/0a/b/2/deep", "jp/0a/b0"]),
            ("jp/0a/b/", ["jp/0a/b/1", "jp/0a/b/2/deep"]),
            ("jp/1", ["jp/1f/x"]),
            ("ph", ["ph/0a/y"]),
            ("jp/0a/b/2/deep", ["jp/0a/b/2/deep"]),
            ("zz/", []),
            ("jp/0a/b-1/", []),
        ],
    )
    def test_list_by_prefix(self, store: ObjectStore, prefix: str, expected: list[str]) -> None:
        for key in self.KEYS:
            store.put(key, [key.encode()])
        assert [i.key for i in store.list(prefix, page_size=2)] == expected

    def test_list_resumes_after_a_key(self, store: ObjectStore) -> None:
        for key in self.KEYS:
            store.put(key, [key.encode()])
        ordered = sorted(self.KEYS)
        for start in [*ordered, "", "jp/0a/b", "jp/0a/b/", "jp/0a/b/2", "jp/0", "zz"]:
            listed = [i.key for i in store.list("", page_size=2, start_after=start)]
            assert listed == [k for k in ordered if k > start], start
        assert [i.key for i in store.list("jp/0a/b/", start_after="jp/0a/b/1")] == [
            "jp/0a/b/2/deep"
        ]

    def test_list_of_empty_store(self, store: ObjectStore) -> None:
        assert list(store.list()) == []
        assert list(store.list("jp/")) == []

    # -- location -------------------------------------------------------------

    def test_location(self, store: ObjectStore, expected_location: str) -> None:
        assert store.location() == expected_location
        store.health()

    # -- atomicity ------------------------------------------------------------

    def test_failing_chunk_source_leaves_no_object(self, store: ObjectStore) -> None:
        with pytest.raises(ChunkSourceFailed):
            store.put("jp/2a/broken", failing_after(os.urandom(9 * MiB)))
        with pytest.raises(ObjectNotFound):
            store.head("jp/2a/broken")
        assert list(store.list()) == []

    def test_failing_chunk_source_keeps_the_previous_version(self, store: ObjectStore) -> None:
        store.put("jp/2b/kept", [b"old"])
        with pytest.raises(ChunkSourceFailed):
            store.put("jp/2b/kept", failing_after(pattern(9 * MiB)))
        assert store.get_range("jp/2b/kept", 0, 100) == b"old"

    def test_failing_small_source_leaves_no_object(self, store: ObjectStore) -> None:
        with pytest.raises(ChunkSourceFailed):
            store.put("jp/2c/small", failing_after(b"tiny"))
        assert list(store.list()) == []

    # -- keys -----------------------------------------------------------------

    @pytest.mark.parametrize(
        "key",
        ["", "/jp/0a/x", "jp//x", "jp/../x", "..", "jp/./x", "jp/x/", "jp\\x", "jp/\x00x", "jp/é"],
    )
    def test_invalid_keys_are_refused(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(InvalidObjectKey):
            store.put(key, [b"x"])
        with pytest.raises(InvalidObjectKey):
            store.head(key)
        with pytest.raises(InvalidObjectKey):
            store.delete(key)
        assert list(store.list()) == []

    # -- Object Lock defaults -------------------------------------------------

    def test_protection_of_an_unprotected_object(self, store: ObjectStore) -> None:
        store.put("jp/3a/p", [b"p"])
        protection = store.protection("jp/3a/p")
        assert protection.retain_until is None and protection.legal_hold is False
        with pytest.raises(ObjectNotFound):
            store.protection("jp/00/missing")
