"""The only importer of ``cryptography.hazmat``: AEAD, HKDF, randomness, signatures.

Everything above this package sees bytes in and bytes out, and one error
(``AuthenticationFailed``) for any failed tag; it never sees a primitive.
``primitives`` and ``signing`` wrap the library; ``documents`` is the one
recipe on top (signed JSON documents). Imports nothing of recvault but
``vault.errors``.
"""

from vault.crypto.primitives import (
    AES_KEY_BYTES,
    GCM_NONCE_BYTES,
    GCM_TAG_BYTES,
    AesGcm,
    AuthenticationFailed,
    hkdf_sha512,
    random_bytes,
)
from vault.crypto.signing import SigningKey, verify_signature

__all__ = [
    "AES_KEY_BYTES",
    "GCM_NONCE_BYTES",
    "GCM_TAG_BYTES",
    "AesGcm",
    "AuthenticationFailed",
    "SigningKey",
    "hkdf_sha512",
    "random_bytes",
    "verify_signature",
]
