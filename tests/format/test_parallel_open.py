"""Whole-object opening with segments decrypted on an executor (``open_stream(decrypt=...)``).

The executor below completes its tasks in the reverse order of submission, so a
later segment is always decrypted before an earlier one: the stream must still
come out in order, and a failing segment must end it before any later
segment's plaintext is released even though that plaintext already exists.
"""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import pytest

from tests.format.support import (
    CONTEXT,
    DEK,
    KEY_BLOCK,
    POOL,
    SEG,
    TAG,
    collect,
    seal_bytes,
    segments_of,
)
from vault.format import envelope
from vault.pools import Lane

SIX = (POOL * 2)[: 5 * SEG + 777]  # six segments, the last one short


def _six_segments() -> list[bytes]:
    return [SIX[i * SEG : (i + 1) * SEG] for i in range(6)]


class _LazyFuture(Future[Any]):
    def __init__(self, executor: ReversingExecutor) -> None:
        super().__init__()
        self._executor = executor

    def result(self, timeout: float | None = None) -> Any:
        if not self.done():
            self._executor.run_queued()
        return super().result(timeout)


class ReversingExecutor(Executor):
    """Runs nothing until a result is wanted, then every queued task, newest first."""

    def __init__(self) -> None:
        self.queued: list[tuple[_LazyFuture, Callable[..., Any], tuple[Any, ...]]] = []
        self.finished: list[int] = []  # segment indexes, in the order they were decrypted

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = _LazyFuture(self)
        self.queued.append((future, fn, args))
        return future

    def run_queued(self) -> None:
        while self.queued:
            future, fn, args = self.queued.pop()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)
            self.finished.append(args[3])


@pytest.fixture(params=["pool", "lane"])
def threads(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """A pool of two threads, or a lane on one (a read's segments one at a time, as shipped)."""
    with ThreadPoolExecutor(2) as pool:
        yield pool if request.param == "pool" else Lane(pool)


def _open(obj: bytes, decrypt: Executor, ahead: int = 4) -> tuple[list[bytes], Exception | None]:
    return collect(
        lambda: envelope.open_stream(
            io.BytesIO(obj), dek=DEK, context=CONTEXT, decrypt=decrypt, ahead=ahead
        )
    )


def test_segments_come_out_in_order_when_decrypted_out_of_order() -> None:
    executor = ReversingExecutor()
    chunks, exc = _open(seal_bytes(SIX), executor)
    assert exc is None
    assert chunks == _six_segments()
    assert executor.finished[:4] == [3, 2, 1, 0]  # really decrypted out of order


@pytest.mark.parametrize("ahead", [2, 4, 8])
def test_threads_open_the_same_plaintext(threads: Executor, ahead: int) -> None:
    chunks, exc = _open(seal_bytes(SIX), threads, ahead)
    assert exc is None
    assert b"".join(chunks) == SIX


def test_a_failed_tag_stops_the_stream_before_any_later_byte() -> None:
    header, segments = segments_of(seal_bytes(SIX))
    bad = bytearray(segments[2])
    bad[SEG // 2] ^= 0x01
    tampered = header + b"".join(segments[:2]) + bytes(bad) + b"".join(segments[3:])
    executor = ReversingExecutor()
    chunks, exc = _open(tampered, executor)
    assert exc is not None and "segment 2 failed authentication" in str(exc)
    assert chunks == _six_segments()[:2]
    # segment 3 was decrypted before segment 2 failed, and none of it was released
    assert 3 in executor.finished


def test_a_failed_tag_on_threads_stops_the_stream_before_any_later_byte(
    threads: Executor,
) -> None:
    header, segments = segments_of(seal_bytes(SIX))
    bad = bytearray(segments[4])
    bad[7] ^= 0x01
    tampered = header + b"".join(segments[:4]) + bytes(bad) + segments[5]
    chunks, exc = _open(tampered, threads)
    assert exc is not None and "segment 4 failed authentication" in str(exc)
    assert chunks == _six_segments()[:4]


def test_truncation_releases_the_verified_segments_before_it_only(threads: Executor) -> None:
    obj = seal_bytes(SIX)
    header = envelope.parse_header(obj)
    cut = obj[: header.length + 3 * (SEG + TAG) + 10]
    chunks, exc = _open(cut, threads)
    assert exc is not None and "truncated inside segment 3" in str(exc)
    assert chunks == _six_segments()[:3]


def test_trailing_bytes_still_fail(threads: Executor) -> None:
    chunks, exc = _open(seal_bytes(SIX) + b"x", threads)
    assert exc is not None and "trailing bytes" in str(exc)
    assert chunks == _six_segments()[:5]


def test_an_abandoned_stream_cancels_what_is_queued() -> None:
    executor = ReversingExecutor()
    stream = envelope.open_stream(
        io.BytesIO(seal_bytes(SIX)), dek=DEK, context=CONTEXT, decrypt=executor
    )
    assert next(stream) == SIX[:SEG]
    assert next(stream) == SIX[SEG : 2 * SEG]  # segment 4 is queued behind it
    stream.close()
    executor.run_queued()
    assert executor.finished == [3, 2, 1, 0]  # segment 4 was cancelled, never decrypted


def test_memory_stays_bounded_by_the_segments_in_flight(threads: Executor, tmp_path: Any) -> None:
    size = 24 * SEG
    path = tmp_path / "object"
    with path.open("wb") as out:
        for part in envelope.seal(
            [POOL[:SEG]] * 24,
            dek=DEK,
            key_block=KEY_BLOCK,
            context=CONTEXT,
            plaintext_length=size,
        ):
            out.write(part)
    got = 0
    with path.open("rb", buffering=0) as stream:
        tracemalloc.start()
        try:
            for chunk in envelope.open_stream(stream, dek=DEK, context=CONTEXT, decrypt=threads):
                got += len(chunk)
                del chunk
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert got == size
    # 4 sealed buffers + 4 plaintexts in flight + the one released, of 24 MiB read
    assert peak <= 10 * (SEG + TAG)
