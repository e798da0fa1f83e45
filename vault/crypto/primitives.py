"""AES-256-GCM, HKDF-SHA-512 and the system CSPRNG, behind a bytes-only surface."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

AES_KEY_BYTES = 32
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16


#: What the AEAD accepts as data: segments are passed as views to avoid copies.
Bytes = bytes | bytearray | memoryview


class AuthenticationFailed(Exception):
    """An AEAD tag did not verify. Deliberately opaque: callers say what failed."""


class AesGcm:
    """AES-256-GCM under one key, reused across many segments."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != AES_KEY_BYTES:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)

    def encrypt(self, nonce: bytes, plaintext: Bytes, aad: bytes | None = None) -> bytes:
        return self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes, ciphertext: Bytes, aad: bytes | None = None) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise AuthenticationFailed() from None


def hkdf_sha512(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA512(), length=length, salt=salt, info=info).derive(ikm)


def random_bytes(n: int) -> bytes:
    return os.urandom(n)
