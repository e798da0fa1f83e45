"""Thread pools shared by every vault in the process, each started on first use.

Threads are started once and reused: a bulk put or a range read must not pay
for starting threads (starting 16 per batch of 1,000 records took about 5 % of
a profiled bulk ingest, P5 in docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def shared_pool(name: str, threads: int) -> ThreadPoolExecutor:
    """The process-wide pool called ``name`` (its threads are named ``recvault-<name>``)."""
    with _lock:
        pool = _pools.get(name)
        if pool is None:
            pool = _pools[name] = ThreadPoolExecutor(threads, f"recvault-{name}")
        return pool
