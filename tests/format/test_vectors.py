"""Known-answer vectors: sealing fixed inputs reproduces tests/vectors/format_v1.json."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from tests.vectors.make_format_vectors import plaintext_of
from vault.format import envelope
from vault.format.header import build_header

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "format_v1.json").read_text())
DEK = bytes.fromhex(VECTORS["dek"])
SALT = bytes.fromhex(VECTORS["salt"])
CONTEXT = envelope.ObjectContext(**VECTORS["context"])
KEY_BLOCK = envelope.KeyBlock(
    VECTORS["key_block"]["key_name"],
    VECTORS["key_block"]["key_version"],
    bytes.fromhex(VECTORS["key_block"]["wrapped_dek"]),
)
CASES = {case["name"]: case for case in VECTORS["cases"]}


def _seal(plaintext: bytes) -> bytes:
    return b"".join(
        envelope.seal(
            io.BytesIO(plaintext),
            dek=DEK,
            key_block=KEY_BLOCK,
            context=CONTEXT,
            plaintext_length=len(plaintext),
            salt=SALT,
        )
    )


def test_vectors_cover_empty_small_and_multi_segment() -> None:
    lengths = sorted(case["plaintext_length"] for case in CASES.values())
    assert lengths[:3] == [0, 1, 100]
    assert lengths[-1] > 2 * envelope.SEGMENT_SIZE


@pytest.mark.parametrize("name", sorted(CASES))
def test_seal_reproduces_vector(name: str) -> None:
    case = CASES[name]
    plaintext = plaintext_of(case["plaintext_length"])
    if "plaintext" in case:
        assert plaintext.hex() == case["plaintext"]
    obj = _seal(plaintext)
    assert len(obj) == case["object_length"]
    assert hashlib.sha256(obj).hexdigest() == case["object_sha256"]
    if "object" in case:
        assert obj.hex() == case["object"]
    header = envelope.parse_header(obj)
    assert header.encoded.hex() == case["header"]
    assert header.commitment.hex() == case["commitment"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_derived_keys_match_vector(name: str) -> None:
    case = CASES[name]
    _, keys = build_header(
        dek=DEK,
        key_block=KEY_BLOCK,
        context=CONTEXT,
        plaintext_length=case["plaintext_length"],
        salt=SALT,
    )
    assert keys.segment_key.hex() == case["segment_key"]
    assert keys.nonce_base.hex() == case["nonce_base"]
    assert keys.commitment.hex() == case["commitment"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector_opens_to_its_plaintext(name: str) -> None:
    case = CASES[name]
    plaintext = plaintext_of(case["plaintext_length"])
    stored = bytes.fromhex(case["object"]) if "object" in case else _seal(plaintext)
    opened = b"".join(envelope.open_stream(io.BytesIO(stored), dek=DEK, context=CONTEXT))
    assert opened == plaintext
