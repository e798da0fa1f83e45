"""Reads for LocalStore with O_DIRECT into pooled, huge-page buffers (docs/adr/0003).

Archived records are read cold; reading them around the page cache is faster
here and does not evict the metadata DB. ``read_range`` reads a range's
covering 4 KiB-aligned span into one of a few pooled buffers; ``DirectReader``
streams a whole object with ``READ_AHEAD`` 2 MiB chunks in flight on a shared
pool. Short ranges, spans at least half cached (``cachestat(2)``) and file
systems that refuse O_DIRECT read buffered. Objects are immutable once
renamed into place, so bypassing the cache never returns stale bytes. Memory
is bounded: ``POOL_BUFFERS`` range buffers, and at most ``MAX_DIRECT_READERS``
streams each holding ``READ_AHEAD`` + 1 chunks.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import io
import mmap
import os
import queue
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING

from vault.pools import shared_pool
from vault.storage.tuning.cachestat import cached_bytes

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

ALIGN = 4096
#: Spans up to two sealed segments and their alignment slack use the pooled buffers.
BUFFER_BYTES = 2 * (1024 * 1024 + 16) + 2 * ALIGN
POOL_BUFFERS = 4
#: Shorter ranges are read buffered: for them the page cache costs little.
DIRECT_MIN_BYTES = 256 * 1024

#: Whole-object reads: chunk size, chunks in flight per reader, threads for all readers.
CHUNK_BYTES = 2 * 1024 * 1024
READ_AHEAD = 4
READ_THREADS = 2
MAX_DIRECT_READERS = 8
#: Chunks are carved from 2 MiB-aligned slabs of this many (see _aligned_region).
SLAB_CHUNKS = 4
#: Smaller objects are read buffered (a few reads; no read-ahead to gain).
DIRECT_STREAM_MIN_BYTES = 4 * 1024 * 1024

_O_DIRECT = getattr(os, "O_DIRECT", None)
_HUGE_PAGE = 2 * 1024 * 1024
_pool: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
_chunks: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
_regions: list[mmap.mmap] = []  # the slabs behind _pool and _chunks, kept for the process
_readers = threading.BoundedSemaphore(MAX_DIRECT_READERS)
_refused: set[int] = set()  # st_dev of file systems that refused O_DIRECT
_regions_lock = threading.Lock()
_range_buffers = 0  # pooled range buffers made so far (at most POOL_BUFFERS)


def read_range(fd: int, start: int, stop: int) -> bytes:
    """``stop - start`` bytes from ``start`` of the open file ``fd`` (fewer at its end)."""
    size = stop - start
    first, last = start - start % ALIGN, -(-stop // ALIGN) * ALIGN
    if (
        _O_DIRECT is None
        or size < DIRECT_MIN_BYTES
        or last - first > BUFFER_BYTES
        or os.fstat(fd).st_dev in _refused
        or _mostly_cached(fd, first, last - first)
    ):
        return os.pread(fd, size, start)
    with _buffer() as buffer:
        got = _read_direct(fd, buffer, first, last - first)
        if got is None:
            return os.pread(fd, size, start)
        skip = start - first
        return bytes(memoryview(buffer)[skip : min(skip + size, got)]) if got > skip else b""


def _mostly_cached(fd: int, offset: int, length: int) -> bool:
    cached = cached_bytes(fd, offset, length)
    return cached is not None and cached * 2 >= length


def _read_direct(fd: int, buffer: memoryview | mmap.mmap, offset: int, length: int) -> int | None:
    """Read ``length`` aligned bytes at ``offset`` with O_DIRECT; None where refused."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | _O_DIRECT)  # type: ignore[operator]
        view = memoryview(buffer)[:length]
        try:
            return os.preadv(fd, [view], offset)
        finally:
            view.release()
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        _refused.add(os.fstat(fd).st_dev)
        return None
    finally:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)


@contextlib.contextmanager
def _buffer() -> Iterator[memoryview | mmap.mmap]:
    """A page-aligned buffer: pooled (at most ``POOL_BUFFERS``), else a one-off mapping."""
    try:
        buffer: memoryview | mmap.mmap = _pool.get_nowait()
    except queue.Empty:
        buffer = _new_range_buffer()
    try:
        yield buffer
    finally:
        if isinstance(buffer, memoryview):
            _pool.put(buffer)
        else:
            buffer.close()


def _new_range_buffer() -> memoryview | mmap.mmap:
    global _range_buffers
    with _regions_lock:
        if _range_buffers < POOL_BUFFERS:
            _range_buffers += 1
            return _aligned_region(2 * _HUGE_PAGE)[:BUFFER_BYTES]
    return mmap.mmap(-1, BUFFER_BYTES)


def _aligned_region(nbytes: int) -> memoryview:
    """``nbytes`` of private memory aligned to 2 MiB, in transparent huge pages if allowed.

    O_DIRECT reads into huge pages ran ~1.6x faster here than into 4 KiB pages
    (1 MiB reads, two in flight: 2,300-2,900 vs 1,400-1,500 MiB/s; docs/benchmarks.md,
    P2): the device is handed a few contiguous spans instead of 256 pages per MiB.
    Regions are never unmapped; their number is bounded by the pools that use them.
    """
    region = mmap.mmap(-1, nbytes + _HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is not None:
        with contextlib.suppress(OSError):  # THP disabled or not built in: 4 KiB pages
            region.madvise(advice)
    address = ctypes.addressof(ctypes.c_char.from_buffer(region))
    skip = -address % _HUGE_PAGE
    _regions.append(region)
    return memoryview(region)[skip : skip + nbytes]


def open_direct(fd: int) -> DirectReader | None:
    """A read-ahead stream over the open file ``fd``; None where it should be read buffered.

    None for small files, for files at least half in the page cache, and where
    O_DIRECT is unavailable or refused. The returned reader owns ``fd``;
    otherwise, and if this raises, the caller keeps it.
    """
    if _O_DIRECT is None:
        return None
    st = os.fstat(fd)
    if st.st_size < DIRECT_STREAM_MIN_BYTES or st.st_dev in _refused:
        return None
    if _mostly_cached(fd, 0, st.st_size):
        return None  # mostly in the page cache (just written or read): a copy from memory
    if not _readers.acquire(blocking=False):
        return None  # MAX_DIRECT_READERS are open: this one reads buffered
    try:
        direct_fd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC | _O_DIRECT)
    except OSError as exc:
        _readers.release()
        if exc.errno == errno.EINVAL:
            _refused.add(st.st_dev)
        return None  # no /proc, or O_DIRECT refused: read buffered
    except BaseException:
        _readers.release()
        raise
    reader = DirectReader(fd, direct_fd, st.st_size, st.st_dev)  # releases the slot on close
    try:
        reader.start()
    except BaseException:
        reader.abandon()
        raise
    return reader


class DirectReader(io.RawIOBase):
    """Sequential reads of one file, ``READ_AHEAD`` O_DIRECT chunks ahead of the caller.

    Not thread-safe: one consumer at a time. Reads go to the shared
    ``recvault-direct-read`` pool; a read the file system refuses (EINVAL) is
    repeated buffered on the plain descriptor, and so are the rest.
    """

    def __init__(self, fd: int, direct_fd: int, size: int, dev: int) -> None:
        super().__init__()
        self._fd, self._direct_fd, self._size, self._dev = fd, direct_fd, size, dev
        self._direct = True
        self._pool = shared_pool("direct-read", READ_THREADS)
        self._in_flight: deque[tuple[memoryview, Future[int]]] = deque()
        self._next_offset = 0
        self._chunk: memoryview | None = None
        self._chunk_buffer: memoryview | None = None
        self._chunk_pos = self._chunk_len = 0
        self._failed: BaseException | None = None

    def start(self) -> None:
        """Start the first ``READ_AHEAD`` reads."""
        for _ in range(READ_AHEAD):
            self._schedule()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._failed is not None:
            # A failed chunk is never skipped: every later read fails the same way.
            raise self._failed
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < view.nbytes:
            if self._chunk_pos >= self._chunk_len and not self._next_chunk():
                break
            assert self._chunk is not None
            n = min(view.nbytes - filled, self._chunk_len - self._chunk_pos)
            view[filled : filled + n] = self._chunk[self._chunk_pos : self._chunk_pos + n]
            self._chunk_pos += n
            filled += n
        return filled

    def close(self) -> None:
        self._shut(close_fd=True)

    def abandon(self) -> None:
        """Release everything but ``fd``, which stays open for the caller."""
        self._shut(close_fd=False)

    def _shut(self, *, close_fd: bool) -> None:
        if self.closed:
            return
        try:
            self._release_chunk()
            while self._in_flight:
                buffer, future = self._in_flight.popleft()
                # A read that already started must finish before its buffer is reused.
                if not future.cancel():
                    wait([future])
                _put_chunk(buffer)
            os.close(self._direct_fd)
            if close_fd:
                os.close(self._fd)
        finally:
            _readers.release()  # taken by open_direct for this reader
            super().close()

    def _schedule(self) -> None:
        if self._next_offset >= self._size:
            return
        buffer = _get_chunk()
        offset, self._next_offset = self._next_offset, self._next_offset + CHUNK_BYTES
        self._in_flight.append((buffer, self._pool.submit(self._read, buffer, offset)))

    def _read(self, buffer: memoryview, offset: int) -> int:
        """Fill ``buffer`` from ``offset`` (less only at the end of the file)."""
        view = memoryview(buffer)
        filled = 0
        try:
            while filled < view.nbytes:
                got = self._pread(view[filled:], offset + filled)
                if not got:
                    break
                filled += got
            return filled
        finally:
            view.release()

    def _pread(self, view: memoryview, offset: int) -> int:
        # After a short read the rest may be unaligned: that part goes buffered.
        aligned = offset % ALIGN == 0 and view.nbytes % ALIGN == 0
        if self._direct and aligned:
            try:
                return os.preadv(self._direct_fd, [view], offset)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._direct = False  # refused here: this read and the rest go buffered
                _refused.add(self._dev)
        return os.preadv(self._fd, [view], offset)

    def _next_chunk(self) -> bool:
        self._release_chunk()
        if not self._in_flight:
            return False
        buffer, future = self._in_flight.popleft()
        try:
            got = future.result()
        except BaseException as exc:
            _put_chunk(buffer)
            self._failed = exc
            raise
        self._chunk_buffer, self._chunk = buffer, memoryview(buffer)
        self._chunk_pos, self._chunk_len = 0, got
        self._schedule()
        return got > 0

    def _release_chunk(self) -> None:
        if self._chunk_buffer is not None:
            assert self._chunk is not None
            self._chunk.release()
            _put_chunk(self._chunk_buffer)
            self._chunk = self._chunk_buffer = None
            self._chunk_pos = self._chunk_len = 0


def _get_chunk() -> memoryview:
    """A ``CHUNK_BYTES`` chunk; a new slab of ``SLAB_CHUNKS`` when none is free.

    Chunks in use are bounded (``MAX_DIRECT_READERS`` readers, each holding
    ``READ_AHEAD`` in flight and one being consumed), so are the slabs.
    """
    try:
        return _chunks.get_nowait()
    except queue.Empty:
        pass
    slab = _aligned_region(SLAB_CHUNKS * CHUNK_BYTES)
    for index in range(1, SLAB_CHUNKS):
        _chunks.put(slab[index * CHUNK_BYTES : (index + 1) * CHUNK_BYTES])
    return slab[:CHUNK_BYTES]


def _put_chunk(chunk: memoryview) -> None:
    _chunks.put(chunk)
