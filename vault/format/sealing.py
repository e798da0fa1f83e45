"""Sealing records into object format v1: header, then 1 MiB sealed segments.

``seal`` streams a record's content (a binary stream or chunks of known total
length) into the object's header and its AES-256-GCM segments, one segment
buffer at a time; content shorter or longer than announced is refused before
the final segment is yielded (spec: docs/format.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from vault.crypto import AesGcm, random_bytes
from vault.errors import InvalidInput
from vault.format.header import (
    SALT_BYTES,
    SEGMENT_EXP,
    Header,
    KeyBlock,
    ObjectContext,
    ObjectKeys,
    build_header,
)
from vault.format.segments import nonce


class ContentLengthMismatch(InvalidInput):
    """The content did not have the length announced before sealing."""

    code = "content-length-mismatch"


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
        sealed = aead.encrypt(nonce(base, index, final), plaintext)
        if final and not reader.exhausted():
            raise ContentLengthMismatch(
                f"content is longer than the {header.plaintext_length} bytes announced"
            )
        yield sealed
        # Drop our reference so the allocator can reuse the block for the next segment.
        del sealed, plaintext
