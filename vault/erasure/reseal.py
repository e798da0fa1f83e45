"""Operations on a subject key across the DB and the key provider.

``reseal_subject`` is the per-record crypto-shred (DESIGN section 4): after a
record's objects and wrapped DEKs are gone, the subject key is rotated, every
remaining DEK rewrapped, the minimum versions raised and older versions
trimmed, so a stray copy of the erased record's wrapped DEK is dead too. It
runs on the rotation machinery of ``vault.rotation.rotate``.
"""

from __future__ import annotations

from vault.context import VaultContext
from vault.rotation.rotate import KeyRotation


def reseal_subject(ctx: VaultContext, subject_id: str) -> int:
    """Rotate the subject key, rewrap every live DEK, retire and trim older versions.

    It runs as a persisted rotation job (``vault.rotation.rotate``): stopped half-way, it is
    resumed by the next rotation run or sweep.
    """
    return KeyRotation(ctx).reseal(subject_id)
