"""Property tests: seal then open (whole or by range) returns the plaintext, for any chunking."""

from __future__ import annotations

import io
import random
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.format.support import (
    CONTEXT,
    DEK,
    SEG,
    TAG,
    CountingFetch,
    open_bytes,
    plaintext,
    seal_bytes,
)
from vault.errors import InvalidInput
from vault.format import envelope

SIZES = [0, 1, 100, SEG - 1, SEG, SEG + 1, 3 * SEG + 17]
CHUNK_SIZES = [1, 7, 4096, 65_536, SEG - 1, SEG, SEG + 1, 2 * SEG]
BIG = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def sealed(length: int) -> bytes:
    return seal_bytes(plaintext(length))


def _chunks(data: bytes, rng: random.Random) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        step = rng.choice(CHUNK_SIZES)
        out.append(data[pos : pos + step])
        pos += step
        if rng.random() < 0.1:
            out.append(b"")  # empty chunks are legal and must be skipped
    return out


class _Trickle(io.RawIOBase):
    """A stream with ``read`` only, returning at most ``limit`` bytes per call."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._inner = io.BytesIO(data)
        self._limit = limit

    def read(self, size: int = -1) -> bytes:
        want = self._limit if size < 0 else min(size, self._limit)
        return self._inner.read(want)

    def readable(self) -> bool:
        return True


_Trickle.readinto = None  # type: ignore[assignment,method-assign]


@pytest.mark.parametrize("length", SIZES)
def test_round_trip_from_stream(length: int) -> None:
    data = plaintext(length)
    obj = b"".join(
        envelope.seal(
            io.BytesIO(data),
            dek=DEK,
            key_block=envelope.KeyBlock("k", 0, b"w"),
            context=CONTEXT,
            plaintext_length=length,
        )
    )
    header = envelope.parse_header(obj)
    assert len(obj) == header.object_length == envelope.sealed_size(length, header.length)
    assert header.segment_count == max(1, -(-length // SEG))
    assert open_bytes(obj) == data


@BIG
@given(length=st.sampled_from(SIZES), seed=st.integers(0, 2**32))
def test_round_trip_any_chunking(length: int, seed: int) -> None:
    data = plaintext(length)
    obj = seal_bytes(_chunks(data, random.Random(seed)), length)
    assert obj == sealed(length)  # same salt: chunking never changes the object
    assert open_bytes(obj) == data


@BIG
@given(length=st.sampled_from(SIZES), limit=st.sampled_from([1, 1000, SEG // 3, SEG + 5]))
def test_round_trip_through_short_reads(length: int, limit: int) -> None:
    if limit == 1 and length > 1000:
        limit = 997  # one byte per call over MiBs proves nothing more, only slower
    data = plaintext(length)
    obj = seal_bytes(data)
    assert seal_bytes(_Trickle(data, limit), length) == obj  # type: ignore[arg-type]
    opened = envelope.open_stream(_Trickle(obj, limit), dek=DEK, context=CONTEXT)  # type: ignore[arg-type]
    chunks = list(opened)
    assert b"".join(chunks) == data
    assert all(len(chunk) == SEG for chunk in chunks[:-1])


def _covering(header: envelope.Header, start: int, stop: int) -> list[int]:
    if start >= stop:
        return []
    return list(range(start // SEG, (stop - 1) // SEG + 1))


PREFETCH = ThreadPoolExecutor(2, thread_name_prefix="test-prefetch")


@pytest.mark.parametrize("prefetch", [None, PREFETCH], ids=["coalesced", "prefetched"])
@BIG
@given(length=st.sampled_from(SIZES), data=st.data())
def test_range_equals_slice_and_fetches_only_covering_segments(
    prefetch: ThreadPoolExecutor | None, length: int, data: st.DataObject
) -> None:
    obj = sealed(length)
    start = data.draw(st.integers(0, length + 2), label="start")
    stop = data.draw(st.integers(start, length + SEG), label="stop")
    header = envelope.read_header(CountingFetch(obj))
    fetch = CountingFetch(obj)
    got = b"".join(
        envelope.open_range(
            fetch, header, dek=DEK, context=CONTEXT, start=start, stop=stop, prefetch=prefetch
        )
    )
    assert got == plaintext(length)[start:stop]
    covering = _covering(header, min(start, length), min(stop, length))
    spans = [
        (
            header.length + i * (SEG + TAG),
            header.length + i * (SEG + TAG) + min(SEG, length - i * SEG) + TAG,
        )
        for i in covering
    ]
    if covering and len(covering) <= envelope.COALESCE_SEGMENTS:
        assert fetch.calls == [(spans[0][0], spans[-1][1])]  # one request, prefetch or not
    elif prefetch is not None:
        # one request per segment (the next is fetched by another thread while this one is opened)
        assert sorted(fetch.calls) == spans
    else:
        assert fetch.calls == spans
    assert fetch.fetched <= len(covering) * (SEG + TAG)


def test_prefetched_range_closed_early_fetches_at_most_one_segment_ahead() -> None:
    length = 6 * SEG
    obj = sealed(length)
    header = envelope.parse_header(obj)
    fetch = CountingFetch(obj)
    chunks = envelope.open_range(
        fetch, header, dek=DEK, context=CONTEXT, start=0, stop=length, prefetch=PREFETCH
    )
    assert next(chunks) == plaintext(length)[:SEG]
    chunks.close()
    PREFETCH.submit(lambda: None).result()  # let a running prefetch finish
    assert len(fetch.calls) <= 2


@pytest.mark.parametrize(
    ("start", "stop", "segments"),
    [(0, 1, [0]), (SEG - 1, SEG + 1, [0, 1]), (SEG, 2 * SEG, [1]), (3 * SEG, 3 * SEG + 17, [3])],
)
def test_short_range_is_one_request(start: int, stop: int, segments: list[int]) -> None:
    obj = sealed(3 * SEG + 17)
    header = envelope.parse_header(obj)
    fetch = CountingFetch(obj)
    got = b"".join(
        envelope.open_range(fetch, header, dek=DEK, context=CONTEXT, start=start, stop=stop)
    )
    assert got == plaintext(3 * SEG + 17)[start:stop]
    first = header.length + segments[0] * (SEG + TAG)
    last_len = min(SEG, 3 * SEG + 17 - segments[-1] * SEG) + TAG
    end = header.length + segments[-1] * (SEG + TAG) + last_len
    assert fetch.calls == [(first, end)]  # one request covering exactly these segments


@pytest.mark.parametrize(
    ("start", "stop", "segments"),
    [(1, 2 * SEG + 1, [0, 1, 2]), (0, 3 * SEG + 17, [0, 1, 2, 3])],
)
def test_long_range_fetches_segment_by_segment(start: int, stop: int, segments: list[int]) -> None:
    obj = sealed(3 * SEG + 17)
    header = envelope.parse_header(obj)
    fetch = CountingFetch(obj)
    got = b"".join(
        envelope.open_range(fetch, header, dek=DEK, context=CONTEXT, start=start, stop=stop)
    )
    assert got == plaintext(3 * SEG + 17)[start:stop]
    assert [(lo - header.length) // (SEG + TAG) for lo, _ in fetch.calls] == segments


def test_read_header_uses_prefix_then_rest() -> None:
    obj = sealed(100)
    fetch = CountingFetch(obj)
    header = envelope.read_header(fetch)
    assert fetch.calls == [
        (0, envelope.HEADER_PREFIX_LEN),
        (envelope.HEADER_PREFIX_LEN, header.length),
    ]
    assert header == envelope.parse_header(obj)
    assert envelope.header_length(obj[: envelope.HEADER_PREFIX_LEN]) == header.length


def test_header_fields_and_properties() -> None:
    obj = sealed(3 * SEG + 17)
    header = envelope.parse_header(obj)
    assert header.format_version == envelope.FORMAT_VERSION == 1
    assert header.suite_id == envelope.SUITE_AES256GCM_HKDFSHA512_C32
    assert (header.segment_exp, header.segment_size) == (20, SEG)
    assert (header.record_id, header.record_version, header.region) == (
        CONTEXT.record_id,
        CONTEXT.record_version,
        CONTEXT.region,
    )
    assert header.segment_count == 4
    assert header.object_length == len(obj)
    assert header.encoded == obj[: header.length]


@pytest.mark.parametrize(("start", "stop"), [(-1, 5), (10, 9)])
def test_invalid_range_is_refused(start: int, stop: int) -> None:
    obj = sealed(100)
    header = envelope.parse_header(obj)
    with pytest.raises(InvalidInput):
        envelope.open_range(
            CountingFetch(obj), header, dek=DEK, context=CONTEXT, start=start, stop=stop
        )


def test_empty_range_fetches_nothing() -> None:
    obj = sealed(SEG + 1)
    header = envelope.parse_header(obj)
    fetch = CountingFetch(obj)
    for start, stop in [(5, 5), (SEG + 1, SEG + 9), (SEG + 50, SEG + 60)]:
        assert (
            list(
                envelope.open_range(fetch, header, dek=DEK, context=CONTEXT, start=start, stop=stop)
            )
            == []
        )
    assert fetch.calls == []


def test_salt_is_random_when_not_given() -> None:
    data = plaintext(10)
    first = b"".join(
        envelope.seal(
            [data],
            dek=DEK,
            key_block=envelope.KeyBlock("k", 0, b"w"),
            context=CONTEXT,
            plaintext_length=10,
        )
    )
    second = b"".join(
        envelope.seal(
            [data],
            dek=DEK,
            key_block=envelope.KeyBlock("k", 0, b"w"),
            context=CONTEXT,
            plaintext_length=10,
        )
    )
    assert envelope.parse_header(first).salt != envelope.parse_header(second).salt
    assert open_bytes(first) == open_bytes(second) == data


def test_memory_stays_bounded_while_streaming(tmp_path: Path) -> None:
    segment, count = plaintext(SEG), 12
    path = tmp_path / "object"
    tracemalloc.start()
    try:
        with path.open("wb") as out:
            for chunk in envelope.seal(
                (segment for _ in range(count)),
                dek=DEK,
                key_block=envelope.KeyBlock("k", 0, b"w"),
                context=CONTEXT,
                plaintext_length=count * SEG,
            ):
                out.write(chunk)
        _, seal_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        opened = 0
        with path.open("rb", buffering=0) as stream:
            for chunk in envelope.open_stream(stream, dek=DEK, context=CONTEXT):
                assert chunk == segment
                opened += len(chunk)
        _, open_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert opened == count * SEG
    # One segment buffer, one segment in flight, one being checked: far below the record.
    assert seal_peak < 4 * SEG, f"sealing {count} MiB peaked at {seal_peak} bytes"
    assert open_peak < 4 * SEG, f"opening {count} MiB peaked at {open_peak} bytes"
