"""Signed documents: destruction certificates and residency reports.

A document is canonical JSON (sorted keys, no spaces) signed with Ed25519;
the envelope carries the document, the signature and the public key, so a
regulator can verify it with any Ed25519 implementation and no access to
recvault.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from vault.context import VaultContext
from vault.crypto import verify_signature
from vault.metadata import KeyDestructionRow


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def sign_document(ctx: VaultContext, document: dict[str, Any]) -> dict[str, Any]:
    signature = ctx.signing_key.sign(canonical(document))
    return {
        "document": document,
        "signature": base64.b64encode(signature).decode(),
        "public_key": ctx.signing_key.public_key_b64(),
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


def destruction_certificate(
    ctx: VaultContext,
    row: KeyDestructionRow,
    counts: dict[str, int],
    provider_label: str,
    location: str,
) -> str:
    assert row.executed_at is not None
    horizon = ctx.settings.destruction.snapshot_retention.after(row.executed_at)
    document = {
        "type": "recvault.destruction-certificate",
        "version": 1,
        "destruction_id": row.id,
        "subject_id": row.subject_id,
        "subject_key": row.key_name,
        "region": row.region,
        "location": location,
        "key_provider": provider_label,
        "reason": row.reason,
        "scheduled_at": row.scheduled_at.isoformat(),
        "not_before": row.not_before.isoformat(),
        "executed_at": row.executed_at.isoformat(),
        "records": counts["records"],
        "versions": counts["versions"],
        "bytes": counts["bytes"],
        "snapshot_horizon": horizon.isoformat(),
        "statement": (
            "The subject key was destroyed in the key service and every wrapped data key "
            "and object of the subject was deleted. Key-service snapshots and backups made "
            "before the destruction expire by the snapshot horizon; after it no copy of "
            "the key remains and no copy of any object can be decrypted."
        ),
    }
    return json.dumps(sign_document(ctx, document), sort_keys=True)
