"""Write-behind: hand chunks to a writer thread so producing and writing overlap.

Sealing a segment (AES-GCM) and writing the previous one (a syscall that
releases the GIL) then run at the same time: a 1 GiB put went from 0.70 to
0.80 of a plain write + fsync (docs/benchmarks.md, P2). The queue is bounded,
so at most ``depth`` chunks wait in memory; an exception on either side stops
both and is raised in the caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from itertools import chain, islice

_DONE = object()


def write_behind(chunks: Iterable[bytes], write: Callable[[bytes], object], depth: int = 4) -> None:
    """Call ``write(chunk)`` for every chunk, in order, from a second thread.

    Small objects (a header and one segment: nothing to overlap) are written
    in the caller's thread without starting another.
    """
    iterator = iter(chunks)
    first = list(islice(iterator, 3))
    if len(first) < 3:
        for chunk in first:
            write(chunk)
        return
    pending: queue.Queue[object] = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []

    def writer() -> None:
        while True:
            item = pending.get()
            if item is _DONE:
                return
            if failure:
                continue  # keep draining so the producer never blocks on a full queue
            try:
                write(item)  # type: ignore[arg-type]
            except BaseException as exc:
                failure.append(exc)

    thread = threading.Thread(target=writer, name="recvault-write-behind", daemon=True)
    thread.start()
    try:
        for chunk in chain(first, iterator):
            if failure:
                break
            pending.put(chunk)
    finally:
        pending.put(_DONE)
        thread.join()
    if failure:
        raise failure[0]
