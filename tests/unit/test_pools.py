"""Shared thread pools: one per name, reused, threads named after it; lanes on them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from vault.pools import Lane, shared_pool


def test_a_name_always_gives_the_same_pool_and_names_its_threads() -> None:
    first = shared_pool("test-pool", 2)
    assert shared_pool("test-pool", 2) is first
    assert shared_pool("test-other-pool", 2) is not first
    assert (
        first.submit(lambda: threading.current_thread().name)
        .result()
        .startswith("recvault-test-pool")
    )


def test_a_lane_runs_its_tasks_one_at_a_time_in_order_on_the_pool() -> None:
    pool = ThreadPoolExecutor(4)
    lane = Lane(pool)
    lock = threading.Lock()
    running = 0
    most = 0
    order: list[int] = []

    def task(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.001)  # let another pool thread try to start the next task
        with lock:
            running -= 1
            order.append(i)
        return i * i

    futures = [lane.submit(task, i) for i in range(50)]
    assert [f.result(timeout=10) for f in futures] == [i * i for i in range(50)]
    assert order == list(range(50))
    assert most == 1  # four pool threads, never two tasks of one lane at once
    pool.shutdown()


def test_a_lane_gives_its_thread_back_when_it_has_nothing_to_do() -> None:
    """A reader whose consumer stalls stops submitting: its lane must not keep the
    pool's only thread from another reader's lane."""
    pool = ThreadPoolExecutor(1)
    stalled, other = Lane(pool), Lane(pool)
    assert stalled.submit(lambda: "first").result(timeout=10) == "first"
    # the stalled reader submits nothing more; the other one is served on the same thread
    assert [other.submit(str, i).result(timeout=10) for i in range(3)] == ["0", "1", "2"]
    pool.shutdown()


def test_a_lane_skips_a_cancelled_task_and_passes_errors_on() -> None:
    pool = ThreadPoolExecutor(1)
    lane = Lane(pool)
    gate = threading.Event()
    ran: list[str] = []
    blocking = lane.submit(gate.wait, 10)
    cancelled = lane.submit(ran.append, "cancelled")
    failing = lane.submit(int, "not a number")
    after = lane.submit(ran.append, "after")
    assert cancelled.cancel()  # still waiting behind the first task
    gate.set()
    assert blocking.result(timeout=10) is True
    with pytest.raises(ValueError):
        failing.result(timeout=10)
    after.result(timeout=10)
    assert ran == ["after"]
    pool.shutdown()
