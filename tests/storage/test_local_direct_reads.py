"""Whole-object reads with O_DIRECT and read-ahead (storage/tuning/direct.py, DirectReader)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.storage.conformance import pattern
from vault.errors import IntegrityError
from vault.format.envelope import KeyBlock, ObjectContext, open_stream, seal
from vault.storage import LocalStore
from vault.storage.tuning import direct
from vault.storage.tuning.cachestat import cached_bytes

MiB = 1024 * 1024
SIZES = [
    direct.DIRECT_STREAM_MIN_BYTES,  # the smallest object read this way
    direct.DIRECT_STREAM_MIN_BYTES + 1,
    (direct.READ_AHEAD + 2) * direct.CHUNK_BYTES,  # whole chunks, more than one ring's worth
    9 * MiB + 4097,  # a ragged last chunk
]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStore:
    """A local store whose objects all look cold (nothing in the page cache)."""
    monkeypatch.setattr(direct, "cached_bytes", lambda fd, offset, length: 0)
    return LocalStore(tmp_path / "objects", "jp-local-disk")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


Preadv = Callable[[int, list[memoryview], int], int]


def intercept_preadv(
    monkeypatch: pytest.MonkeyPatch, hook: Callable[[Preadv, int, list[memoryview], int], int]
) -> None:
    """Route every ``os.preadv`` through ``hook(real_preadv, fd, buffers, offset)``."""
    real = os.preadv
    monkeypatch.setattr(direct.os, "preadv", lambda fd, bufs, offset: hook(real, fd, bufs, offset))


@pytest.mark.parametrize("size", SIZES)
def test_whole_reads_go_direct_and_match_the_bytes(store: LocalStore, size: int) -> None:
    data = pattern(size)
    store.put("jp/0d/whole", [data])
    with store.open("jp/0d/whole") as stream:
        assert isinstance(stream, direct.DirectReader)
        assert stream.read() == data
        assert stream.read(1) == b""


def test_small_objects_are_read_buffered(store: LocalStore) -> None:
    data = pattern(direct.DIRECT_STREAM_MIN_BYTES - 1)
    store.put("jp/0d/small", [data])
    with store.open("jp/0d/small") as stream:
        assert not isinstance(stream, direct.DirectReader)
        assert stream.read() == data


def test_direct_reads_off_reads_buffered(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects", "jp-local-disk", direct_reads=False)
    data = pattern(SIZES[-1])
    store.put("jp/0d/off", [data])
    with store.open("jp/0d/off") as stream:
        assert not isinstance(stream, direct.DirectReader)
        assert stream.read() == data


@pytest.mark.slow  # 25 random sequences; reads in pieces: test_local.py, cold conformance
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=st.lists(st.integers(min_value=1, max_value=3 * MiB), min_size=1, max_size=12))
def test_reads_of_any_sizes_see_the_bytes_in_order(store: LocalStore, sizes: list[int]) -> None:
    data = pattern(SIZES[-1], seed=7)
    if not (store.root / "jp" / "0d" / "sizes").exists():
        store.put("jp/0d/sizes", [data])
    got = bytearray()
    with store.open("jp/0d/sizes") as stream:
        for size in sizes:
            buffer = bytearray(size)
            n = stream.readinto(buffer)
            assert n == min(size, len(data) - len(got))
            got += buffer[:n]
        got += stream.read()
    assert bytes(got) == data


def test_closing_early_releases_descriptors_and_buffers(store: LocalStore) -> None:
    store.put("jp/0d/early", [pattern(SIZES[-1])])
    before = open_fds()
    for _ in range(20):
        with store.open("jp/0d/early") as stream:
            assert len(stream.read(MiB + 16)) == MiB + 16  # chunks still in flight
    assert open_fds() == before
    limit = direct.MAX_DIRECT_READERS * (direct.READ_AHEAD + 1) + direct.SLAB_CHUNKS
    assert direct._chunks.qsize() <= limit


def test_direct_reads_fall_back_where_the_file_system_refuses_them(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pattern(SIZES[-1])
    store.put("jp/0d/refused", [data])
    refused: list[int] = []

    def refusing(real: Preadv, fd: int, buffers: list[memoryview], offset: int) -> int:
        if _is_direct(fd):
            refused.append(offset)
            raise OSError(errno.EINVAL, "O_DIRECT not supported")
        return real(fd, buffers, offset)

    intercept_preadv(monkeypatch, refusing)
    monkeypatch.setattr(direct, "_refused", set())
    with store.open("jp/0d/refused") as stream:
        assert stream.read() == data
    assert refused  # the direct read was tried, refused, and the bytes came buffered
    assert direct._refused == {os.stat(store.root).st_dev}
    with store.open("jp/0d/refused") as stream:  # remembered: buffered from the start
        assert not isinstance(stream, direct.DirectReader)
        assert stream.read() == data


def _is_direct(fd: int) -> bool:
    import fcntl

    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def test_a_failing_read_surfaces_to_the_reader(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("jp/0d/eio", [pattern(SIZES[-1])])

    def failing(real: Preadv, fd: int, buffers: list[memoryview], offset: int) -> int:
        if offset >= 3 * direct.CHUNK_BYTES:
            raise OSError(errno.EIO, "I/O error")
        return real(fd, buffers, offset)

    intercept_preadv(monkeypatch, failing)
    before = open_fds()
    with pytest.raises(OSError, match="I/O error"), store.open("jp/0d/eio") as stream:
        stream.read()
    assert open_fds() == before


# -- the object format read through DirectReader: truncation and appended bytes ----------


CONTEXT = ObjectContext("rec-direct", 1, "subj-direct", "JP")
KEY = KeyBlock("subj-direct", 1, b"vault:v1:" + bytes(60))


def sealed_object(store: LocalStore, key: str, size: int) -> Path:
    data = pattern(size, seed=3)
    store.put(
        key, seal([data], dek=bytes(32), key_block=KEY, context=CONTEXT, plaintext_length=size)
    )
    return store.root / key


def read_all(store: LocalStore, key: str) -> bytes:
    with store.open(key) as stream:
        assert isinstance(stream, direct.DirectReader)
        return b"".join(open_stream(stream, dek=bytes(32), context=CONTEXT))


def test_sealed_object_round_trips_through_direct_reads(store: LocalStore) -> None:
    sealed_object(store, "jp/0d/sealed", 6 * MiB + 5)
    assert read_all(store, "jp/0d/sealed") == pattern(6 * MiB + 5, seed=3)


@pytest.mark.parametrize("cut", [1, 16, MiB + 16, MiB + 17])
def test_truncated_object_read_direct_is_an_integrity_error(store: LocalStore, cut: int) -> None:
    path = sealed_object(store, "jp/0d/cut", 6 * MiB + 5)
    os.truncate(path, path.stat().st_size - cut)
    with pytest.raises(IntegrityError, match="truncated"):
        read_all(store, "jp/0d/cut")


def test_appended_bytes_read_direct_are_an_integrity_error(store: LocalStore) -> None:
    path = sealed_object(store, "jp/0d/appended", 6 * MiB + 5)
    with path.open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(IntegrityError, match="trailing"):
        read_all(store, "jp/0d/appended")


# -- cold objects read direct, cached ones buffered (the real cachestat(2)) ---------------


def drop_from_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # clean pages: put fsynced them
    finally:
        os.close(fd)


def test_cached_bytes_reports_the_page_cache(tmp_path: Path) -> None:
    path = tmp_path / "probe"
    path.write_bytes(pattern(8 * MiB))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        assert cached_bytes(fd, 0, 8 * MiB) == 0
        os.pread(fd, 8 * MiB, 0)
        assert cached_bytes(fd, 0, 8 * MiB) == 8 * MiB
        assert cached_bytes(fd, 2 * MiB, MiB) == MiB
    finally:
        os.close(fd)


def test_cold_objects_go_direct_and_cached_ones_buffered(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects", "jp-local-disk")
    data = pattern(SIZES[-1])
    store.put("jp/0d/cache", [data])
    # read once, buffered: its pages are cached (a put's early writeback may already
    # have dropped some it wrote back, more of them on a busy machine)
    assert (store.root / "jp/0d/cache").read_bytes() == data
    with store.open("jp/0d/cache") as stream:
        assert not isinstance(stream, direct.DirectReader)
        assert stream.read() == data
    drop_from_cache(store.root / "jp/0d/cache")
    with store.open("jp/0d/cache") as stream:
        assert isinstance(stream, direct.DirectReader)
        assert stream.read() == data


def test_cached_ranges_are_read_buffered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "objects", "jp-local-disk")
    data = pattern(SIZES[-1])
    store.put("jp/0d/range", [data])
    assert (store.root / "jp/0d/range").read_bytes() == data  # cached (see above)
    direct_reads: list[int] = []
    real = direct._read_direct

    def spy(fd: int, buffer: object, offset: int, length: int) -> int | None:
        direct_reads.append(offset)
        return real(fd, buffer, offset, length)  # type: ignore[arg-type]

    monkeypatch.setattr(direct, "_read_direct", spy)
    start, stop = 12345, 12345 + MiB
    assert store.get_range("jp/0d/range", start, stop) == data[start:stop]
    assert direct_reads == []  # cached: buffered
    drop_from_cache(store.root / "jp/0d/range")
    assert store.get_range("jp/0d/range", start, stop) == data[start:stop]
    assert direct_reads == [start - start % direct.ALIGN]


def free_reader_slots() -> int:
    return direct._readers._value  # type: ignore[attr-defined]


def test_at_most_max_direct_readers_are_open_at_once(store: LocalStore) -> None:
    data = pattern(SIZES[0])
    store.put("jp/0d/many", [data])
    slots = free_reader_slots()
    readers = [store.open("jp/0d/many") for _ in range(slots + 2)]
    try:
        kinds = [isinstance(r, direct.DirectReader) for r in readers]
        assert kinds == [True] * slots + [False, False]  # the rest read buffered
        assert all(r.read() == data for r in readers)
    finally:
        for r in readers:
            r.close()
    assert free_reader_slots() == slots
    with store.open("jp/0d/many") as stream:  # a slot is free again
        assert isinstance(stream, direct.DirectReader)


def test_a_reader_that_cannot_start_releases_everything(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("jp/0d/nomem", [pattern(SIZES[-1])])
    real = direct._get_chunk
    calls: list[int] = []

    def failing() -> object:
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("no buffer")
        return real()

    monkeypatch.setattr(direct, "_get_chunk", failing)
    slots, before = free_reader_slots(), open_fds()
    with pytest.raises(MemoryError):
        store.open("jp/0d/nomem")
    assert (free_reader_slots(), open_fds()) == (slots, before)


def test_after_a_failed_chunk_every_read_fails(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pattern(SIZES[-1])
    store.put("jp/0d/poison", [data])

    def failing(real: Preadv, fd: int, buffers: list[memoryview], offset: int) -> int:
        if offset == direct.CHUNK_BYTES:
            raise OSError(errno.EIO, "I/O error")
        return real(fd, buffers, offset)

    intercept_preadv(monkeypatch, failing)
    with store.open("jp/0d/poison") as stream:
        assert stream.read(direct.CHUNK_BYTES) == data[: direct.CHUNK_BYTES]
        for _ in range(2):  # never the bytes after the failed chunk
            with pytest.raises(OSError, match="I/O error"):
                stream.read(10)


def test_a_short_direct_read_finishes_buffered_without_blaming_the_file_system(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pattern(SIZES[-1])
    store.put("jp/0d/short", [data])
    shortened: list[int] = []

    def short_once(real: Preadv, fd: int, buffers: list[memoryview], offset: int) -> int:
        if _is_direct(fd) and offset == 2 * direct.CHUNK_BYTES and not shortened:
            shortened.append(offset)
            real(fd, buffers, offset)
            return 3 * 4096 + 100  # as if the read had stopped at an unaligned length
        return real(fd, buffers, offset)

    intercept_preadv(monkeypatch, short_once)
    monkeypatch.setattr(direct, "_refused", set())
    with store.open("jp/0d/short") as stream:
        assert stream.read() == data
    assert shortened and direct._refused == set()
