"""Produce tests/vectors/format_v1.json and cross-check it against a longhand build.

Run from the repository root: ``python -m tests.vectors.make_format_vectors``
(``--check`` compares with the stored file instead of writing it).

Every object is built twice: by ``vault.format.envelope.seal`` and by the longhand
functions below, which follow docs/format.md using ``struct`` and the
``cryptography`` primitives directly (not ``vault.crypto``), so a mistake in the
format code cannot silently agree with itself. The script refuses to write
vectors when the two disagree.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.format import envelope

OUT = Path(__file__).with_name("format_v1.json")
SEGMENT = 1 << 20
SMALL = 256  # objects up to this many plaintext bytes are stored in full

DEK = bytes.fromhex("6b" * 8 + "00112233445566778899aabbccddeeff" + "5a" * 8)
SALT = bytes(range(0xA0, 0xC0))
CONTEXT = {
    "record_id": "4f1c9a3e-8d2b-4c6e-9f70-1a2b3c4d5e6f",
    "record_version": 3,
    "subject_id": "7d0e5b2a-3c4f-4a1b-8e9d-0f1e2d3c4b5a",
    "region": "JP",
}
KEY_BLOCK = {
    "key_name": "subj-" + "c3" * 16,
    "key_version": 2,
    "wrapped_dek": b"vault:v2:" + b"A" * 60,
}
CASES = [
    ("empty", 0),
    ("one-byte", 1),
    ("hundred-bytes", 100),
    ("two-segments-and-a-bit", 2 * SEGMENT + 3),
]


def plaintext_of(length: int) -> bytes:
    """The generator every vector uses: byte i is i % 251."""
    return bytes(i % 251 for i in range(251)) * (length // 251) + bytes(range(length % 251))


def _lp(raw: bytes, fmt: str) -> bytes:
    return struct.pack(fmt, len(raw)) + raw


def longhand_object(plaintext: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """(object, segment key, nonce base, commitment) per docs/format.md, written out."""
    ctx = CONTEXT
    record_id = ctx["record_id"].encode()
    region = ctx["region"].encode("ascii")
    bound = (
        b"RVLT"
        + bytes([1])
        + bytes([1, 20])
        + struct.pack(">Q", len(plaintext))
        + SALT
        + _lp(record_id, ">H")
        + struct.pack(">I", ctx["record_version"])
        + _lp(region, ">B")
    )
    context = (
        _lp(record_id, ">H")
        + struct.pack(">I", ctx["record_version"])
        + _lp(ctx["subject_id"].encode(), ">H")
        + _lp(region, ">B")
    )
    okm = HKDF(
        algorithm=hashes.SHA512(),
        length=76,
        salt=SALT,
        info=b"recvault/v1/object-keys\x00" + bound + context,
    ).derive(DEK)
    segment_key, nonce_base, commitment = okm[:32], okm[32:44], okm[44:]
    kb = KEY_BLOCK
    key_block_body = (
        _lp(kb["key_name"].encode("ascii"), ">B")
        + struct.pack(">I", kb["key_version"])
        + _lp(kb["wrapped_dek"], ">H")
    )
    key_block = _lp(key_block_body, ">H")
    total = len(bound) + 4 + len(key_block) + 32
    header = bound[:5] + struct.pack(">I", total) + bound[5:] + key_block + commitment
    aead = AESGCM(segment_key)
    count = max(1, -(-len(plaintext) // SEGMENT))
    segments = []
    for i in range(count):
        counter = bytes(7) + struct.pack(">I", i) + bytes([i == count - 1])
        nonce = bytes(a ^ b for a, b in zip(nonce_base, counter, strict=True))
        segments.append(aead.encrypt(nonce, plaintext[i * SEGMENT : (i + 1) * SEGMENT], None))
    return header + b"".join(segments), segment_key, nonce_base, commitment


def envelope_object(plaintext: bytes) -> bytes:
    return b"".join(
        envelope.seal(
            [plaintext],
            dek=DEK,
            key_block=envelope.KeyBlock(**KEY_BLOCK),
            context=envelope.ObjectContext(**CONTEXT),
            plaintext_length=len(plaintext),
            salt=SALT,
        )
    )


def build() -> dict[str, object]:
    cases = []
    for name, length in CASES:
        plaintext = plaintext_of(length)
        obj, segment_key, nonce_base, commitment = longhand_object(plaintext)
        if envelope_object(plaintext) != obj:
            raise SystemExit(f"vault.format.envelope disagrees with the longhand build for {name}")
        header_len = struct.unpack(">I", obj[5:9])[0]
        case: dict[str, object] = {
            "name": name,
            "plaintext_length": length,
            "segment_key": segment_key.hex(),
            "nonce_base": nonce_base.hex(),
            "commitment": commitment.hex(),
            "header": obj[:header_len].hex(),
            "object_length": len(obj),
            "object_sha256": hashlib.sha256(obj).hexdigest(),
        }
        if length <= SMALL:
            case["plaintext"] = plaintext.hex()
            case["object"] = obj.hex()
        cases.append(case)
    return {
        "format": "recvault object format v1 (docs/format.md)",
        "plaintext_generator": "byte i of a plaintext is i % 251",
        "dek": DEK.hex(),
        "salt": SALT.hex(),
        "context": CONTEXT,
        "key_block": {**KEY_BLOCK, "wrapped_dek": KEY_BLOCK["wrapped_dek"].hex()},
        "cases": cases,
    }


def main(argv: list[str]) -> int:
    text = json.dumps(build(), indent=2) + "\n"
    if "--check" in argv:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date", file=sys.stderr)
            return 1
        print(f"{OUT} matches")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
