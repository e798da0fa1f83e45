"""Per-record erasure: a record's objects and DEKs go, then its subject's key is resealed.

DESIGN section 4: after a record's objects and wrapped DEKs are gone, the
subject key is rotated, every remaining DEK rewrapped, the minimum versions
raised and older versions trimmed, so a stray copy of the erased record's
wrapped DEK (a DB backup, an object header in a replica) is dead too. The
reseal runs as a persisted rotation job: stopped half-way, the next rotation
run or sweep resumes it. An object the store keeps under Object Lock waits as an
``awaiting-shred`` remnant until the trim is seen, then becomes a shredded remnant
(``vault.erasure.remnants``). A record whose subject is being transferred is
left alone until the transfer is done (ADR 0014).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel import select

from vault.context import VaultContext
from vault.domain import Actor, RecordState, RemnantReason, VersionState
from vault.erasure.remnants import RemnantOrigin, keep_awaiting, promote
from vault.metadata import RecordRow, RecordVersionRow, session_scope
from vault.residency.leases import transfer_in_progress
from vault.retention.holds import active_holds
from vault.retention.rules import RecordFacts, decide_record
from vault.rotation.rotate import KeyRotation
from vault.storage.base import ObjectLocked


def erase_records(ctx: VaultContext, by_subject: Mapping[str, Sequence[str]], actor: Actor) -> int:
    """Erase each record that may still go, then reseal each subject that lost one."""
    erased = 0
    resealed: list[str] = []
    for subject_id, record_ids in by_subject.items():
        done = sum(erase_record(ctx, record_id, actor) for record_id in record_ids)
        if done:
            erased += done
            resealed.append(subject_id)
    rotation = KeyRotation(ctx)
    for subject_id in resealed:
        rotation.reseal(subject_id)
        # The trim retired the key versions of the erased DEKs: locked objects are shredded.
        promote(ctx, actor, subject_id=subject_id)
    return erased


def erase_record(ctx: VaultContext, record_id: str, actor: Actor) -> bool:
    """Erase one record: delete its objects, wipe its DEKs (the caller reseals the key)."""
    with session_scope(ctx.engine) as session:
        found = session.get(RecordRow, record_id)
        if found is None:
            return False
        # The subject's row first, then the record's: the order a write's commit locks them.
        subject = ctx.subject(session, found.subject_id, for_update=True)
        record = session.get(RecordRow, record_id, with_for_update=True, populate_existing=True)
        if record is None or record.state != RecordState.ACTIVE:
            return False
        if transfer_in_progress(session, subject.id):
            return False  # kept until the transfer is done; a later sweep erases it
        verdict = decide_record(
            RecordFacts(record.id, record.retain_until),
            active_holds(session, subject.id),
            subject.id,
            subject.restricted,
            ctx.clock(),
        )
        if not verdict.disposable:
            return False
        objects: list[tuple[str, RemnantOrigin]] = []
        for version in session.exec(
            select(RecordVersionRow).where(RecordVersionRow.record_id == record_id)
        ).all():
            origin = RemnantOrigin(
                subject.id,
                RemnantReason.RECORD_ERASURE,
                record_id,
                version.key_name,
                version.key_version,
            )
            objects.append((version.object_key, origin))
            version.state = VersionState.ERASED
            version.wrapped_dek, version.header = None, None
            session.add(version)
        record.state, record.erased_at = RecordState.ERASED, ctx.clock()
        session.add(record)
        ctx.audit.about(
            session,
            actor,
            "record.erase",
            subject,
            target=record_id,
            purpose="retention-passed",
        )
        region = ctx.region(subject.region)
    for key, origin in objects:
        try:
            region.store.delete(key)
        except ObjectLocked as locked:
            # Its key version still exists until the reseal trims it: not yet shredded.
            keep_awaiting(ctx, region, key, origin, locked, actor)
    return True
