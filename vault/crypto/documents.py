"""Signed documents (destruction certificates, residency reports): canonical JSON + Ed25519.

A document is canonical JSON (sorted keys, no spaces) signed with Ed25519;
the envelope carries the document, the signature and the public key, so a
regulator can verify it with any Ed25519 implementation and no access to
recvault. A recipe over ``signing``, as Fernet is over its primitives.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from vault.crypto.signing import SigningKey, verify_signature


def canonical(document: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces: the bytes that are signed."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def sign_document(key: SigningKey, document: dict[str, Any]) -> dict[str, Any]:
    """The envelope: the document, its Ed25519 signature and the public key."""
    signature = key.sign(canonical(document))
    return {
        "document": document,
        "signature": base64.b64encode(signature).decode(),
        "public_key": key.public_key_b64(),
        "algorithm": "ed25519",
    }


def verify_document(envelope: dict[str, Any], public_key: str | None = None) -> bool:
    """True when the signature over the document verifies (against ``public_key`` if given)."""
    try:
        key = public_key or envelope["public_key"]
        signature = base64.b64decode(envelope["signature"])
        return verify_signature(key, canonical(envelope["document"]), signature)
    except (KeyError, TypeError, ValueError):
        return False
