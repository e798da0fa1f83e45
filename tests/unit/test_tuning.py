"""Process tuning through the C library (Linux with glibc here), applied only by commands."""

from __future__ import annotations

import sys

import pytest

from vault.storage import tune_process
from vault.storage.tuning import allocator
from vault.storage.tuning.libc import libc


def test_libc_is_found_on_linux_and_shared() -> None:
    found = libc()
    assert (found is not None) is sys.platform.startswith("linux")
    assert libc() is found  # loaded once


def test_allocator_tuning_applies_once_and_stays_applied() -> None:
    expected = sys.platform.startswith("linux") and hasattr(libc(), "mallopt")
    assert allocator.tune_allocator() is expected
    assert allocator.tune_allocator() is expected
    assert tune_process() is expected


def test_tuning_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(allocator, "tune_allocator", lambda: calls.append(1) or True)
    assert tune_process(enabled=False) is False
    assert calls == []
    assert tune_process(enabled=True) is True
    assert calls == [1]
