"""Thread pools shared by every vault in the process, each started on first use, and lanes.

Threads are started once and reused: a bulk put or a range read must not pay
for starting threads (starting 16 per batch of 1,000 records took about 5 % of
a profiled bulk ingest, P5 in docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def shared_pool(name: str, threads: int) -> ThreadPoolExecutor:
    """The process-wide pool called ``name`` (its threads are named ``recvault-<name>``)."""
    with _lock:
        pool = _pools.get(name)
        if pool is None:
            pool = _pools[name] = ThreadPoolExecutor(threads, f"recvault-{name}")
        return pool


class Lane(Executor):
    """Tasks run one at a time, in the order submitted, on a thread of a shared pool.

    A whole-record read decrypts its segments through a lane of its own: one
    thread decrypts while the reading thread reads the next segments (two
    threads per read: a second decrypting thread of the same read only contended
    for the cores, docs/benchmarks.md, reads), and concurrent reads share the
    pool's threads. A lane holds a pool thread only while it has tasks waiting,
    never while its reader waits for a slow consumer; a task that is cancelled
    before it starts is skipped.
    """

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._tasks: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()
        self._draining = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        call = functools.partial(fn, **kwargs) if kwargs else fn
        with self._lock:
            self._tasks.append((future, call, args))
            if self._draining:
                return future
            self._draining = True
        try:
            self._pool.submit(self._drain)
        except BaseException:
            with self._lock:
                self._draining = False
            raise
        return future

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._tasks:
                    self._draining = False
                    return
                future, fn, args = self._tasks.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                result = fn(*args)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
