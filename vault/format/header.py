"""Object header v1: layout, strict parsing and per-object key derivation.

The byte layout is specified in ``docs/format.md``; ``vault.format.envelope`` seals and
opens objects on top of this module and re-exports its public names.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from vault.crypto import AES_KEY_BYTES, GCM_NONCE_BYTES, GCM_TAG_BYTES, hkdf_sha512
from vault.errors import IntegrityError, InvalidInput

MAGIC = b"RVLT"
FORMAT_VERSION = 1
SUITE_AES256GCM_HKDFSHA512_C32 = 1
SEGMENT_EXP = 20
SEGMENT_SIZE = 1 << SEGMENT_EXP
SALT_BYTES = 32
COMMITMENT_BYTES = 32
DEK_BYTES = 32
MAX_SEGMENTS = 1 << 32

#: magic, format version, total header length: enough to learn the header's size.
HEADER_PREFIX_LEN = len(MAGIC) + 1 + 4

_PREFIX = struct.Struct(">4sBI")
# suite, segment exponent, plaintext length, salt
_FIXED = struct.Struct(">BBQ32s")
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

_DERIVATION_LABEL = b"recvault/v1/object-keys\x00"
_DERIVED_BYTES = AES_KEY_BYTES + GCM_NONCE_BYTES + COMMITMENT_BYTES

# Smallest header: every variable field empty; largest: every length at its maximum.
_KEY_BLOCK_MIN = 1 + 4 + 2
_HEADER_MIN = HEADER_PREFIX_LEN + _FIXED.size + 2 + 4 + 1 + 2 + _KEY_BLOCK_MIN + COMMITMENT_BYTES
_HEADER_MAX = _HEADER_MIN + 0xFFFF + 0xFF + (0xFFFF - _KEY_BLOCK_MIN)


@dataclass(frozen=True)
class ObjectContext:
    """What the metadata DB says an object belongs to; never read from the object."""

    record_id: str
    record_version: int
    subject_id: str
    region: str


@dataclass(frozen=True)
class KeyBlock:
    """The wrapped DEK as copied into the header for recovery (the DB is authoritative)."""

    key_name: str
    key_version: int
    wrapped_dek: bytes


@dataclass(frozen=True)
class Header:
    """A parsed (or freshly built) v1 header; ``encoded`` is its exact stored form."""

    format_version: int
    suite_id: int
    segment_exp: int
    plaintext_length: int
    salt: bytes
    key_block: KeyBlock
    record_id: str
    record_version: int
    region: str
    commitment: bytes
    encoded: bytes

    @property
    def length(self) -> int:
        return len(self.encoded)

    @property
    def segment_size(self) -> int:
        return 1 << self.segment_exp

    @property
    def segment_count(self) -> int:
        return segment_count(self.plaintext_length, self.segment_exp)

    @property
    def object_length(self) -> int:
        return self.length + self.plaintext_length + GCM_TAG_BYTES * self.segment_count


@dataclass(frozen=True)
class ObjectKeys:
    """The per-object secrets derived from the DEK, the header and the context."""

    segment_key: bytes
    nonce_base: bytes
    commitment: bytes


def segment_count(plaintext_length: int, segment_exp: int) -> int:
    return max(1, -(-plaintext_length // (1 << segment_exp)))


def check_plaintext_length(plaintext_length: int, segment_exp: int) -> None:
    if plaintext_length < 0 or plaintext_length > (MAX_SEGMENTS << segment_exp):
        raise InvalidInput(f"plaintext length {plaintext_length} is outside what v1 can hold")


def header_length(prefix: bytes) -> int:
    """Total header length from the first ``HEADER_PREFIX_LEN`` bytes of an object."""
    if len(prefix) < HEADER_PREFIX_LEN:
        raise IntegrityError("object truncated inside header")
    magic, version, total = _PREFIX.unpack_from(prefix)
    if magic != MAGIC:
        raise IntegrityError("not a recvault object (bad magic)")
    if version != FORMAT_VERSION:
        raise IntegrityError(f"unsupported format version {version}")
    if not _HEADER_MIN <= total <= _HEADER_MAX:
        raise IntegrityError(f"header length {total} out of range")
    return int(total)


# --- encoding ---------------------------------------------------------------


def _ascii(value: str, what: str, max_len: int) -> bytes:
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} must be ASCII") from None
    return _bounded(raw, what, max_len)


def _utf8(value: str, what: str) -> bytes:
    return _bounded(value.encode("utf-8"), what, 0xFFFF)


def _bounded(raw: bytes, what: str, max_len: int) -> bytes:
    if not raw:
        raise InvalidInput(f"{what} must not be empty")
    if len(raw) > max_len:
        raise InvalidInput(f"{what} longer than {max_len} bytes")
    return raw


def _u32(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise InvalidInput(f"{what} must fit in 32 bits")
    return _U32.pack(value)


def _bound_fields(
    suite_id: int, segment_exp: int, plaintext_length: int, salt: bytes, context: ObjectContext
) -> bytes:
    """The header fields covered by the derivation, serialized as in the header."""
    record_id = _utf8(context.record_id, "record id")
    region = _ascii(context.region, "region", 0xFF)
    return b"".join(
        (
            MAGIC,
            _U8.pack(FORMAT_VERSION),
            _FIXED.pack(suite_id, segment_exp, plaintext_length, salt),
            _U16.pack(len(record_id)),
            record_id,
            _u32(context.record_version, "record version"),
            _U8.pack(len(region)),
            region,
        )
    )


def _context_bytes(context: ObjectContext) -> bytes:
    record_id = _utf8(context.record_id, "record id")
    subject_id = _utf8(context.subject_id, "subject id")
    region = _ascii(context.region, "region", 0xFF)
    return b"".join(
        (
            _U16.pack(len(record_id)),
            record_id,
            _u32(context.record_version, "record version"),
            _U16.pack(len(subject_id)),
            subject_id,
            _U8.pack(len(region)),
            region,
        )
    )


def _encode_key_block(key_block: KeyBlock) -> bytes:
    name = _ascii(key_block.key_name, "key name", 0xFF)
    if len(key_block.wrapped_dek) > 0xFFFF - _KEY_BLOCK_MIN - len(name):
        raise InvalidInput("key block longer than 65535 bytes")
    body = b"".join(
        (
            _U8.pack(len(name)),
            name,
            _u32(key_block.key_version, "key version"),
            _U16.pack(len(key_block.wrapped_dek)),
            key_block.wrapped_dek,
        )
    )
    return _U16.pack(len(body)) + body


def derive_object_keys(
    dek: bytes, salt: bytes, bound_fields: bytes, context: ObjectContext
) -> ObjectKeys:
    """HKDF-SHA-512 over the DEK; ``bound_fields`` (which repeat the salt) go in info."""
    if len(dek) != DEK_BYTES:
        raise InvalidInput("a data key must be 32 bytes")
    okm = hkdf_sha512(
        dek, salt, _DERIVATION_LABEL + bound_fields + _context_bytes(context), _DERIVED_BYTES
    )
    return ObjectKeys(
        segment_key=okm[:AES_KEY_BYTES],
        nonce_base=okm[AES_KEY_BYTES : AES_KEY_BYTES + GCM_NONCE_BYTES],
        commitment=okm[AES_KEY_BYTES + GCM_NONCE_BYTES :],
    )


def build_header(
    *,
    dek: bytes,
    key_block: KeyBlock,
    context: ObjectContext,
    plaintext_length: int,
    salt: bytes,
    segment_exp: int = SEGMENT_EXP,
) -> tuple[Header, ObjectKeys]:
    """Encode a header for ``context`` and derive the object's keys in one step."""
    if len(salt) != SALT_BYTES:
        raise InvalidInput("salt must be 32 bytes")
    check_plaintext_length(plaintext_length, segment_exp)
    bound = _bound_fields(
        SUITE_AES256GCM_HKDFSHA512_C32, segment_exp, plaintext_length, salt, context
    )
    keys = derive_object_keys(dek, salt, bound, context)
    key_block_bytes = _encode_key_block(key_block)
    total = len(bound) + 4 + len(key_block_bytes) + COMMITMENT_BYTES
    encoded = b"".join((bound[:5], _U32.pack(total), bound[5:], key_block_bytes, keys.commitment))
    header = Header(
        format_version=FORMAT_VERSION,
        suite_id=SUITE_AES256GCM_HKDFSHA512_C32,
        segment_exp=segment_exp,
        plaintext_length=plaintext_length,
        salt=bytes(salt),
        key_block=key_block,
        record_id=context.record_id,
        record_version=context.record_version,
        region=context.region,
        commitment=keys.commitment,
        encoded=encoded,
    )
    return header, keys


# --- parsing ----------------------------------------------------------------


class _Cursor:
    """Reads length-prefixed fields from a header, failing on any overrun."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise IntegrityError(f"header lengths do not add up ({what} overruns the header)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return int(_U8.unpack(self.take(1, what))[0])

    def u16(self, what: str) -> int:
        return int(_U16.unpack(self.take(2, what))[0])

    def u32(self, what: str) -> int:
        return int(_U32.unpack(self.take(4, what))[0])

    def text(self, n: int, what: str, encoding: str) -> str:
        raw = self.take(n, what)
        if not raw:
            raise IntegrityError(f"header field {what} is empty")
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            raise IntegrityError(f"header field {what} is not valid {encoding}") from None


def parse_header_with(data: bytes, accepted_segment_exps: frozenset[int]) -> Header:
    """Strict parse; ``accepted_segment_exps`` lets tests read small-segment objects."""
    data = bytes(data[:_HEADER_MAX]) if not isinstance(data, bytes) else data
    total = header_length(data[:HEADER_PREFIX_LEN])
    if len(data) < total:
        raise IntegrityError("object truncated inside header")
    cur = _Cursor(data, HEADER_PREFIX_LEN, total - COMMITMENT_BYTES)
    suite_id, segment_exp, plaintext_length, salt = _FIXED.unpack(cur.take(_FIXED.size, "fixed"))
    if suite_id != SUITE_AES256GCM_HKDFSHA512_C32:
        raise IntegrityError(f"unknown suite {suite_id}")
    if segment_exp not in accepted_segment_exps:
        raise IntegrityError(f"unsupported segment size exponent {segment_exp}")
    if plaintext_length > (MAX_SEGMENTS << segment_exp):
        raise IntegrityError("plaintext length exceeds the v1 segment limit")
    record_id = cur.text(cur.u16("record id length"), "record id", "utf-8")
    record_version = cur.u32("record version")
    region = cur.text(cur.u8("region length"), "region", "ascii")
    key_block_len = cur.u16("key block length")
    key_block_end = cur.pos + key_block_len
    key_name = cur.text(cur.u8("key name length"), "key name", "ascii")
    key_version = cur.u32("key version")
    wrapped_dek = cur.take(cur.u16("wrapped key length"), "wrapped key")
    if cur.pos != key_block_end:
        raise IntegrityError("header lengths do not add up (key block)")
    if cur.pos != cur.end:
        raise IntegrityError("header lengths do not add up")
    return Header(
        format_version=FORMAT_VERSION,
        suite_id=suite_id,
        segment_exp=segment_exp,
        plaintext_length=plaintext_length,
        salt=salt,
        key_block=KeyBlock(key_name, key_version, wrapped_dek),
        record_id=record_id,
        record_version=record_version,
        region=region,
        commitment=data[cur.end : total],
        encoded=data[:total],
    )


def verify_header(header: Header, dek: bytes, context: ObjectContext) -> ObjectKeys:
    """Check the header against the DB's context and the key commitment; derive keys."""
    if (header.record_id, header.record_version, header.region) != (
        context.record_id,
        context.record_version,
        context.region,
    ):
        raise IntegrityError("object header names another record, version or region")
    bound = _bound_fields(
        header.suite_id, header.segment_exp, header.plaintext_length, header.salt, context
    )
    keys = derive_object_keys(dek, header.salt, bound, context)
    if not hmac.compare_digest(keys.commitment, header.commitment):
        raise IntegrityError("key commitment mismatch (wrong key or wrong record)")
    return keys
