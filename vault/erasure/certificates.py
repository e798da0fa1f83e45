"""The destruction certificate: signed proof that a subject's key and data are gone.

Signed as every recvault document is (``vault.crypto.documents``): anyone can
verify it offline with the public key it carries.
"""

from __future__ import annotations

import json

from vault.context import VaultContext
from vault.crypto.documents import sign_document
from vault.metadata import KeyDestructionRow


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
    return json.dumps(sign_document(ctx.signing_key, document), sort_keys=True)
