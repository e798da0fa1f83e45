"""Bridges between the event loop and the synchronous vault, with bounded memory.

- ``run_with_body``: the request body becomes a blocking binary stream that a
  worker thread (``put_record``/``update_record``) reads while the event loop
  keeps receiving; a bounded queue of ~1 MiB batches of the received pieces
  (handed over as they came, copied once, into the sealing buffer) holds at most
  a few MiB.
  Uploads pass an ``UploadGate`` first (``limits.upload_concurrency`` at once)
  and run on threads of their own, never on the thread pool the rest of the API
  uses: slow or many uploads cannot starve reads, metadata calls or health checks.
  A body of at most ``WHOLE`` bytes is received whole on the event loop first
  and handed to the worker in one piece: one thread hand-off for a small record
  instead of a queue and a task group.
- ``stream_chunks``: a ``RecordReader`` (sync) becomes an async body;
  ``open_for_download`` reads a record of at most ``WHOLE`` bytes whole in the
  thread that opened it, so it is sent as one plain body.

The subject export's bridge (a zip written by a thread, read by the response) is
``api.exports``; it shares ``BoundedQueue``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO, TypeVar, cast

import anyio
import anyio.to_thread
from starlette.requests import ClientDisconnect, Request

from vault.errors import InvalidInput, Unavailable, VaultError
from vault.format.reader import ReadMeta, RecordReader

log = logging.getLogger("recvault.api")

CHUNK = 1024 * 1024
QUEUE_CHUNKS = 4
#: bodies and downloads up to this size move between the event loop and a thread in
#: one piece: held whole, one costs no more memory than one streamed chunk
WHOLE = CHUNK
_POLL = 0.2
END = object()

T = TypeVar("T")


class Abandoned(Exception):
    """The other side of a bridge has gone away."""


class BoundedQueue:
    """A queue between one producer and one consumer that either side may abandon."""

    def __init__(self) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.abandoned = threading.Event()

    def put(self, item: object) -> None:
        """Blocking put; raises ``Abandoned`` once the consumer has gone."""
        while not self.abandoned.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise Abandoned

    async def aput(self, item: object, limiter: anyio.CapacityLimiter | None = None) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            await anyio.to_thread.run_sync(self.put, item, limiter=limiter)

    def get(self) -> object:
        """Blocking get; raises ``Abandoned`` once the producer has gone and left nothing."""
        while True:
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                if self.abandoned.is_set():
                    raise Abandoned from None

    def abandon(self) -> None:
        self.abandoned.set()
        while True:  # free what is queued; nobody will read it
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


class BodyReader(io.RawIOBase):
    """The request body as a blocking stream of exactly ``expected`` bytes."""

    def __init__(self, expected: int, limiter: anyio.CapacityLimiter | None = None) -> None:
        super().__init__()
        self.limiter = limiter
        self.expected = expected
        self.received = 0
        self.pipe = BoundedQueue()
        self._pending: collections.deque[memoryview] = collections.deque()
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._pending and not self._next_batch():
            return 0
        view = memoryview(target).cast("B")
        filled = 0
        # Copy straight from the received pieces (no joined copy in between), as many
        # as are already here; wait for more only when nothing was copied.
        while filled < view.nbytes and self._pending:
            part = self._pending[0]
            n = min(view.nbytes - filled, part.nbytes)
            view[filled : filled + n] = part[:n]
            filled += n
            if n == part.nbytes:
                self._pending.popleft()
            else:
                self._pending[0] = part[n:]
        return filled

    def _next_batch(self) -> bool:
        """Wait for the next batch of received pieces; False at the end of the body."""
        if self._ended:
            return False
        item = self.pipe.get()
        if item is END:
            self._ended = True
            if self.received != self.expected:
                raise InvalidInput(f"the body ended after {self.received} of {self.expected} bytes")
            return False
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, list)
        self._pending.extend(memoryview(part) for part in item)
        return True

    async def pump(self, request: Request) -> None:
        """Receive the body and queue it in ~1 MiB pieces, then the end marker."""
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                if not chunk:
                    continue
                self.received += len(chunk)
                if self.received > self.expected:
                    raise InvalidInput("the body is longer than its Content-Length")
                parts.append(chunk)
                size += len(chunk)
                if size >= CHUNK:
                    await self.pipe.aput(parts, self.limiter)  # the pieces, not a joined copy
                    parts, size = [], 0
            if parts:
                await self.pipe.aput(parts, self.limiter)
            await self.pipe.aput(END, self.limiter)
        except Abandoned:
            return
        except ClientDisconnect:
            await self._fail(InvalidInput("the client went away before the body was complete"))
        except VaultError as exc:
            await self._fail(exc)

    async def _fail(self, exc: BaseException) -> None:
        with contextlib.suppress(Abandoned):
            await self.pipe.aput(exc, self.limiter)


class UploadGate:
    """At most ``slots`` uploads at once; another waits up to ``wait`` seconds, then 503.

    A counter polled by the waiting requests, not an anyio primitive: one gate serves
    every event loop of the app (the test client runs several).
    """

    POLL = 0.05

    def __init__(self, slots: int, wait: float) -> None:
        self.slots = slots
        self.wait = wait
        self.active = 0
        self._lock = threading.Lock()

    def _try_enter(self) -> bool:
        with self._lock:
            if self.active >= self.slots:
                return False
            self.active += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self.active -= 1

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        deadline = anyio.current_time() + self.wait
        while not self._try_enter():
            if anyio.current_time() >= deadline:
                raise Unavailable("too many uploads in progress; retry shortly", retry_after=2)
            await anyio.sleep(self.POLL)
        try:
            yield
        finally:
            self._leave()


async def run_with_body(request: Request, expected: int, work: Callable[[BinaryIO], T]) -> T:
    """Run ``work(body)`` in a worker thread while the body streams in.

    With an ``UploadGate`` on ``app.state.upload_gate`` the upload first takes a slot
    there; its two threads (the worker, and the receiver when the queue is full) come
    from a limiter of its own, so they never take tokens of the shared thread pool.
    A body of at most ``WHOLE`` bytes is received first, then worked on.
    """
    gate: UploadGate | None = getattr(request.app.state, "upload_gate", None)
    run = _run_with_whole_body if expected <= WHOLE else _run_with_body
    if gate is None:
        return await run(request, expected, work)
    async with gate.slot():
        return await run(request, expected, work, anyio.CapacityLimiter(2))


async def _run_with_whole_body(
    request: Request,
    expected: int,
    work: Callable[[BinaryIO], T],
    limiter: anyio.CapacityLimiter | None = None,
) -> T:
    parts: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > expected:
                raise InvalidInput("the body is longer than its Content-Length")
            parts.append(chunk)
    except ClientDisconnect:
        raise InvalidInput("the client went away before the body was complete") from None
    if received != expected:
        raise InvalidInput(f"the body ended after {received} of {expected} bytes")
    body = io.BytesIO(b"".join(parts))
    del parts
    return await anyio.to_thread.run_sync(work, body, limiter=limiter)


async def _run_with_body(
    request: Request,
    expected: int,
    work: Callable[[BinaryIO], T],
    limiter: anyio.CapacityLimiter | None = None,
) -> T:
    body = BodyReader(expected, limiter)
    outcome: list[T] = []
    failure: list[BaseException] = []

    async def worker() -> None:
        try:
            stream = cast(BinaryIO, body)
            outcome.append(await anyio.to_thread.run_sync(work, stream, limiter=limiter))
        except BaseException as exc:  # re-raised below, outside the task group
            failure.append(exc)
        finally:
            body.pipe.abandon()
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(body.pump, request)
        group.start_soon(worker)
    if failure:
        raise failure[0]
    return outcome[0]


async def stream_chunks(reader: RecordReader) -> AsyncIterator[bytes]:
    """A record's verified plaintext, chunk by chunk, read ahead in a worker thread.

    The thread reads and verifies segments while the event loop sends the previous
    ones; at most ``QUEUE_CHUNKS`` chunks wait between them (a semaphore), and each
    is handed to the loop with ``call_soon_threadsafe`` (no extra thread hop).
    """
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue[object] = asyncio.Queue()
    slots = threading.Semaphore(QUEUE_CHUNKS)
    gone = threading.Event()

    def hand(item: object) -> bool:
        while not slots.acquire(timeout=_POLL):
            if gone.is_set():
                return False
        if gone.is_set():
            return False
        try:
            loop.call_soon_threadsafe(ready.put_nowait, item)
        except RuntimeError:  # the loop has closed
            return False
        return True

    def produce() -> None:
        try:
            for chunk in reader.iter_chunks():
                if not hand(chunk):
                    return
            hand(END)
        except BaseException as exc:  # handed to the response below
            hand(exc)

    producer = threading.Thread(target=produce, name="recvault-download", daemon=True)
    producer.start()
    try:
        while True:
            item = await ready.get()
            slots.release()
            if item is END:
                return
            if isinstance(item, BaseException):
                if isinstance(item, VaultError):
                    # Headers are gone: the only honest signal left is to cut the response short.
                    log.error("download aborted: %s", item.code)
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        gone.set()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_finish, producer, reader)


def open_for_download(open_: Callable[[], RecordReader]) -> tuple[ReadMeta, RecordReader | bytes]:
    """Open a record (call it on a worker thread); one of at most ``WHOLE`` bytes comes back read.

    Its tag has verified before the first header is sent, so a damaged small
    record answers an error status rather than a response cut short.
    """
    reader = open_()
    if reader.meta.length > WHOLE:
        return reader.meta, reader
    with reader:
        return reader.meta, b"".join(reader.iter_chunks())


def _finish(producer: threading.Thread, reader: RecordReader) -> None:
    producer.join()
    reader.close()
