"""The C library, loaded once (Linux; None elsewhere)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


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
