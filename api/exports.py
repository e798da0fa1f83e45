"""The subject export's bridge: a zip written by a worker thread, read by the response.

``run_export`` starts ``export_subject`` writing into a ``PipeWriter`` on a
thread of its own; the response reads the other end ~1 MiB at a time, so the
archive is never held whole. A refusal (unknown subject, another region, erased)
comes before the first byte and still becomes a proper error status.
"""

from __future__ import annotations

import contextvars
import io
import logging
import threading
from collections.abc import AsyncIterator, Callable

import anyio.to_thread

from api.streaming import CHUNK, END, Abandoned, BoundedQueue

log = logging.getLogger("recvault.api")


class PipeWriter(io.RawIOBase):
    """A write-only stream whose bytes are read, ~1 MiB at a time, from ``pipe``."""

    def __init__(self) -> None:
        super().__init__()
        self.pipe = BoundedQueue()
        self._parts: list[bytes] = []
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        n = len(data)
        if n:
            self._parts.append(bytes(data))
            self._size += n
            if self._size >= CHUNK:
                self._send()
        return n

    def _send(self) -> None:
        if self._parts:
            try:
                self.pipe.put(b"".join(self._parts))
            except Abandoned:
                raise BrokenPipeError("the client went away") from None
            self._parts, self._size = [], 0

    def finish(self, error: BaseException | None = None) -> None:
        try:
            if error is None:
                self._send()
            self.pipe.put(END if error is None else error)
        except (Abandoned, BrokenPipeError):
            pass


async def run_export(write: Callable[[PipeWriter], object]) -> AsyncIterator[bytes]:
    """Start ``write(pipe)`` in a thread; return the body once its first bytes (or error) arrive.

    Refusals (unknown subject, region, erased) happen before the first byte, so they
    still become a proper error status instead of a broken 200.
    """
    pipe = PipeWriter()

    def produce() -> None:
        try:
            write(pipe)
        except BaseException as exc:
            pipe.finish(exc)
        else:
            pipe.finish()

    # the export's audit events carry the request's id: run it in a copy of this context
    context = contextvars.copy_context()
    threading.Thread(
        target=context.run, args=(produce,), name="recvault-export", daemon=True
    ).start()
    first = await anyio.to_thread.run_sync(pipe.pipe.get)
    if isinstance(first, BaseException):
        pipe.pipe.abandon()
        raise first

    async def body() -> AsyncIterator[bytes]:
        item = first
        try:
            while item is not END:
                if isinstance(item, BaseException):
                    log.error("export aborted: %s", type(item).__name__)
                    raise item
                assert isinstance(item, bytes)
                yield item
                item = await anyio.to_thread.run_sync(pipe.pipe.get)
        finally:
            pipe.pipe.abandon()

    return body()
