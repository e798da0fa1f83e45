"""Audited transfer of a subject between regions, resumable after any crash.

The subject keeps its id, so every record id, hold and erasure request that
names it still works; what changes is its region and its subject key. The
new key's name is ``subject_key_name(name secret, "<subject id>/transfer/<transfer
id>")``: an HMAC like every key name, unlinkable to the old one without the
name secret, and never reused (see ``docs/residency.md``).

States of a ``TransferRow``: ``copying`` (each committed version is decrypted
from the source region, sealed under a fresh DEK wrapped by the new key,
written to the target store, read back and its plaintext digest compared;
each copy is recorded once in ``TransferItemRow``) → ``switching`` (one
transaction points every version row, and the subject, at the copies) →
``cleaning`` (the old key is destroyed, then the old objects deleted; one
the store keeps under Object Lock is recorded as a shredded remnant, see
``vault.erasure.remnants``) → ``done``. Calling ``transfer`` again resumes
where the last call stopped. Writes to the subject are refused until the
transfer is done; sweeps, rotation and erasure requests leave the subject
alone until then, and one process at a time runs a transfer, under a lease
(``vault.residency.leases``, ADR 0014).

This module runs the state machine and the copying; the checks before it
starts are in ``transfer_start``, switching and cleaning in
``transfer_cutover``, and the rows, audit events and result every step
shares in ``transfer_record``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_
from sqlmodel import col, select

from vault.context import VaultContext
from vault.domain import (
    Actor,
    LegalBasis,
    TransferItemState,
    TransferResult,
    TransferState,
    VersionState,
)
from vault.errors import Conflict, VaultError
from vault.metadata import (
    RecordRow,
    RecordVersionRow,
    TransferItemRow,
    TransferRow,
    session_scope,
)
from vault.residency.copy import copy_version
from vault.residency.leases import claim, new_runner, renew
from vault.residency.transfer_cutover import clean, switch
from vault.residency.transfer_record import (
    audit_transfer,
    set_state,
    transfer_result,
)
from vault.residency.transfer_start import (
    check_holds,
    required_basis,
    required_evidence,
    start_or_resume,
)

_BATCH = 100


class Transfers:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def transfer(
        self,
        subject_id: str,
        to_region: str,
        legal_basis: LegalBasis | str | None,
        evidence_ref: str | None,
        actor: Actor,
        override_hold: bool = False,
    ) -> TransferResult:
        runner = new_runner()
        with self.ctx.audit_refusal(actor, "subject.transfer", subject_id) as note:
            basis, evidence = required_basis(legal_basis), required_evidence(evidence_ref)
            self.ctx.region(to_region)
            with session_scope(self.ctx.engine) as session:
                subject = self.ctx.subject(session, subject_id, for_update=True)
                note.about(subject)
                row, resumed = start_or_resume(
                    self.ctx, session, subject, to_region, basis, evidence, actor
                )
                claim(row, runner, self.ctx.clock())
                session.add(row)
                check_holds(self.ctx, session, row, resumed, override_hold, actor)
        try:
            return self._run(row.id, actor, resumed, runner)
        except Exception as exc:
            code = getattr(exc, "code", type(exc).__name__)
            audit_transfer(self.ctx, row, actor, f"interrupted:{code}", row.from_region)
            raise
        finally:
            self._release(row.id, runner)

    # -- the state machine ----------------------------------------------------------

    def _run(self, transfer_id: str, actor: Actor, resumed: bool, runner: str) -> TransferResult:
        copied = 0
        for _ in range(100):
            row = self._load(transfer_id, runner)
            if row.state == TransferState.COPYING:
                copied += self._copy(row, runner)
            elif row.state == TransferState.SWITCHING:
                switch(self.ctx, row, actor, runner)
            elif row.state == TransferState.CLEANING:
                clean(self.ctx, row, actor)
            else:
                return transfer_result(self.ctx, row, copied, resumed)
        raise Conflict(f"transfer {transfer_id} keeps finding new versions; retry")

    def _load(self, transfer_id: str, runner: str | None = None) -> TransferRow:
        """The transfer's row; with ``runner``, that runner's lease renewed first."""
        with session_scope(self.ctx.engine) as session:
            row = session.get(TransferRow, transfer_id, with_for_update=runner is not None)
            assert row is not None
            if runner is not None and row.state != TransferState.DONE:
                renew(row, runner, self.ctx.clock())
                session.add(row)
            return row

    def _release(self, transfer_id: str, runner: str) -> None:
        """Let the transfer go (finished or stopped): the next call may run it at once."""
        try:
            with session_scope(self.ctx.engine) as session:
                row = session.get(TransferRow, transfer_id, with_for_update=True)
                if row is not None and row.claimed_by == runner:
                    row.claimed_by = None
                    session.add(row)
        except VaultError:
            pass  # the DB is down: the lease runs out and the next call takes over

    # -- copying ----------------------------------------------------------------------

    def _copy(self, row: TransferRow, runner: str) -> int:
        placed = self.ctx.region(row.to_region).keys.ensure_key(row.new_key_name).name
        if placed != row.new_key_name:
            # a sharded region named the key with its mount (ADR 0012): record that name
            # before anything is wrapped under it; a resumed transfer finds it recorded
            with session_scope(self.ctx.engine) as session:
                stored = session.get(TransferRow, row.id)
                assert stored is not None
                stored.new_key_name = placed
                session.add(stored)
            row.new_key_name = placed
        copied = 0
        while batch := self._uncopied(row):
            for version in batch:
                self._load(row.id, runner)  # still ours: renew the lease per version
                self._copy_one(row, version)
                copied += 1
        set_state(self.ctx, row.id, TransferState.SWITCHING)
        return copied

    def _uncopied(self, row: TransferRow) -> list[RecordVersionRow]:
        """Committed versions of the subject without a verified copy, a batch at a time."""
        with session_scope(self.ctx.engine) as session:
            query = (
                select(RecordVersionRow)
                .join(RecordRow, col(RecordRow.id) == col(RecordVersionRow.record_id))
                .outerjoin(
                    TransferItemRow,
                    and_(
                        col(TransferItemRow.transfer_id) == row.id,
                        col(TransferItemRow.record_id) == col(RecordVersionRow.record_id),
                        col(TransferItemRow.version) == col(RecordVersionRow.version),
                        col(TransferItemRow.state) == TransferItemState.COPIED,
                    ),
                )
                .where(RecordRow.subject_id == row.subject_id)
                .where(RecordVersionRow.state == VersionState.COMMITTED)
                .where(col(TransferItemRow.transfer_id).is_(None))
                .order_by(col(RecordVersionRow.record_id), col(RecordVersionRow.version))
                .limit(_BATCH)
            )
            return list(session.exec(query).all())

    def _copy_one(self, row: TransferRow, version: RecordVersionRow) -> None:
        source, target = self.ctx.region(row.from_region), self.ctx.region(row.to_region)
        item, retry = self._item(row, version)
        if retry:  # an earlier attempt may have left a partial copy
            target.store.delete(item.new_object_key)
        copy = copy_version(
            version, row.subject_id, source, target, row.new_key_name, item.new_object_key
        )
        with session_scope(self.ctx.engine) as session:
            fresh = session.get(TransferItemRow, (row.id, version.record_id, version.version))
            assert fresh is not None
            fresh.state, fresh.header, fresh.digest = (
                TransferItemState.COPIED,
                copy.header,
                copy.digest,
            )
            fresh.wrapped_dek, fresh.key_version = copy.wrapped_dek, copy.key_version
            fresh.size, fresh.etag = version.size, version.etag
            fresh.copied_at = self.ctx.clock()
            session.add(fresh)

    def _item(self, row: TransferRow, version: RecordVersionRow) -> tuple[TransferItemRow, bool]:
        """The version's item, recorded (with its target key) before any byte is written;
        and whether an earlier attempt recorded it already."""
        with session_scope(self.ctx.engine) as session:
            item = session.get(TransferItemRow, (row.id, version.record_id, version.version))
            if item is not None:
                return item, True
            object_id = uuid.uuid4().hex
            item = TransferItemRow(
                transfer_id=row.id,
                record_id=version.record_id,
                version=version.version,
                state=TransferItemState.COPYING,
                old_object_key=version.object_key,
                new_object_key=f"{row.to_region}/{object_id[:2]}/{object_id}",
                size=version.size,
            )
            session.add(item)
            return item, False
