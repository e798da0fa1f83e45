"""LocalStore: objects as files under one root directory, written atomically.

A put writes to a temp file beside its target, fsyncs it, renames it into
place and fsyncs the directory, so a reader sees the whole object or none.
While it writes, it asks the kernel to start writing back every 8 MiB it has
written (``tuning.writeback``), so the closing fsync has little left to wait
for; a batch of puts is flushed once with ``syncfs(2)`` instead. Temp files
start with ``.tmp-``; a crash can leave them behind, and ``remove_stale_temp``
(run by ``recvault gc``) clears them. Reads live in ``local_reads``, the
ordered walk of a listing in ``local_listing``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from vault.errors import InvalidInput
from vault.storage.base import (
    InvalidObjectKey,
    ObjectInfo,
    ObjectStore,
    PutBatch,
    StoreUnavailable,
)
from vault.storage.local_listing import walk_keys
from vault.storage.local_reads import (
    file_info,
    object_metadata,
    object_range,
    object_stream,
    open_object_fd,
    os_error,
)
from vault.storage.naming import TEMP_PREFIX, check_key, check_prefix
from vault.storage.tuning.libc import libc
from vault.storage.tuning.pipeline import write_behind
from vault.storage.tuning.writeback import WRITEBACK_WINDOW, EarlyWriteback

# Still importable from here, where callers found them before the split.
__all__ = ["TEMP_PREFIX", "WRITEBACK_WINDOW", "LocalStore"]

# A concurrent delete may prune the directory a put has just created.
_PUT_DIR_ATTEMPTS = 5


class LocalStore(ObjectStore):
    """Objects as files: key ``a/b/c`` lives at ``root/a/b/c``."""

    parallel_puts = 1  # page-cache writes; a batch is flushed once at its commit

    def __init__(
        self,
        root: Path,
        location_label: str,
        direct_ranges: bool = True,
        direct_reads: bool = True,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._root = root.resolve(strict=True)
        self._label = location_label
        self._direct_ranges = direct_ranges
        self._direct_reads = direct_reads

    @property
    def root(self) -> Path:
        return self._root

    # -- keys -----------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file path of ``key``, refusing anything that leaves the root."""
        check_key(key)  # also refuses absolute keys, .., NUL and backslashes
        path = self._root / key
        if not path.resolve(strict=False).is_relative_to(self._root):
            raise InvalidObjectKey(f"object key {key!r} resolves outside the store")
        return path

    def _inside(self, path: Path) -> bool:
        return path.resolve(strict=False).is_relative_to(self._root)

    # -- writing --------------------------------------------------------------

    def put(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        return self._put(key, chunks, sync=True)

    def batch(self) -> PutBatch:
        return _LocalBatch(self)

    def _put(self, key: str, chunks: Iterable[bytes], *, sync: bool) -> ObjectInfo:
        path = self._path(key)
        fd, tmp = self._temp_file(path.parent)
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                write_behind(chunks, EarlyWriteback(out).write)
                if sync:
                    os.fsync(out.fileno())
                written = os.fstat(out.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            self._prune(path.parent)
            if isinstance(exc, OSError):
                raise os_error(exc, "writing an object") from exc
            raise
        if sync:
            _fsync_dir(path.parent)
        return file_info(key, written)  # the file just renamed into place: no second lookup

    def _temp_file(self, directory: Path) -> tuple[int, str]:
        for _ in range(_PUT_DIR_ATTEMPTS):
            try:
                self._make_dirs(directory)
                return tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise os_error(exc, "creating a temp file") from exc
        raise StoreUnavailable("local store: directory kept vanishing during put")

    def _make_dirs(self, directory: Path) -> None:
        missing: list[Path] = []
        current = directory
        while current != self._root and not current.is_dir():
            missing.append(current)
            current = current.parent
        for created in reversed(missing):
            with contextlib.suppress(FileExistsError):
                created.mkdir()
            if not self._inside(created):
                raise InvalidObjectKey("object key resolves outside the store")
            # The new directory's name must survive a crash as well as the file.
            _fsync_dir(created.parent)

    # -- reading --------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        return object_stream(open_object_fd(self._path(key), key), direct=self._direct_reads)

    def get_range(self, key: str, start: int, stop: int) -> bytes:
        if start < 0 or stop < start:
            raise InvalidInput(f"byte range [{start}, {stop}) is not a valid range")
        fd = open_object_fd(self._path(key), key)
        return object_range(fd, start, stop, direct=self._direct_ranges)

    def head(self, key: str) -> ObjectInfo:
        return object_metadata(self._path(key), key)

    def location(self) -> str:
        return self._label

    def health(self) -> None:
        if not self._root.is_dir() or not os.access(self._root, os.W_OK | os.X_OK):
            raise StoreUnavailable("local store: root directory is missing or not writable")

    # -- deleting -------------------------------------------------------------

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError as exc:
            raise InvalidObjectKey(f"object key {key!r} names a directory") from exc
        except OSError as exc:
            raise os_error(exc, "deleting an object") from exc
        _fsync_dir(path.parent)
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove empty directories from ``directory`` up to (not including) the root."""
        current = directory
        while current != self._root and current.is_relative_to(self._root):
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent

    # -- listing --------------------------------------------------------------

    def list(
        self, prefix: str = "", page_size: int = 1000, *, start_after: str = ""
    ) -> Iterator[ObjectInfo]:
        if page_size < 1:
            raise InvalidInput("page_size must be at least 1")
        check_prefix(prefix)
        dir_part, _, name_part = prefix.rpartition("/")
        start = self._root / dir_part if dir_part else self._root
        if not start.is_dir() or not self._inside(start):
            return
        base = f"{dir_part}/" if dir_part else ""
        yield from walk_keys(start, base, name_part, start_after)

    # -- crash leftovers ------------------------------------------------------

    def stale_temp_files(
        self, older_than: timedelta, now: datetime | None = None
    ) -> Iterator[Path]:
        """Temp files left by interrupted puts, last modified before ``now - older_than``."""
        cutoff = ((now or datetime.now(UTC)) - older_than).timestamp()
        for dirpath, _dirnames, filenames in os.walk(self._root):
            for name in filenames:
                if not name.startswith(TEMP_PREFIX):
                    continue
                path = Path(dirpath, name)
                try:
                    if path.lstat().st_mtime < cutoff:
                        yield path
                except FileNotFoundError:
                    continue

    def remove_stale_temp(
        self, older_than: timedelta, now: datetime | None = None, *, dry_run: bool = False
    ) -> int:
        """Delete stale temp files (see ``stale_temp_files``); return how many went."""
        stale = list(self.stale_temp_files(older_than, now))
        if dry_run:
            return len(stale)
        removed = 0
        for path in stale:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
            self._prune(path.parent)
        return removed


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems refuse fsync on directories; the rename is still atomic.
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


class _LocalBatch(PutBatch):
    """Puts without their own fsyncs; ``commit`` flushes them all with one ``syncfs``.

    ``syncfs(2)`` writes back the whole file system once (one journal commit)
    instead of a file fsync and a directory fsync per object: 10,000 objects of
    4 KiB went from ~2,000 fsyncs per 1,000 records to one call (docs/benchmarks.md,
    P5). PostgreSQL offers the same for its data directory
    (``recovery_init_sync_method = syncfs``). Without syncfs (not Linux), commit
    fsyncs each file and each directory once.
    """

    def __init__(self, store: LocalStore) -> None:
        super().__init__(store)
        self._local = store
        self._lock = threading.Lock()
        self._paths: list[Path] = []

    def put(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        info = self._local._put(key, chunks, sync=False)
        with self._lock:
            self._paths.append(self._local.root / key)
        return info

    def commit(self) -> None:
        with self._lock:
            paths, self._paths = self._paths, []
        if not paths:
            return
        try:
            if not _syncfs(self._local.root):
                for path in paths:
                    _fsync_file(path)
                for directory in sorted({path.parent for path in paths}):
                    _fsync_dir(directory)
        except OSError as exc:
            raise os_error(exc, "flushing a batch of objects") from exc


def _syncfs(directory: Path) -> bool:
    """``syncfs(2)`` on the file system holding ``directory``; False where there is none."""
    syncfs = getattr(_LIBC, "syncfs", None) if _LIBC is not None else None
    if syncfs is None:
        return False
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)
    return True


_LIBC = libc()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
