"""Process tuning through the C library (Linux with glibc here)."""

from __future__ import annotations

import sys

from vault import runtime


def test_libc_is_found_on_linux_and_shared() -> None:
    found = runtime.libc()
    assert (found is not None) is sys.platform.startswith("linux")
    assert runtime.libc() is found  # loaded once


def test_allocator_tuning_applies_once_and_stays_applied() -> None:
    expected = sys.platform.startswith("linux") and hasattr(runtime.libc(), "mallopt")
    assert runtime.tune_allocator() is expected
    assert runtime.tune_allocator() is expected
