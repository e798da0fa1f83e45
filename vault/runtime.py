"""Process-level tuning for streaming 1 MiB segments.

glibc serves allocations above its mmap threshold (128 KiB at first) with
fresh ``mmap`` regions and returns them on free, so every 1 MiB segment
buffer costs ~256 page faults, each expensive under virtualisation: a 1 MiB
range read measured 2.0 ms with the default and 0.45 ms with the threshold
raised (docs/benchmarks.md). Raising the mmap and trim thresholds keeps those
buffers in the heap, reused from one segment to the next. RSS stays bounded
by the few segment buffers alive at once. A no-op off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


@functools.cache
def libc() -> ctypes.CDLL | None:
    """The C library on Linux (errno kept for ``ctypes.get_errno``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None


def tune_allocator(mmap_threshold: int = 32 << 20) -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when applied."""
    global _done
    if _done:
        return True
    c = libc()
    mallopt = getattr(c, "mallopt", None) if c is not None else None
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 2 * mmap_threshold)
    )
    _done = applied
    return applied


class _CachestatRange(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Cachestat(ctypes.Structure):
    _fields_ = [
        ("nr_cache", ctypes.c_uint64),
        ("nr_dirty", ctypes.c_uint64),
        ("nr_writeback", ctypes.c_uint64),
        ("nr_evicted", ctypes.c_uint64),
        ("nr_recently_evicted", ctypes.c_uint64),
    ]


#: cachestat(2), Linux 6.5+; the same number on x86_64 and arm64 (the generic table).
_SYS_CACHESTAT = 451
_PAGE = 4096


def cached_bytes(fd: int, offset: int, length: int) -> int | None:
    """Bytes of ``[offset, offset + length)`` of file ``fd`` in the page cache; None if unknown.

    One ``cachestat(2)`` call (no reads, no readahead); None before Linux 6.5,
    off Linux and on machines other than x86_64 and arm64.
    """
    c = libc()
    if c is None or _machine() not in ("x86_64", "aarch64"):
        return None
    span = _CachestatRange(offset, length)
    stat = _Cachestat()
    if c.syscall(_SYS_CACHESTAT, fd, ctypes.byref(span), ctypes.byref(stat), 0) != 0:
        return None
    return int(stat.nr_cache) * _PAGE


@functools.cache
def _machine() -> str:
    import platform

    return platform.machine()
