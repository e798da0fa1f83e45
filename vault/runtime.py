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
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_allocator(mmap_threshold: int = 32 << 20) -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when applied."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 2 * mmap_threshold)
    )
    _done = applied
    return applied
