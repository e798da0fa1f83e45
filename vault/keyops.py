"""Operations on a subject key across the DB and the key provider.

``reseal_subject`` is the per-record crypto-shred (DESIGN section 4): after a
record's objects and wrapped DEKs are gone, the subject key is rotated, every
remaining DEK rewrapped, the minimum versions raised and older versions
trimmed, so a stray copy of the erased record's wrapped DEK is dead too. It
runs on the rotation machinery of ``vault.rotation``.
"""

from __future__ import annotations

from sqlmodel import Session

from keys.base import KeyProvider, WrappedDek
from vault.context import VaultContext
from vault.db import RecordVersionRow, SubjectRow
from vault.rotation import KeyRotation


def rewrap_rows(
    provider: KeyProvider, key_name: str, rows: list[RecordVersionRow], batch: int
) -> int:
    """Rewrap the rows' DEKs in batches and update the rows in place (caller commits)."""
    done = 0
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        fresh: list[WrappedDek] = provider.rewrap(key_name, [r.wrapped_dek or "" for r in chunk])
        for row, wrapped in zip(chunk, fresh, strict=True):
            row.wrapped_dek, row.key_version = wrapped.ciphertext, wrapped.key_version
        done += len(chunk)
    return done


def reseal_subject(ctx: VaultContext, subject_id: str) -> int:
    """Rotate the subject key, rewrap every live DEK, retire and trim older versions.

    It runs as a persisted rotation job (``vault.rotation``): stopped half-way, it is
    resumed by the next rotation run or sweep.
    """
    return KeyRotation(ctx).reseal(subject_id)


def refresh_if_stale(
    ctx: VaultContext, session: Session, subject: SubjectRow, rows: list[RecordVersionRow]
) -> None:
    """Rewrap DEKs wrapped under a version retired while they were being written."""
    stale = [r for r in rows if r.key_version < subject.min_key_version and r.wrapped_dek]
    if stale:
        provider = ctx.region(subject.region).keys
        rewrap_rows(provider, subject.key_name, stale, ctx.settings.limits.wrap_batch)
