"""Ed25519 signatures for destruction certificates and residency reports.

Anyone holding the public key can verify a certificate without access to
recvault; the private key comes from ``RECVAULT_SIGNING_KEY`` (32-byte seed,
hex or base64).
"""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class SigningKey:
    """An Ed25519 private key made from a 32-byte seed."""

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("signing key seed must be 32 bytes")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_key_b64(self) -> str:
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()


def verify_signature(public_key_b64: str, message: bytes, signature: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
