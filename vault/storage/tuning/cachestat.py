"""How much of a file range is in the page cache: ``cachestat(2)``, Linux 6.5+."""

from __future__ import annotations

import ctypes
import functools

from vault.storage.tuning.libc import libc


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
