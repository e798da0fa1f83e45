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
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from keys.naming import subject_key_name
from vault.context import VaultContext, require_region
from vault.domain import (
    OPEN_DESTRUCTION,
    Actor,
    LegalBasis,
    RemnantReason,
    SubjectState,
    TransferItemState,
    TransferResult,
    TransferState,
    VersionState,
)
from vault.erasure.remnants import RemnantOrigin, delete_or_keep
from vault.errors import Conflict, HeldByLegalHold, InvalidInput, VaultError
from vault.metadata import (
    KeyDestructionRow,
    RecordRow,
    RecordVersionRow,
    ShreddedRemnantRow,
    SubjectRow,
    TransferItemRow,
    TransferRow,
    session_scope,
)
from vault.residency.copy import copy_version
from vault.residency.leases import claim, new_runner, renew
from vault.retention.holds import active_holds
from vault.retention.object_lock import lock_new_versions
from vault.storage.base import ObjectNotFound

_BATCH = 100
_EVIDENCE_LIMIT = 160  # basis and evidence share the audit event's 200-character purpose


def _basis(value: LegalBasis | str | None) -> LegalBasis:
    if not value:
        raise InvalidInput("a legal basis is required for a transfer between regions")
    try:
        return LegalBasis(value)
    except ValueError:
        known = ", ".join(b.value for b in LegalBasis)
        raise InvalidInput(f"unknown legal basis {value!r} (one of: {known})") from None


def _evidence(value: str | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("evidence_ref is required (where the legal basis is documented)")
    # the length as given, as the API's schema counts it
    if len(value) > _EVIDENCE_LIMIT or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"evidence_ref: at most {_EVIDENCE_LIMIT} printable characters")
    return value.strip()


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
            basis, evidence = _basis(legal_basis), _evidence(evidence_ref)
            self.ctx.region(to_region)
            with session_scope(self.ctx.engine) as session:
                subject = self.ctx.subject(session, subject_id, for_update=True)
                note.about(subject)
                row, resumed = self._start(session, subject, to_region, basis, evidence, actor)
                claim(row, runner, self.ctx.clock())
                session.add(row)
                self._check_holds(session, row, resumed, override_hold, actor)
        try:
            return self._run(row.id, actor, resumed, runner)
        except Exception as exc:
            code = getattr(exc, "code", type(exc).__name__)
            self._audit(row, actor, f"interrupted:{code}", row.from_region)
            raise
        finally:
            self._release(row.id, runner)

    # -- start or resume ----------------------------------------------------------

    def _start(
        self,
        session: Session,
        subject: Any,
        to_region: str,
        basis: LegalBasis,
        evidence: str,
        actor: Actor,
    ) -> tuple[TransferRow, bool]:
        self.ctx.check_access(subject, actor, data=False)
        require_region(actor, to_region)
        running = session.exec(
            select(TransferRow)
            .where(TransferRow.subject_id == subject.id)
            .where(TransferRow.state != TransferState.DONE)
        ).first()
        if running is not None:
            if running.to_region != to_region:
                raise Conflict(f"a transfer of {subject.id} to {running.to_region} is in progress")
            return running, True
        if subject.state != SubjectState.ACTIVE:
            raise Conflict(f"subject {subject.id} is being erased")
        if subject.region == to_region:
            raise Conflict(f"subject {subject.id} is already in region {to_region}")
        if self._reference_taken(session, subject, to_region):
            raise Conflict(f"a subject with the same reference already lives in {to_region}")
        destruction = session.exec(
            select(KeyDestructionRow.id)
            .where(KeyDestructionRow.subject_id == subject.id)
            .where(col(KeyDestructionRow.state).in_(OPEN_DESTRUCTION))
        ).first()
        if destruction is not None:
            raise Conflict(f"the key of subject {subject.id} is scheduled for destruction")
        transfer_id = uuid.uuid4().hex
        row = TransferRow(
            id=transfer_id,
            subject_id=subject.id,
            from_region=subject.region,
            to_region=to_region,
            legal_basis=basis.value,
            evidence_ref=evidence,
            new_key_name=subject_key_name(
                self.ctx.name_secret, f"{subject.id}/transfer/{transfer_id}"
            ),
            old_key_name=subject.key_name,
            state=TransferState.COPYING,
            requested_by=actor.name[:200],
            started_at=self.ctx.clock(),
        )
        session.add(row)
        return row, False

    def _check_holds(
        self, session: Session, row: TransferRow, resumed: bool, override_hold: bool, actor: Actor
    ) -> None:
        """Refuse while a legal hold covers the subject, unless an admin overrides it."""
        holds = active_holds(session, row.subject_id)
        overriding = bool(holds) and not row.override_hold
        if overriding and not override_hold:
            cases = ", ".join(sorted({h.case_ref for h in holds}))
            raise HeldByLegalHold(f"subject {row.subject_id} is under legal hold ({cases})")
        if overriding:
            row.override_hold = True
            session.add(row)
            session.flush()
        outcome = "resumed" if resumed else "started"
        self._audit_in(
            session, row, outcome + (":hold-override" if overriding else ""), row.from_region, actor
        )

    # -- the state machine ----------------------------------------------------------

    def _run(self, transfer_id: str, actor: Actor, resumed: bool, runner: str) -> TransferResult:
        copied = 0
        for _ in range(100):
            row = self._load(transfer_id, runner)
            if row.state == TransferState.COPYING:
                copied += self._copy(row, runner)
            elif row.state == TransferState.SWITCHING:
                self._switch(row, actor, runner)
            elif row.state == TransferState.CLEANING:
                self._clean(row, actor)
            else:
                return self._result(row, copied, resumed)
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

    def _set_state(self, transfer_id: str, state: TransferState) -> None:
        with session_scope(self.ctx.engine) as session:
            row = session.get(TransferRow, transfer_id)
            assert row is not None
            row.state = state
            session.add(row)

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
        self._set_state(row.id, TransferState.SWITCHING)
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

    def _items(self, transfer_id: str) -> list[TransferItemRow]:
        with session_scope(self.ctx.engine) as session:
            return list(
                session.exec(
                    select(TransferItemRow).where(TransferItemRow.transfer_id == transfer_id)
                ).all()
            )

    def _reference_taken(self, session: Session, subject: SubjectRow, to_region: str) -> bool:
        """Whether the target region already has a live subject for this reference."""
        base = subject.ref_base or subject.ref_hmac
        return (
            session.exec(
                select(SubjectRow.id)
                .where(col(SubjectRow.ref_hmac).in_([self.ctx.ref_tag(to_region, base), base]))
                .where(SubjectRow.region == to_region)
                .where(SubjectRow.id != subject.id)
                .where(col(SubjectRow.state).in_([SubjectState.ACTIVE, SubjectState.DESTROYING]))
            ).first()
            is not None
        )

    def _switch(self, row: TransferRow, actor: Actor, runner: str) -> None:
        target = self.ctx.region(row.to_region)
        items = {(i.record_id, i.version): i for i in self._items(row.id)}
        for item in items.values():
            if item.state != TransferItemState.COPIED:
                continue
            try:
                target.store.head(item.new_object_key)
            except ObjectNotFound:
                self._set_state(row.id, TransferState.COPYING)  # e.g. removed by gc
                self._requeue(item)
                return
        moved: list[tuple[str, int]] = []
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, row.subject_id, for_update=True)
            fresh = session.get(TransferRow, row.id, with_for_update=True)
            assert fresh is not None
            renew(fresh, runner, self.ctx.clock())
            versions = session.exec(
                select(RecordVersionRow)
                .join(RecordRow, col(RecordRow.id) == col(RecordVersionRow.record_id))
                .where(RecordRow.subject_id == row.subject_id)
                .where(RecordVersionRow.state == VersionState.COMMITTED)
            ).all()
            live = {(v.record_id, v.version): v for v in versions}
            if any(k not in items or items[k].state != TransferItemState.COPIED for k in live):
                fresh.state = TransferState.COPYING
                session.add(fresh)
                return
            for key, item in items.items():
                version = live.get(key)
                if version is None:  # erased while the transfer ran: drop its copy
                    item.state = TransferItemState.DROPPED
                    session.add(item)
                    continue
                version.object_key, version.header = item.new_object_key, item.header
                version.wrapped_dek, version.key_name = item.wrapped_dek, row.new_key_name
                version.key_version, version.lock_until = item.key_version, None
                session.add(version)
                moved.append(key)
            base = subject.ref_base or subject.ref_hmac  # subjects from before ADR 0005
            subject.ref_hmac, subject.ref_base = self.ctx.ref_tag(row.to_region, base), base
            subject.region, subject.key_name = row.to_region, row.new_key_name
            subject.min_key_version = 0
            session.add(subject)
            fresh.state = TransferState.CLEANING
            session.add(fresh)
            self._audit_in(session, fresh, "switched", row.to_region, actor)
        lock_new_versions(self.ctx, moved)

    def _requeue(self, item: TransferItemRow) -> None:
        with session_scope(self.ctx.engine) as session:
            fresh = session.get(TransferItemRow, (item.transfer_id, item.record_id, item.version))
            assert fresh is not None
            fresh.state = TransferItemState.COPYING
            session.add(fresh)

    def _clean(self, row: TransferRow, actor: Actor) -> None:
        source, target = self.ctx.region(row.from_region), self.ctx.region(row.to_region)
        # The key first: from here no stray copy of an old object can be read, and an
        # old object the store keeps under Object Lock is a shredded remnant.
        source.keys.destroy(row.old_key_name)
        origin = RemnantOrigin(row.subject_id, RemnantReason.TRANSFER, row.id, row.old_key_name)
        for item in self._items(row.id):
            delete_or_keep(self.ctx, source, item.old_object_key, origin, actor)
            if item.state == TransferItemState.DROPPED:
                target.store.delete(item.new_object_key)
        with session_scope(self.ctx.engine) as session:
            fresh = session.get(TransferRow, row.id)
            assert fresh is not None
            fresh.state, fresh.finished_at = TransferState.DONE, self.ctx.clock()
            session.add(fresh)
            self._audit_in(session, fresh, "ok", row.to_region, actor)

    def _result(self, row: TransferRow, copied: int, resumed: bool) -> TransferResult:
        items = self._items(row.id)
        with session_scope(self.ctx.engine) as session:
            remnants = session.exec(
                select(func.count())
                .select_from(ShreddedRemnantRow)
                .where(ShreddedRemnantRow.source_id == row.id)
            ).one()
        return TransferResult(
            id=row.id,
            subject_id=row.subject_id,
            from_region=row.from_region,
            to_region=row.to_region,
            legal_basis=LegalBasis(row.legal_basis),
            evidence_ref=row.evidence_ref,
            state=TransferState(row.state),
            versions=sum(1 for i in items if i.state == TransferItemState.COPIED),
            copied_now=copied,
            resumed=resumed,
            hold_override=row.override_hold,
            started_at=row.started_at,
            finished_at=row.finished_at,
            remnants=int(remnants),
        )

    # -- audit ------------------------------------------------------------------------

    def _audit_in(
        self,
        session: Session,
        row: TransferRow,
        outcome: str,
        region: str,
        actor: Actor,
    ) -> None:
        self.ctx.audit.append(
            session,
            actor=actor,
            action="subject.transfer",
            target=row.subject_id,
            subject_id=row.subject_id,
            region=region,
            purpose=f"{row.legal_basis}:{row.evidence_ref}",
            outcome=outcome if not row.override_hold or outcome != "ok" else "ok:hold-override",
        )

    def _audit(self, row: TransferRow, actor: Actor, outcome: str, region: str) -> None:
        with session_scope(self.ctx.engine) as session:
            self._audit_in(session, row, outcome, region, actor)
