"""Range reads of format v1 objects: fetch and verify only the segments covering a range.

``read_header`` fetches an object's header in two requests (the fixed prefix,
then the rest); ``open_range`` checks the key commitment, then fetches,
verifies and cuts only the segments that cover ``[start, stop)``, coalescing
short ranges into one request and prefetching the next segment of long ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future

from vault.crypto import GCM_TAG_BYTES, AesGcm
from vault.errors import IntegrityError, InvalidInput
from vault.format.header import (
    HEADER_PREFIX_LEN,
    Header,
    ObjectContext,
    ObjectKeys,
    header_length,
    verify_header,
)
from vault.format.segments import open_segment, parse_header, sealed_segment_len


def read_header(fetch: Callable[[int, int], bytes]) -> Header:
    """Fetch and parse an object's header: the fixed prefix, then the rest."""
    prefix = fetch(0, HEADER_PREFIX_LEN)
    total = header_length(prefix)
    rest = fetch(HEADER_PREFIX_LEN, total)
    return parse_header(bytes(prefix) + bytes(rest))


#: ranges covering at most this many segments are fetched in one request
COALESCE_SEGMENTS = 2


def open_range(
    fetch: Callable[[int, int], bytes],
    header: Header,
    *,
    dek: bytes,
    context: ObjectContext,
    start: int,
    stop: int,
    prefetch: Executor | None = None,
) -> Iterator[bytes]:
    """Yield exactly ``plaintext[start:stop]``, fetching only the segments covering it.

    A range of up to ``COALESCE_SEGMENTS`` segments is one fetch. For longer
    ranges, with ``prefetch`` the executor fetches and verifies each next
    segment while this one is fetched and verified; segments are still released
    in order, and a failing one only after those before it.
    """
    if start < 0 or start > stop:
        raise InvalidInput(f"invalid byte range [{start}, {stop})")
    keys = verify_header(header, dek, context)
    start = min(start, header.plaintext_length)
    stop = min(stop, header.plaintext_length)
    exp = header.segment_exp
    if (
        prefetch is not None
        and stop > start
        and ((stop - 1) >> exp) - (start >> exp) >= COALESCE_SEGMENTS
    ):
        return _open_range_ahead(fetch, header, keys, start, stop, prefetch)
    return _open_range(fetch, header, keys, start, stop)


def _open_range_ahead(
    fetch: Callable[[int, int], bytes],
    header: Header,
    keys: ObjectKeys,
    start: int,
    stop: int,
    prefetch: Executor,
) -> Iterator[bytes]:
    if start >= stop:
        return
    aead = AesGcm(keys.segment_key)
    base = int.from_bytes(keys.nonce_base, "big")
    exp = header.segment_exp
    first, last = start >> exp, (stop - 1) >> exp

    def segment(index: int) -> bytes:
        """Fetch, verify and cut one segment (run ahead by ``prefetch`` for the next one)."""
        sealed = _fetch_segment(fetch, header, index)
        return _cut(open_segment(aead, base, header, index, sealed), index << exp, start, stop)

    ahead: Future[bytes] | None = None
    try:
        for index in range(first, last + 1):
            following = prefetch.submit(segment, index + 1) if index < last else None
            chunk = segment(index) if ahead is None else ahead.result()
            ahead = following
            yield chunk
    finally:
        if ahead is not None:
            ahead.cancel()


def _open_range(
    fetch: Callable[[int, int], bytes], header: Header, keys: ObjectKeys, start: int, stop: int
) -> Iterator[bytes]:
    if start >= stop:
        return
    aead = AesGcm(keys.segment_key)
    base = int.from_bytes(keys.nonce_base, "big")
    exp, size = header.segment_exp, header.segment_size
    sealed_stride = size + GCM_TAG_BYTES
    first, last = start >> exp, (stop - 1) >> exp
    # A short range (one or two segments, the common case) is one request, so a
    # cold read pays one seek; longer ranges go segment by segment, bounded memory.
    span = b""
    if last - first < COALESCE_SEGMENTS:
        offset = header.length + first * sealed_stride
        end = header.length + last * sealed_stride + sealed_segment_len(header, last)
        span = fetch(offset, end)
        if len(span) != end - offset:
            raise IntegrityError(f"object truncated inside segment {last}")
    view = memoryview(span)
    for index in range(first, last + 1):
        want = sealed_segment_len(header, index)
        if span:
            at = (index - first) * sealed_stride
            sealed: bytes | memoryview = view[at : at + want]
        else:
            sealed = _fetch_segment(fetch, header, index)
        yield _cut(open_segment(aead, base, header, index, sealed), index << exp, start, stop)


def _fetch_segment(fetch: Callable[[int, int], bytes], header: Header, index: int) -> bytes:
    """The sealed bytes of segment ``index``, not yet verified."""
    offset = header.length + index * (header.segment_size + GCM_TAG_BYTES)
    want = sealed_segment_len(header, index)
    sealed = fetch(offset, offset + want)
    if len(sealed) != want:
        raise IntegrityError(f"object truncated inside segment {index}")
    return sealed


def _cut(plaintext: bytes, seg_start: int, start: int, stop: int) -> bytes:
    """The part of a segment's plaintext (starting at ``seg_start``) inside ``[start, stop)``."""
    lo, hi = max(start - seg_start, 0), min(stop - seg_start, len(plaintext))
    return plaintext if (lo, hi) == (0, len(plaintext)) else plaintext[lo:hi]
