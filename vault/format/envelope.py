"""Object format v1's API: seal and open records, whole or by range (spec: docs/format.md).

An object is ``header ‖ segment_0 ‖ … ‖ segment_{n-1}``: each segment is up to
1 MiB of plaintext sealed with AES-256-GCM under a key derived from the record's
DEK, the header and the record's context from the metadata DB. Plaintext is
only ever released one verified segment at a time.

This module is the one place callers import the format from; the work lives in
``header`` (layout, parsing, key derivation), ``segments`` (nonces, sealed
lengths, one segment opened), ``sealing`` (``seal``), ``opening``
(``open_stream``) and ``ranges`` (``read_header``, ``open_range``).
"""

from __future__ import annotations

from vault.format.header import (
    FORMAT_VERSION,
    HEADER_PREFIX_LEN,
    SEGMENT_EXP,
    SEGMENT_SIZE,
    SUITE_AES256GCM_HKDFSHA512_C32,
    Header,
    KeyBlock,
    ObjectContext,
    header_length,
)
from vault.format.opening import DECRYPT_AHEAD, open_stream
from vault.format.ranges import COALESCE_SEGMENTS, open_range, read_header
from vault.format.sealing import ContentLengthMismatch, seal
from vault.format.segments import READABLE_SEGMENT_EXPS, parse_header, sealed_size

__all__ = [
    "COALESCE_SEGMENTS",
    "DECRYPT_AHEAD",
    "FORMAT_VERSION",
    "HEADER_PREFIX_LEN",
    "READABLE_SEGMENT_EXPS",
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
