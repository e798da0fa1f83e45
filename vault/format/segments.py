"""Segments of object format v1: nonces, sealed lengths and opening one segment.

What sealing (``sealing``), whole-object reads (``opening``) and range reads
(``ranges``) share: the per-segment nonce with its index and final flag, the
sealed length of segment ``i``, the one check that turns a failed tag into an
``IntegrityError``, and the segment sizes recvault's readers accept.
"""

from __future__ import annotations

from vault.crypto import GCM_TAG_BYTES, AesGcm, AuthenticationFailed
from vault.errors import IntegrityError
from vault.format.header import (
    SEGMENT_EXP,
    Header,
    check_plaintext_length,
    parse_header_with,
    segment_count,
)

#: segment sizes recvault's readers accept (its own: 1 MiB only)
READABLE_SEGMENT_EXPS = frozenset({SEGMENT_EXP})


def parse_header(data: bytes) -> Header:
    """Parse the header at the start of ``data`` (which may extend past it), strictly."""
    return parse_header_with(data, READABLE_SEGMENT_EXPS)


def sealed_size(plaintext_length: int, header_len: int) -> int:
    """Total object length for a plaintext of ``plaintext_length`` bytes."""
    check_plaintext_length(plaintext_length, SEGMENT_EXP)
    tags = GCM_TAG_BYTES * segment_count(plaintext_length, SEGMENT_EXP)
    return header_len + plaintext_length + tags


def nonce(base: int, index: int, final: bool) -> bytes:
    """Segment ``index``'s nonce: the nonce base XOR its index and final flag."""
    return (base ^ ((index << 8) | final)).to_bytes(12, "big")


def sealed_segment_len(header: Header, index: int) -> int:
    """Stored length of segment ``index``: its plaintext and the tag."""
    if index < header.segment_count - 1:
        return header.segment_size + GCM_TAG_BYTES
    last = header.plaintext_length - index * header.segment_size
    return last + GCM_TAG_BYTES


def open_segment(
    aead: AesGcm, base: int, header: Header, index: int, sealed: memoryview | bytes
) -> bytes:
    """The plaintext of segment ``index``, only if its tag verifies."""
    final = index == header.segment_count - 1
    try:
        return aead.decrypt(nonce(base, index, final), sealed)
    except AuthenticationFailed:
        raise IntegrityError(f"segment {index} failed authentication") from None
