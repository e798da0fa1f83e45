"""Range reads for LocalStore with O_DIRECT into pooled, page-aligned buffers.

A range read of an archived record is usually cold: the pages are not cached,
and a buffered read pays for filling the page cache (and its readahead) before
copying out. An authenticated range must fetch whole 1 MiB segments, so a
1 MiB range at an unaligned offset reads two of them: read buffered, that
costs ~2.0-2.2x a plain buffered 1 MiB read on this machine; read with
O_DIRECT into a reused aligned buffer, ~1.6x (docs/benchmarks.md, P6). Object
stores built for large immutable objects read them the same way (MinIO reads
object parts with O_DIRECT).

``read_range`` switches the descriptor to ``O_DIRECT``, reads the covering
4 KiB-aligned span into one of a few pooled buffers and copies the requested
bytes out. It reads buffered instead for short ranges (under 256 KiB, where the
page cache costs little), spans larger than the pooled buffers, and where
O_DIRECT is refused (not Linux; tmpfs and other file systems that answer
EINVAL). The cost: a range read twice comes from the disk twice, not from the
page cache (``direct_ranges = false`` on a local store turns this off).

A buffered "is it cached?" probe (``RWF_NOWAIT``) was tried first and dropped:
on a miss it starts readahead of the same pages, and the direct read then
waits behind it (3.4x instead of 1.6x).

Objects are immutable once renamed into place, so bypassing the page cache
cannot return stale bytes; the kernel writes back any dirty pages of the span
before a direct read anyway. Memory stays bounded: at most ``POOL_BUFFERS``
buffers of ``BUFFER_BYTES`` are kept, shared by all threads.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import queue
from collections.abc import Iterator

ALIGN = 4096
#: Spans up to two sealed segments and their alignment slack use the pooled buffers.
BUFFER_BYTES = 2 * (1024 * 1024 + 16) + 2 * ALIGN
POOL_BUFFERS = 4
#: Shorter ranges are read buffered: for them the page cache costs little.
DIRECT_MIN_BYTES = 256 * 1024

_O_DIRECT = getattr(os, "O_DIRECT", None)
_pool: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
_refused: set[int] = set()  # st_dev of file systems that refused O_DIRECT


def read_range(fd: int, start: int, stop: int) -> bytes:
    """``stop - start`` bytes from ``start`` of the open file ``fd`` (fewer at its end)."""
    size = stop - start
    first, last = start - start % ALIGN, -(-stop // ALIGN) * ALIGN
    if (
        _O_DIRECT is None
        or size < DIRECT_MIN_BYTES
        or last - first > BUFFER_BYTES
        or os.fstat(fd).st_dev in _refused
    ):
        return os.pread(fd, size, start)
    with _buffer() as buffer:
        got = _read_direct(fd, buffer, first, last - first)
        if got is None:
            return os.pread(fd, size, start)
        skip = start - first
        return bytes(memoryview(buffer)[skip : min(skip + size, got)]) if got > skip else b""


def _read_direct(fd: int, buffer: mmap.mmap, offset: int, length: int) -> int | None:
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
def _buffer() -> Iterator[mmap.mmap]:
    """A page-aligned buffer from the pool (a new one when all are in use)."""
    try:
        buffer = _pool.get_nowait()
    except queue.Empty:
        buffer = mmap.mmap(-1, BUFFER_BYTES)
    try:
        yield buffer
    finally:
        if _pool.qsize() < POOL_BUFFERS:
            _pool.put(buffer)
        else:
            buffer.close()
