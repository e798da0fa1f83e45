"""glibc allocator thresholds for streaming 1 MiB segments (docs/adr/0003-linux-io-tuning.md).

Without them every 1 MiB segment buffer is a fresh ``mmap`` that faults its
pages in; raised, the buffers stay in the heap and are reused. A no-op off glibc.
"""

from __future__ import annotations

import ctypes

from vault.storage.tuning.libc import libc

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


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
