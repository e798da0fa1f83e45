"""LocalStore: the conformance suite plus what only a filesystem can get wrong."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.storage.conformance import (
    ChunkSourceFailed,
    ObjectStoreConformance,
    failing_after,
    pattern,
)
from vault.storage import InvalidObjectKey, LocalStore, ObjectNotFound, StoreUnavailable
from vault.storage import local as local_module


class TestLocalStoreConformance(ObjectStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalStore:
        return LocalStore(tmp_path / "objects", "jp-local-disk")

    @pytest.fixture
    def expected_location(self) -> str:
        return "jp-local-disk"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects", "jp-local-disk")


@pytest.fixture
def cold_store(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> LocalStore:
    """The store, with nothing in the page cache as far as it can tell (reads go direct)."""
    from vault.storage.tuning import direct

    monkeypatch.setattr(direct, "cached_bytes", lambda fd, offset, length: 0)
    return store


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_objects_are_files_under_the_root(store: LocalStore) -> None:
    store.put("jp/0a/rec", [b"sealed"])
    assert (store.root / "jp" / "0a" / "rec").read_bytes() == b"sealed"


def test_symlink_pointing_outside_is_refused(store: LocalStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (store.root / "jp").mkdir()
    (store.root / "jp" / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidObjectKey):
        store.head("jp/escape/secret")
    with pytest.raises(InvalidObjectKey):
        store.open("jp/escape/secret")
    with pytest.raises(InvalidObjectKey):
        store.put("jp/escape/planted", [b"x"])
    with pytest.raises(InvalidObjectKey):
        store.delete("jp/escape/secret")
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"
    assert list(store.list()) == []  # the symlink is not walked either


def test_symlinked_file_pointing_outside_is_refused(store: LocalStore, tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"outside")
    (store.root / "jp").mkdir()
    (store.root / "jp" / "link").symlink_to(tmp_path / "target")
    with pytest.raises(InvalidObjectKey):
        store.get_range("jp/link", 0, 3)


@pytest.mark.parametrize("key", ["../escape", "jp/../../escape", "/etc/passwd", "jp\\..\\x"])
def test_escaping_keys_write_nothing(store: LocalStore, tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidObjectKey):
        store.put(key, [b"x"])
    assert files_under(tmp_path) == ["objects"]


def test_temp_prefix_is_reserved(store: LocalStore) -> None:
    with pytest.raises(InvalidObjectKey):
        store.put("jp/.tmp-abc", [b"x"])


def test_failed_put_leaves_no_temp_file_and_no_directory(store: LocalStore) -> None:
    with pytest.raises(ChunkSourceFailed):
        store.put("jp/4a/broken", failing_after(pattern(3 * 1024 * 1024)))
    assert files_under(store.root) == []


def test_failed_put_keeps_sibling_directories(store: LocalStore) -> None:
    store.put("jp/4a/kept", [b"k"])
    with pytest.raises(ChunkSourceFailed):
        store.put("jp/4a/broken", failing_after(b"x"))
    assert files_under(store.root) == ["jp", "jp/4a", "jp/4a/kept"]


def test_delete_prunes_empty_directories_but_not_the_root(store: LocalStore) -> None:
    store.put("jp/5a/deep/x", [b"x"])
    store.put("jp/5b/y", [b"y"])
    store.delete("jp/5a/deep/x")
    assert files_under(store.root) == ["jp", "jp/5b", "jp/5b/y"]
    store.delete("jp/5b/y")
    assert files_under(store.root) == []
    assert store.root.is_dir()


def test_directory_is_not_an_object(store: LocalStore) -> None:
    store.put("jp/6a/x", [b"x"])
    with pytest.raises(ObjectNotFound):
        store.open("jp/6a")
    with pytest.raises(InvalidObjectKey):
        store.delete("jp/6a")
    assert store.get_range("jp/6a/x", 0, 1) == b"x"


def test_list_skips_temp_files(store: LocalStore) -> None:
    store.put("jp/7a/x", [b"x"])
    (store.root / "jp" / "7a" / ".tmp-crashed").write_bytes(b"partial")
    assert [i.key for i in store.list()] == ["jp/7a/x"]


def test_stale_temp_cleanup_removes_only_old_temp_files(store: LocalStore) -> None:
    store.put("jp/8a/x", [b"x"])
    old = store.root / "jp" / "8a" / ".tmp-old"
    old.write_bytes(b"left by a crash")
    lonely = store.root / "jp" / "8b" / ".tmp-alone"
    lonely.parent.mkdir()
    lonely.write_bytes(b"left by a crash")
    fresh = store.root / "jp" / "8a" / ".tmp-fresh"
    fresh.write_bytes(b"a put in progress")
    now = datetime.now(UTC)
    two_hours_ago = (now - timedelta(hours=2)).timestamp()
    for path in (old, lonely):
        os.utime(path, (two_hours_ago, two_hours_ago))

    stale = set(store.stale_temp_files(timedelta(hours=1), now=now))
    assert stale == {old, lonely}
    assert store.remove_stale_temp(timedelta(hours=1), now=now) == 2
    assert files_under(store.root) == ["jp", "jp/8a", "jp/8a/.tmp-fresh", "jp/8a/x"]
    assert store.remove_stale_temp(timedelta(hours=1), now=now) == 0


def test_put_fsyncs_file_and_directories(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(local_module.os, "fsync", recording_fsync)
    store.put("jp/9a/new", [b"durable"])
    # the temp file, the two new directories' parents, and the object's directory
    assert len(synced) == 4
    assert store.get_range("jp/9a/new", 0, 100) == b"durable"


def test_directory_fsync_refused_by_the_filesystem_is_tolerated(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def fsync_refusing_directories(fd: int) -> None:
        import stat

        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(local_module.os, "fsync", fsync_refusing_directories)
    store.put("jp/9b/x", [b"still written"])
    assert store.get_range("jp/9b/x", 0, 100) == b"still written"


def test_health_of_a_vanished_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "gone", "jp")
    store.health()
    (tmp_path / "gone").rmdir()
    with pytest.raises(StoreUnavailable):
        store.health()


def test_list_is_lazy(store: LocalStore) -> None:
    for i in range(5):
        store.put(f"jp/aa/{i}", [b"x"])
    listing = store.list("jp/")
    assert next(listing).key == "jp/aa/0"
    store.delete("jp/aa/3")  # a delete mid-walk is not an error
    assert [i.key for i in listing] == ["jp/aa/1", "jp/aa/2", "jp/aa/4"]


# -- ranges read with O_DIRECT (vault/storage/tuning/direct.py) ----------------------------


class TestLocalStoreColdConformance(ObjectStoreConformance):
    """The same contract when no object is in the page cache: large reads go O_DIRECT."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStore:
        from vault.storage.tuning import direct

        monkeypatch.setattr(direct, "cached_bytes", lambda fd, offset, length: 0)
        return LocalStore(tmp_path / "objects", "jp-local-disk")

    @pytest.fixture
    def expected_location(self) -> str:
        return "jp-local-disk"


class TestLocalStoreBufferedConformance(ObjectStoreConformance):
    """The same contract with O_DIRECT turned off (``direct_ranges``, ``direct_reads = false``)."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalStore:
        return LocalStore(
            tmp_path / "objects", "jp-local-disk", direct_ranges=False, direct_reads=False
        )

    @pytest.fixture
    def expected_location(self) -> str:
        return "jp-local-disk"


DIRECT_SIZE = 5 * 1024 * 1024 + 333
DIRECT_RANGES = [
    (0, 256 * 1024),  # the shortest range read directly
    (12345, 12345 + 1024 * 1024),  # unaligned both ends
    (1024 * 1024 - 1, 3 * 1024 * 1024 + 31),  # the largest span the pooled buffers take
    (DIRECT_SIZE - 300 * 1024, DIRECT_SIZE + 4096),  # runs past the end
    (DIRECT_SIZE - 256 * 1024 + 1, DIRECT_SIZE),  # ends exactly at an unaligned end
    (4096, 4096 + 2 * 1024 * 1024),  # aligned both ends
]


@pytest.mark.parametrize(("start", "stop"), DIRECT_RANGES)
def test_direct_range_reads_match_the_bytes(cold_store: LocalStore, start: int, stop: int) -> None:
    data = pattern(DIRECT_SIZE)
    cold_store.put("jp/0e/direct", [data])
    assert cold_store.get_range("jp/0e/direct", start, stop) == data[start:stop]


def test_direct_range_read_of_a_file_with_unwritten_pages(cold_store: LocalStore) -> None:
    # Written without fsync: its pages are dirty; a direct read must still see them.
    data = pattern(3 * 1024 * 1024)
    (cold_store.root / "jp" / "0e").mkdir(parents=True)
    (cold_store.root / "jp" / "0e" / "dirty").write_bytes(data)
    assert (
        cold_store.get_range("jp/0e/dirty", 777, 777 + 2 * 1024 * 1024)
        == data[777 : 777 + 2 * 1024 * 1024]
    )


def test_direct_range_reads_fall_back_where_o_direct_is_refused(
    cold_store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import fcntl

    from vault.storage.tuning import direct

    real = fcntl.fcntl
    refusals: list[int] = []

    def refusing(fd: int, cmd: int, arg: int = 0) -> int:
        if cmd == fcntl.F_SETFL and arg & os.O_DIRECT:
            refusals.append(fd)
            raise OSError(errno.EINVAL, "O_DIRECT not supported")
        return real(fd, cmd, arg)

    data = pattern(DIRECT_SIZE)
    cold_store.put("jp/0e/refused", [data])
    monkeypatch.setattr(direct.fcntl, "fcntl", refusing)
    monkeypatch.setattr(direct, "_refused", set())
    for start, stop in DIRECT_RANGES:
        assert cold_store.get_range("jp/0e/refused", start, stop) == data[start:stop]
    # refused once, then remembered for that file system: later reads go buffered at once
    assert len(refusals) == 1
    assert direct._refused == {os.stat(cold_store.root).st_dev}


def test_direct_range_reads_keep_a_bounded_pool(cold_store: LocalStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from vault.storage.tuning import direct

    data = pattern(DIRECT_SIZE)
    cold_store.put("jp/0e/pool", [data])
    start, stop = DIRECT_RANGES[2]

    def read(_: int) -> bool:
        return cold_store.get_range("jp/0e/pool", start, stop) == data[start:stop]

    with ThreadPoolExecutor(12) as pool:
        assert all(pool.map(read, range(96)))
    assert direct._pool.qsize() <= direct.POOL_BUFFERS


# -- batches: puts flushed together (RecordVault.put_records) --------------------


def test_batch_puts_are_readable_and_flushed_by_one_syncfs(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real = local_module._syncfs

    def counting(directory: Path) -> bool:
        calls.append(directory)
        return real(directory)

    monkeypatch.setattr(local_module, "_syncfs", counting)
    store.put("jp/0a/first", [b"makes the directory"])
    fsyncs: list[int] = []
    monkeypatch.setattr(local_module.os, "fsync", lambda fd: fsyncs.append(fd))
    batch = store.batch()
    objects = {f"jp/0a/b{i}": pattern(1000 + i) for i in range(20)}
    for key, data in objects.items():
        batch.put(key, [data])
    assert fsyncs == []  # nothing flushed per object
    batch.commit()
    assert calls == [store.root]
    for key, data in objects.items():
        with store.open(key) as stream:
            assert stream.read() == data
    batch.commit()  # nothing new: no second flush
    assert calls == [store.root]


def test_batch_without_syncfs_fsyncs_each_file_and_directory_once(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "_LIBC", None)
    files: list[Path] = []
    dirs: list[Path] = []
    monkeypatch.setattr(local_module, "_fsync_file", files.append)
    monkeypatch.setattr(local_module, "_fsync_dir", dirs.append)
    batch = store.batch()
    keys = ["jp/01/a", "jp/01/b", "jp/02/c"]
    for key in keys:
        batch.put(key, [b"x" * 10])
    dirs.clear()  # new directories are made durable as they are created
    batch.commit()
    assert sorted(files) == [store.root / k for k in keys]
    assert dirs == [store.root / "jp" / "01", store.root / "jp" / "02"]


def test_batch_flush_failure_is_store_unavailable(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(directory: Path) -> bool:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(local_module, "_syncfs", failing)
    batch = store.batch()
    batch.put("jp/03/x", [b"data"])
    with pytest.raises(StoreUnavailable, match="EIO while flushing"):
        batch.commit()


def test_syncfs_is_available_on_linux(store: LocalStore) -> None:
    import sys

    assert local_module._syncfs(store.root) is sys.platform.startswith("linux")
