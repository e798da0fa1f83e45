"""Shared thread pools: one per name, reused, threads named after it."""

from __future__ import annotations

import threading

from vault.pools import shared_pool


def test_a_name_always_gives_the_same_pool_and_names_its_threads() -> None:
    first = shared_pool("test-pool", 2)
    assert shared_pool("test-pool", 2) is first
    assert shared_pool("test-other-pool", 2) is not first
    assert (
        first.submit(lambda: threading.current_thread().name)
        .result()
        .startswith("recvault-test-pool")
    )
