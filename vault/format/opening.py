"""Opening a whole object of format v1: verified plaintext, one segment at a time.

``open_stream`` reads an object from a binary stream, checks its header and
key commitment before anything is yielded, and releases each segment only
after its tag verified; truncation and trailing bytes fail as the spec says
(docs/format.md, "Reading"). With an executor it decrypts a few segments
ahead, in order and with bounded memory.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from typing import BinaryIO

from vault.crypto import GCM_TAG_BYTES, AesGcm
from vault.errors import IntegrityError
from vault.format.header import (
    HEADER_PREFIX_LEN,
    Header,
    ObjectContext,
    ObjectKeys,
    header_length,
    parse_header_with,
    verify_header,
)
from vault.format.segments import READABLE_SEGMENT_EXPS, open_segment, sealed_segment_len

#: segments read and decrypting ahead of the one released (``open_stream(decrypt=...)``)
DECRYPT_AHEAD = 4


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
        yield open_segment(aead, base, header, index, _read_sealed(stream, header, index, buf))


def _read_sealed(stream: BinaryIO, header: Header, index: int, buf: memoryview) -> memoryview:
    """Read segment ``index``'s sealed bytes into ``buf``; truncation and trailing bytes fail."""
    want = sealed_segment_len(header, index)
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
                pending.append(decrypt.submit(open_segment, aead, base, header, following, sealed))
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
