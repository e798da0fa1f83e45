"""Object format v1: streaming seal and open of records (spec: docs/format.md).

An object is ``header ‖ segment_0 ‖ … ‖ segment_{n-1}``: each segment is up to
1 MiB of plaintext sealed with AES-256-GCM under a key derived from the record's
DEK, the header and the record's context from the metadata DB. Plaintext is
only ever released one verified segment at a time.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import BinaryIO

from vault.crypto import GCM_TAG_BYTES, AesGcm, AuthenticationFailed, random_bytes
from vault.errors import IntegrityError, InvalidInput
from vault.format.header import (
    FORMAT_VERSION,
    HEADER_PREFIX_LEN,
    SALT_BYTES,
    SEGMENT_EXP,
    SEGMENT_SIZE,
    SUITE_AES256GCM_HKDFSHA512_C32,
    Header,
    KeyBlock,
    ObjectContext,
    ObjectKeys,
    build_header,
    check_plaintext_length,
    header_length,
    parse_header_with,
    segment_count,
    verify_header,
)

__all__ = [
    "FORMAT_VERSION",
    "HEADER_PREFIX_LEN",
    "SEGMENT_EXP",
    "SEGMENT_SIZE",
    "SUITE_AES256GCM_HKDFSHA512_C32",
    "ContentLengthMismatch",
    "Header",
    "KeyBlock",
    "ObjectContext",
    "header_length",
    "open_range",
    "open_stream",
    "parse_header",
    "read_header",
    "seal",
    "sealed_size",
]

READABLE_SEGMENT_EXPS = frozenset({SEGMENT_EXP})

#: segments read and decrypting ahead of the one released (``open_stream(decrypt=...)``)
DECRYPT_AHEAD = 4


class ContentLengthMismatch(InvalidInput):
    """The content did not have the length announced before sealing."""

    code = "content-length-mismatch"


def parse_header(data: bytes) -> Header:
    """Parse the header at the start of ``data`` (which may extend past it), strictly."""
    return parse_header_with(data, READABLE_SEGMENT_EXPS)


def sealed_size(plaintext_length: int, header_len: int) -> int:
    """Total object length for a plaintext of ``plaintext_length`` bytes."""
    check_plaintext_length(plaintext_length, SEGMENT_EXP)
    tags = GCM_TAG_BYTES * segment_count(plaintext_length, SEGMENT_EXP)
    return header_len + plaintext_length + tags


def _nonce(base: int, index: int, final: bool) -> bytes:
    return (base ^ ((index << 8) | final)).to_bytes(12, "big")


# --- sealing ----------------------------------------------------------------


class _Source:
    """Fills segment buffers from a binary stream or an iterable of chunks.

    ``take(n)`` returns a view of exactly ``n`` bytes, or fewer at end of input.
    A chunk that already holds a whole segment is used in place (no copy).
    """

    def __init__(self, source: BinaryIO | Iterable[bytes], segment_size: int) -> None:
        self._buf = bytearray(segment_size)
        self._view = memoryview(self._buf)
        self._readinto = getattr(source, "readinto", None)
        self._read = getattr(source, "read", None)
        self._chunks = None if self._read is not None else iter(source)
        self._pending = memoryview(b"")

    def _next_chunk(self, want: int) -> memoryview | None:
        if self._pending.nbytes:
            chunk, self._pending = self._pending, memoryview(b"")
            return chunk
        while True:
            if self._chunks is not None:
                raw = next(self._chunks, None)
            else:
                assert self._read is not None
                raw = self._read(want)
            if raw is None or (self._chunks is None and not raw):
                return None
            if not isinstance(raw, bytes | bytearray | memoryview):
                raise InvalidInput("content chunks must be bytes")
            if len(raw):
                return memoryview(raw).cast("B")

    def take(self, n: int) -> memoryview:
        if self._readinto is not None and not self._pending.nbytes:
            filled = 0
            while filled < n:
                got = self._readinto(self._view[filled:n])
                if not got:
                    break
                filled += got
            return self._view[:filled]
        filled = 0
        while filled < n:
            chunk = self._next_chunk(n - filled)
            if chunk is None:
                break
            if filled == 0 and chunk.nbytes >= n:
                self._pending = chunk[n:]
                return chunk[:n]
            use = min(n - filled, chunk.nbytes)
            self._view[filled : filled + use] = chunk[:use]
            self._pending = chunk[use:]
            filled += use
        return self._view[:filled]

    def exhausted(self) -> bool:
        return self._next_chunk(1) is None


def seal(
    source: BinaryIO | Iterable[bytes],
    *,
    dek: bytes,
    key_block: KeyBlock,
    context: ObjectContext,
    plaintext_length: int,
    salt: bytes | None = None,
    segment_exp: int = SEGMENT_EXP,
) -> Iterator[bytes]:
    """Yield the header, then each sealed segment, of the object for ``source``.

    Raises ``ContentLengthMismatch`` before the final segment is yielded when the
    source holds fewer or more than ``plaintext_length`` bytes. recvault writes
    only ``SEGMENT_EXP`` (1 MiB segments); ``segment_exp`` exists so the format's
    tests can make objects of many tiny segments, which readers refuse unless told.
    """
    # Validate eagerly (not on first next()) so bad arguments fail at the call site.
    header, keys = build_header(
        dek=dek,
        key_block=key_block,
        context=context,
        plaintext_length=plaintext_length,
        salt=random_bytes(SALT_BYTES) if salt is None else salt,
        segment_exp=segment_exp,
    )
    return _seal_segments(source, header, keys)


def _seal_segments(
    source: BinaryIO | Iterable[bytes], header: Header, keys: ObjectKeys
) -> Iterator[bytes]:
    yield header.encoded
    aead = AesGcm(keys.segment_key)
    base = int.from_bytes(keys.nonce_base, "big")
    size, count, remaining = header.segment_size, header.segment_count, header.plaintext_length
    reader = _Source(source, size)
    for index in range(count):
        want = min(size, remaining)
        plaintext = reader.take(want)
        if plaintext.nbytes < want:
            got = header.plaintext_length - remaining + plaintext.nbytes
            raise ContentLengthMismatch(
                f"content ended after {got} bytes; {header.plaintext_length} were announced"
            )
        remaining -= want
        final = index == count - 1
        # Seal before probing for extra input: the probe may recycle the source's buffer.
        sealed = aead.encrypt(_nonce(base, index, final), plaintext)
        if final and not reader.exhausted():
            raise ContentLengthMismatch(
                f"content is longer than the {header.plaintext_length} bytes announced"
            )
        yield sealed
        # Drop our reference so the allocator can reuse the block for the next segment.
        del sealed, plaintext


# --- opening ----------------------------------------------------------------


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    parts: list[bytes] = []
    have = 0
    while have < n:
        chunk = stream.read(n - have)
        if not chunk:
            break
        parts.append(chunk)
        have += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _read_into(stream: BinaryIO, view: memoryview) -> int:
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        chunk = _read_exact(stream, view.nbytes)
        view[: len(chunk)] = chunk
        return len(chunk)
    filled = 0
    while filled < view.nbytes:
        got = readinto(view[filled:])
        if not got:
            break
        filled += got
    return filled


def _open_segment(
    aead: AesGcm, base: int, header: Header, index: int, sealed: memoryview | bytes
) -> bytes:
    final = index == header.segment_count - 1
    try:
        return aead.decrypt(_nonce(base, index, final), sealed)
    except AuthenticationFailed:
        raise IntegrityError(f"segment {index} failed authentication") from None


def _sealed_segment_len(header: Header, index: int) -> int:
    if index < header.segment_count - 1:
        return header.segment_size + GCM_TAG_BYTES
    last = header.plaintext_length - index * header.segment_size
    return last + GCM_TAG_BYTES


def _read_stream_header(stream: BinaryIO, accepted: frozenset[int]) -> Header:
    prefix = _read_exact(stream, HEADER_PREFIX_LEN)
    total = header_length(prefix)
    rest = _read_exact(stream, total - HEADER_PREFIX_LEN)
    return parse_header_with(prefix + rest, accepted)


def open_stream(
    stream: BinaryIO,
    *,
    dek: bytes,
    context: ObjectContext,
    segment_exps: frozenset[int] = READABLE_SEGMENT_EXPS,
    decrypt: Executor | None = None,
    ahead: int = DECRYPT_AHEAD,
) -> Iterator[bytes]:
    """Yield the verified plaintext of the object in ``stream``, segment by segment.

    The header and the key commitment are checked at the call, before anything is
    yielded; a segment is yielded only after its tag verified. On IntegrityError
    the chunks already yielded are the verified segments before the failing one.
    ``segment_exps``: the segment sizes accepted (recvault's own: 1 MiB only).

    With ``decrypt``, up to ``ahead`` segments are read and handed to that executor
    while earlier ones are released (``cryptography`` drops the GIL while it
    decrypts, so segments are opened on several cores): order is kept, memory is
    bounded by ``ahead`` sealed buffers and their plaintexts, and a segment whose
    tag fails still ends the stream before any later byte is released.
    """
    header = _read_stream_header(stream, segment_exps)
    keys = verify_header(header, dek, context)
    if decrypt is not None and ahead > 1 and header.segment_count > 1:
        return _open_segments_ahead(stream, header, keys, decrypt, ahead)
    return _open_segments(stream, header, keys)


def _check_segment_read(index: int, got: int, want: int) -> None:
    if got == 0:
        where = "header" if index == 0 else f"segment {index - 1}"
        raise IntegrityError(f"object truncated after {where}")
    if got < want:
        raise IntegrityError(f"object truncated inside segment {index}")


def _open_segments(stream: BinaryIO, header: Header, keys: ObjectKeys) -> Iterator[bytes]:
    aead = AesGcm(keys.segment_key)
    base = int.from_bytes(keys.nonce_base, "big")
    buf = memoryview(bytearray(header.segment_size + GCM_TAG_BYTES))
    for index in range(header.segment_count):
        yield _open_segment(aead, base, header, index, _read_sealed(stream, header, index, buf))


def _read_sealed(stream: BinaryIO, header: Header, index: int, buf: memoryview) -> memoryview:
    """Read segment ``index``'s sealed bytes into ``buf``; truncation and trailing bytes fail."""
    want = _sealed_segment_len(header, index)
    _check_segment_read(index, _read_into(stream, buf[:want]), want)
    if index == header.segment_count - 1 and _read_exact(stream, 1):
        raise IntegrityError("trailing bytes after final segment")
    return buf[:want]


def _open_segments_ahead(
    stream: BinaryIO, header: Header, keys: ObjectKeys, decrypt: Executor, ahead: int
) -> Iterator[bytes]:
    aead = AesGcm(keys.segment_key)
    base = int.from_bytes(keys.nonce_base, "big")
    count = header.segment_count
    stride = header.segment_size + GCM_TAG_BYTES
    # One sealed buffer per segment in flight: the buffer of segment i is refilled
    # (for segment i + ahead) only after segment i's decryption has returned.
    buffers: list[memoryview] = []
    pending: deque[Future[bytes]] = deque()
    failure: IntegrityError | None = None
    following = 0
    try:
        while True:
            while failure is None and following < count and len(pending) < ahead:
                slot = following % ahead
                if slot == len(buffers):
                    buffers.append(memoryview(bytearray(stride)))
                try:
                    sealed = _read_sealed(stream, header, following, buffers[slot])
                except IntegrityError as exc:
                    # released after the segments before it, as the serial path does
                    failure = exc
                    break
                pending.append(decrypt.submit(_open_segment, aead, base, header, following, sealed))
                following += 1
            if not pending:
                break
            yield pending.popleft().result()
        if failure is not None:
            raise failure
    finally:
        for future in pending:
            future.cancel()
        # A decryption still running holds its sealed buffer: wait, so no later
        # read can refill a buffer under it (nothing of it is released).
        for future in pending:
            if not future.cancelled():
                with contextlib.suppress(BaseException):
                    future.result()


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
        return _cut(_open_segment(aead, base, header, index, sealed), index << exp, start, stop)

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
        end = header.length + last * sealed_stride + _sealed_segment_len(header, last)
        span = fetch(offset, end)
        if len(span) != end - offset:
            raise IntegrityError(f"object truncated inside segment {last}")
    view = memoryview(span)
    for index in range(first, last + 1):
        want = _sealed_segment_len(header, index)
        if span:
            at = (index - first) * sealed_stride
            sealed: bytes | memoryview = view[at : at + want]
        else:
            sealed = _fetch_segment(fetch, header, index)
        yield _cut(_open_segment(aead, base, header, index, sealed), index << exp, start, stop)


def _fetch_segment(fetch: Callable[[int, int], bytes], header: Header, index: int) -> bytes:
    """The sealed bytes of segment ``index``, not yet verified."""
    offset = header.length + index * (header.segment_size + GCM_TAG_BYTES)
    want = _sealed_segment_len(header, index)
    sealed = fetch(offset, offset + want)
    if len(sealed) != want:
        raise IntegrityError(f"object truncated inside segment {index}")
    return sealed


def _cut(plaintext: bytes, seg_start: int, start: int, stop: int) -> bytes:
    """The part of a segment's plaintext (starting at ``seg_start``) inside ``[start, stop)``."""
    lo, hi = max(start - seg_start, 0), min(stop - seg_start, len(plaintext))
    return plaintext if (lo, hi) == (0, len(plaintext)) else plaintext[lo:hi]
