"""Operations on a subject key across the DB and the key provider.

``reseal_subject`` is the per-record crypto-shred (DESIGN section 4): after a
record's objects and wrapped DEKs are gone, the subject key is rotated, every
remaining DEK rewrapped, the minimum versions raised and older versions
trimmed, so a stray copy of the erased record's wrapped DEK is dead too.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from keys.base import KeyProvider, WrappedDek
from vault.context import VaultContext
from vault.db import RecordRow, RecordVersionRow, SubjectRow, session_scope
from vault.domain import VersionState


def live_wrapped(
    session: Session, subject_id: str, below: int | None = None
) -> list[RecordVersionRow]:
    query = (
        select(RecordVersionRow)
        .join(RecordRow, col(RecordRow.id) == col(RecordVersionRow.record_id))
        .where(RecordRow.subject_id == subject_id)
        .where(col(RecordVersionRow.wrapped_dek).is_not(None))
        .where(RecordVersionRow.state != VersionState.ERASED)
    )
    if below is not None:
        query = query.where(col(RecordVersionRow.key_version) < below)
    return list(session.exec(query).all())


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
    """Rotate the subject key, rewrap every live DEK, retire and trim older versions."""
    with session_scope(ctx.engine) as session:
        subject = ctx.subject(session, subject_id, for_update=True)
        provider = ctx.region(subject.region).keys
        key_name = subject.key_name
        latest = provider.rotate(key_name)
        subject.min_key_version = latest
        session.add(subject)
    with session_scope(ctx.engine) as session:
        ctx.subject(session, subject_id, for_update=True)
        rows = live_wrapped(session, subject_id, below=latest)
        count = rewrap_rows(provider, key_name, rows, ctx.settings.limits.wrap_batch)
        session.add_all(rows)
    provider.set_min_encryption_version(key_name, latest)
    provider.set_min_decryption_version(key_name, latest)
    provider.trim(key_name, latest)
    return count


def refresh_if_stale(
    ctx: VaultContext, session: Session, subject: SubjectRow, rows: list[RecordVersionRow]
) -> None:
    """Rewrap DEKs wrapped under a version retired while they were being written."""
    stale = [r for r in rows if r.key_version < subject.min_key_version and r.wrapped_dek]
    if stale:
        provider = ctx.region(subject.region).keys
        rewrap_rows(provider, subject.key_name, stale, ctx.settings.limits.wrap_batch)
