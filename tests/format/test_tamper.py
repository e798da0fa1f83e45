"""Tampering, truncation, splicing and substitution: each fails with IntegrityError.

Consumers are simulated with ``collect``: whatever was yielded before the error
must be exactly the plaintext of the segments before the failing one.
"""

from __future__ import annotations

import dataclasses
import io
import struct
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import pytest

from tests.format.support import (
    CONTEXT,
    DEK,
    KEY_BLOCK,
    OTHER_DEK,
    SEG,
    TAG,
    CountingFetch,
    collect,
    plaintext,
    seal_bytes,
    segments_of,
)
from vault.errors import IntegrityError
from vault.format import envelope
from vault.format.header import build_header

SMALL = plaintext(100)
BIG_LEN = 2 * SEG + SEG // 2  # three segments: 1 MiB, 1 MiB, 0.5 MiB
BIG = plaintext(BIG_LEN)


@cache
def small_object() -> bytes:
    return seal_bytes(SMALL)


@cache
def big_object() -> bytes:
    return seal_bytes(BIG)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _open(obj: bytes, **kwargs: object) -> tuple[list[bytes], IntegrityError | None]:
    return collect(
        lambda: envelope.open_stream(io.BytesIO(obj), **{"dek": DEK, "context": CONTEXT, **kwargs})
    )  # type: ignore[arg-type]


def _assert_fails_after(obj: bytes, verified_segments: int, message: str) -> None:
    chunks, exc = _open(obj)
    assert exc is not None, "tampered object opened without error"
    assert message in str(exc)
    assert chunks == [BIG[i * SEG : (i + 1) * SEG] for i in range(verified_segments)]


def _key_block_inert_offsets(header: envelope.Header) -> set[int]:
    """Header bytes inside the key block that the derivation does not cover, by design."""
    start = 9 + 1 + 1 + 8 + 32 + 2 + len(header.record_id.encode()) + 4 + 1 + len(header.region)
    body = start + 2
    name_len = len(header.key_block.key_name)
    name = set(range(body + 1, body + 1 + name_len))
    version = set(range(body + 1 + name_len, body + 5 + name_len))
    wrapped_at = body + 7 + name_len
    wrapped = set(range(wrapped_at, wrapped_at + len(header.key_block.wrapped_dek)))
    return name | version | wrapped


# --- single-bit flips -------------------------------------------------------


def test_every_header_bit_flip_is_detected_or_inert() -> None:
    obj = small_object()
    header = envelope.parse_header(obj)
    inert = _key_block_inert_offsets(header)
    detected = 0
    for bit in range(header.length * 8):
        chunks, exc = _open(_flip(obj, bit))
        if exc is None:
            # Only the key block copy may change without failing: it is outside the
            # derivation so that rotation can rewrap DEKs without rewriting objects;
            # the DEK comes from the DB and the commitment proves it is the right one.
            assert bit // 8 in inert, f"flip of header bit {bit} went undetected"
            assert chunks == [SMALL]
            assert envelope.parse_header(_flip(obj, bit)).key_block != header.key_block
        else:
            assert chunks == []
            detected += 1
    outside_key_block = header.length - len(inert)
    assert detected >= outside_key_block * 8


def test_every_segment_bit_flip_is_detected() -> None:
    obj = small_object()
    header_len = envelope.parse_header(obj).length
    for bit in range(header_len * 8, len(obj) * 8):
        chunks, exc = _open(_flip(obj, bit))
        assert exc is not None and str(exc) == "segment 0 failed authentication", bit
        assert chunks == []


@pytest.mark.parametrize("segment", [0, 1, 2])
@pytest.mark.parametrize("where", ["first", "middle", "tag"])
def test_bit_flip_in_big_segment(segment: int, where: str) -> None:
    obj = big_object()
    header_len = envelope.parse_header(obj).length
    seg_start = header_len + segment * (SEG + TAG)
    seg_len = (SEG if segment < 2 else SEG // 2) + TAG
    offset = {"first": 0, "middle": seg_len // 2, "tag": seg_len - 3}[where]
    _assert_fails_after(
        _flip(obj, (seg_start + offset) * 8 + 5),
        segment,
        f"segment {segment} failed authentication",
    )


# --- truncation, extension, reordering ----------------------------------------


@pytest.mark.parametrize(
    ("cut", "verified", "message"),
    [
        ("header", 0, "object truncated after header"),
        ("after-0", 1, "object truncated after segment 0"),
        ("after-1", 2, "object truncated after segment 1"),
        ("inside-0", 0, "object truncated inside segment 0"),
        ("inside-1", 1, "object truncated inside segment 1"),
        ("inside-2", 2, "object truncated inside segment 2"),
        ("last-byte", 2, "object truncated inside segment 2"),
    ],
)
def test_truncation(cut: str, verified: int, message: str) -> None:
    obj = big_object()
    h = envelope.parse_header(obj).length
    stride = SEG + TAG
    length = {
        "header": h,
        "after-0": h + stride,
        "after-1": h + 2 * stride,
        "inside-0": h + 1,
        "inside-1": h + stride + SEG // 2,
        "inside-2": h + 2 * stride + 100,
        "last-byte": len(obj) - 1,
    }[cut]
    _assert_fails_after(obj[:length], verified, message)


@pytest.mark.parametrize("cut", [0, 1, 4, 8, 9, 50])
def test_truncation_inside_header(cut: int) -> None:
    chunks, exc = _open(small_object()[:cut])
    assert exc is not None and str(exc) == "object truncated inside header"
    assert chunks == []


def test_every_truncation_of_a_small_segment_object() -> None:
    # 64-byte segments (exponent 6, refused unless asked for) make every cut point cheap to try.
    data = plaintext(64 * 4 + 9)
    obj = b"".join(
        envelope.seal(
            [data],
            dek=DEK,
            key_block=KEY_BLOCK,
            context=CONTEXT,
            plaintext_length=len(data),
            segment_exp=6,
        )
    )
    accepted = frozenset({6})
    for cut in range(len(obj)):
        chunks, exc = collect(
            lambda cut=cut: envelope.open_stream(
                io.BytesIO(obj[:cut]), dek=DEK, context=CONTEXT, segment_exps=accepted
            )
        )
        assert exc is not None, cut
        assert b"".join(chunks) == data[: 64 * len(chunks)]
        assert all(len(chunk) == 64 for chunk in chunks)
    full, exc = collect(
        lambda: envelope.open_stream(
            io.BytesIO(obj), dek=DEK, context=CONTEXT, segment_exps=accepted
        )
    )
    assert exc is None and b"".join(full) == data
    with pytest.raises(IntegrityError, match="unsupported segment size exponent 6"):
        envelope.parse_header(obj)


@pytest.mark.parametrize("extra", [b"\x00", bytes(16), b"RVLT"])
def test_trailing_bytes(extra: bytes) -> None:
    _assert_fails_after(big_object() + extra, 2, "trailing bytes after final segment")


def test_appended_copy_of_a_segment() -> None:
    _, segments = segments_of(big_object())
    _assert_fails_after(big_object() + segments[0], 2, "trailing bytes after final segment")


def test_swapped_segments() -> None:
    header, s = segments_of(big_object())
    _assert_fails_after(header + s[1] + s[0] + s[2], 0, "segment 0 failed authentication")


def test_duplicated_segment() -> None:
    header, s = segments_of(big_object())
    _assert_fails_after(header + s[0] + s[0] + s[2], 1, "segment 1 failed authentication")


def test_dropped_middle_segment() -> None:
    header, s = segments_of(big_object())
    obj = header + s[0] + s[2]
    chunks, exc = _open(obj)
    assert exc is not None and "segment 1" in str(exc)
    assert chunks == [BIG[:SEG]]


def test_segment_spliced_from_another_object_of_the_same_record() -> None:
    other = seal_bytes(BIG, salt=bytes(32))
    header, s = segments_of(big_object())
    _, t = segments_of(other)
    _assert_fails_after(header + s[0] + t[1] + s[2], 1, "segment 1 failed authentication")


def _spec_nonce(base: bytes, index: int, *, final: bool) -> bytes:
    """docs/format.md: nonce base XOR (0x00 x 7 || uint32_be(i) || final flag), written out."""
    suffix = bytes(7) + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")
    return bytes(a ^ b for a, b in zip(base, suffix, strict=True))


def test_final_flag_is_bound() -> None:
    # An object cut to two whole segments, presented with a header claiming two
    # segments, still fails: segment 1 was sealed as non-final.
    data = plaintext(2 * SEG)
    header, keys = build_header(
        dek=DEK, key_block=KEY_BLOCK, context=CONTEXT, plaintext_length=2 * SEG, salt=bytes(32)
    )
    from vault.crypto import AesGcm

    aead = AesGcm(keys.segment_key)
    seg0 = aead.encrypt(_spec_nonce(keys.nonce_base, 0, final=False), data[:SEG])
    seg1_not_final = aead.encrypt(_spec_nonce(keys.nonce_base, 1, final=False), data[SEG:])
    chunks, exc = collect(
        lambda: envelope.open_stream(
            io.BytesIO(header.encoded + seg0 + seg1_not_final), dek=DEK, context=CONTEXT
        )
    )
    assert exc is not None and str(exc) == "segment 1 failed authentication"
    assert chunks == [data[:SEG]]


# --- wrong key, wrong record --------------------------------------------------


def test_wrong_dek() -> None:
    chunks, exc = _open(big_object(), dek=OTHER_DEK)
    assert exc is not None and str(exc) == "key commitment mismatch (wrong key or wrong record)"
    assert chunks == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("record_id", "0d9a6c1e-2b3f-4e5a-8c7d-9e0f1a2b3c4e", "names another record"),
        ("record_version", 2, "names another record"),
        ("region", "PH", "names another record"),
        ("subject_id", "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1e", "key commitment mismatch"),
    ],
)
def test_object_presented_for_another_record(field: str, value: object, message: str) -> None:
    other = dataclasses.replace(CONTEXT, **{field: value})
    chunks, exc = _open(small_object(), context=other)
    assert exc is not None and message in str(exc)
    assert chunks == []
    with pytest.raises(IntegrityError, match=message):
        envelope.open_range(
            CountingFetch(small_object()),
            envelope.parse_header(small_object()),
            dek=DEK,
            context=other,
            start=0,
            stop=10,
        )


def test_header_rewritten_for_another_record_fails_commitment() -> None:
    # Re-seal the same bytes for another record with the same DEK, then graft
    # that object's header (which names the right record) onto ours.
    other_ctx = dataclasses.replace(CONTEXT, subject_id="someone-else")
    forged = seal_bytes(SMALL, context=other_ctx)
    chunks, exc = _open(forged)
    assert exc is not None and "key commitment mismatch" in str(exc)
    assert chunks == []


def test_range_read_checks_commitment_before_fetching() -> None:
    obj = big_object()
    header = envelope.parse_header(obj)
    fetch = CountingFetch(obj)
    with pytest.raises(IntegrityError, match="key commitment mismatch"):
        envelope.open_range(fetch, header, dek=OTHER_DEK, context=CONTEXT, start=0, stop=10)
    assert fetch.calls == []


def test_range_read_detects_tampered_segment_and_skips_others() -> None:
    obj = big_object()
    header = envelope.parse_header(obj)
    bad = _flip(obj, (header.length + (SEG + TAG) + 10) * 8)
    ok = list(
        envelope.open_range(CountingFetch(bad), header, dek=DEK, context=CONTEXT, start=5, stop=SEG)
    )
    assert b"".join(ok) == BIG[5:SEG]
    chunks, exc = collect(
        lambda: envelope.open_range(
            CountingFetch(bad), header, dek=DEK, context=CONTEXT, start=SEG - 5, stop=SEG + 5
        )
    )
    assert exc is not None and str(exc) == "segment 1 failed authentication"
    assert chunks == [BIG[SEG - 5 : SEG]]


def test_prefetched_range_read_detects_tampered_segment_and_releases_the_good_one() -> None:
    obj = big_object()
    header = envelope.parse_header(obj)
    bad = _flip(obj, (header.length + (SEG + TAG) + 10) * 8)
    with ThreadPoolExecutor(2) as prefetch:
        chunks, exc = collect(
            lambda: envelope.open_range(
                CountingFetch(bad),
                header,
                dek=DEK,
                context=CONTEXT,
                start=SEG - 5,
                stop=2 * SEG + 5,  # three segments: more than one request covers
                prefetch=prefetch,
            )
        )
    assert exc is not None and str(exc) == "segment 1 failed authentication"
    assert chunks == [BIG[SEG - 5 : SEG]]


def test_prefetched_range_read_of_truncated_object() -> None:
    obj = big_object()
    header = envelope.parse_header(obj)
    fetch = CountingFetch(obj[: len(obj) - 1])
    with ThreadPoolExecutor(2) as prefetch, pytest.raises(IntegrityError, match="segment 2"):
        list(
            envelope.open_range(
                fetch,
                header,
                dek=DEK,
                context=CONTEXT,
                start=SEG - 1,
                stop=BIG_LEN,
                prefetch=prefetch,
            )
        )


def test_range_read_of_truncated_object() -> None:
    obj = big_object()
    header = envelope.parse_header(obj)
    fetch = CountingFetch(obj[: len(obj) - 1])
    with pytest.raises(IntegrityError, match="truncated inside segment 2"):
        list(
            envelope.open_range(
                fetch, header, dek=DEK, context=CONTEXT, start=2 * SEG, stop=BIG_LEN
            )
        )


# --- header structure -----------------------------------------------------------

_HEADER = envelope.parse_header(seal_bytes(SMALL)).encoded


def _patched(offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(small_object())
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (0, ">B", ord("X"), "bad magic"),
        (4, ">B", 2, "unsupported format version 2"),
        (4, ">B", 0, "unsupported format version 0"),
        (9, ">B", 9, "unknown suite 9"),
        (10, ">B", 21, "unsupported segment size exponent 21"),
        (5, ">I", len(_HEADER) + 1, "header lengths do not add up"),
        (5, ">I", len(_HEADER) - 1, "header lengths do not add up"),
        (5, ">I", 12, "header length 12 out of range"),
        (5, ">I", 0xFFFFFFFF, "out of range"),
        (51, ">H", 200, "header lengths do not add up"),  # record id length
        (11, ">Q", 2**63, "exceeds the v1 segment limit"),
    ],
)
def test_structural_errors(offset: int, fmt: str, value: int, message: str) -> None:
    obj = _patched(offset, fmt, value)
    with pytest.raises(IntegrityError, match=message):
        envelope.parse_header(obj)
    chunks, exc = _open(obj)
    assert exc is not None and message in str(exc)
    assert chunks == []


def test_key_block_length_must_add_up() -> None:
    h = envelope.parse_header(small_object())
    kb_at = 9 + 1 + 1 + 8 + 32 + 2 + len(h.record_id) + 4 + 1 + len(h.region)
    for delta in (-1, 1):
        kb_len = struct.unpack_from(">H", small_object(), kb_at)[0]
        with pytest.raises(IntegrityError, match="header lengths do not add up"):
            envelope.parse_header(_patched(kb_at, ">H", kb_len + delta))


def test_plaintext_length_change_fails_commitment() -> None:
    obj = _patched(11, ">Q", len(SMALL) - 1)
    chunks, exc = _open(obj)
    assert exc is not None and "key commitment mismatch" in str(exc)
    assert chunks == []


def test_error_messages_leak_nothing() -> None:
    secrets = [SMALL.hex()[:16], DEK.hex()[:16], CONTEXT.subject_id]
    for obj in [_flip(small_object(), (len(small_object()) - 1) * 8), small_object()[:-1]]:
        _, exc = _open(obj)
        assert exc is not None
        assert not any(secret in str(exc) for secret in secrets)
