"""The destruction certificate: signed proof that a subject's key and data are gone.

Signed as every recvault document is (``vault.crypto.documents``): anyone can
verify it offline with the public key it carries. ``remnants`` lists the
subject's objects in the region that the store still keeps under Object Lock
(object key, retain-until, why): unreadable, deleted once their lock lapses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from vault.context import VaultContext
from vault.crypto.documents import sign_document
from vault.domain import Remnant
from vault.metadata import KeyDestructionRow

_REMNANTS = (
    " The objects listed as remnants are kept by the object store under Object Lock"
    " until their retain-until date; they are sealed under the destroyed key, cannot be"
    " decrypted, and are deleted by the disposal sweep once the lock lapses."
)


def destruction_certificate(
    ctx: VaultContext,
    row: KeyDestructionRow,
    counts: dict[str, int],
    provider_label: str,
    location: str,
    remnants: Sequence[Remnant] = (),
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
        "remnants": [
            {
                "object_key": r.object_key,
                "retain_until": r.retain_until.isoformat() if r.retain_until else None,
                "reason": r.reason.value,
            }
            for r in remnants
        ],
        "statement": (
            "The subject key was destroyed in the key service and every wrapped data key "
            "and object of the subject was deleted. Key-service snapshots and backups made "
            "before the destruction expire by the snapshot horizon; after it no copy of "
            "the key remains and no copy of any object can be decrypted."
            + (_REMNANTS if remnants else "")
        ),
    }
    return json.dumps(sign_document(ctx.signing_key, document), sort_keys=True)
