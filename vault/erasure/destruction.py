"""Key destruction: schedule, cancel, and execute a subject's crypto-shred.

A destruction waits ``destruction.waiting_period`` (cancellable); when due,
a worker claims it (``FOR UPDATE SKIP LOCKED``; a vanished worker's claim is
taken over after a lease, renewed at every step), re-checks the rules,
destroys the subject key (once: ``key_destroyed_at`` records it), wipes every
wrapped DEK and header copy, deletes every object version (one kept under
Object Lock becomes a shredded remnant, listed in the certificate) and stores
a signed certificate. Every step is idempotent, so a rerun finishes a
destruction that stopped half way. No destruction is scheduled while the
subject is being transferred (and no transfer starts while one is open): ADR 0014.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from vault.context import VaultContext, require_region
from vault.domain import (
    OPEN_DESTRUCTION,
    OPEN_ERASURE,
    SYSTEM,
    Actor,
    Destruction,
    DestructionState,
    ErasureStatus,
    Reason,
    RecordState,
    RemnantReason,
    SubjectState,
    VersionState,
)
from vault.erasure.certificates import destruction_certificate
from vault.erasure.remnants import RemnantOrigin, delete_or_keep, promote, shredded_remnants
from vault.errors import Conflict, NotFound
from vault.metadata import (
    ErasureRequestRow,
    KeyDestructionRow,
    RecordRow,
    RecordVersionRow,
    SubjectRow,
    session_scope,
)
from vault.paging import Page, after, check_limit, cut, scope
from vault.residency.leases import transfer_in_progress
from vault.retention.holds import active_holds
from vault.retention.rules import Block, Decision, RecordFacts, decide_subject

#: an executing destruction whose worker vanished is taken over after this long
_LEASE = timedelta(minutes=15)
#: objects deleted between two renewals of the claim
_DELETES_PER_RENEWAL = 500


class _Superseded(Exception):
    """The destruction was taken over by another worker (this one was too slow): stop."""


def reasons(blocks: Iterable[Block]) -> tuple[Reason, ...]:
    return tuple(
        Reason(
            kind=b.kind.value,
            detail=b.describe(),
            until=b.until,
            case_ref=b.case_ref,
            hold_id=b.hold_id,
            record_id=b.record_id,
        )
        for b in blocks
    )


def open_requests(subject_id: str | None = None) -> SelectOfScalar[ErasureRequestRow]:
    """The one query for erasure requests not yet carried out (of one subject, or all)."""
    query = select(ErasureRequestRow).where(col(ErasureRequestRow.status).in_(OPEN_ERASURE))
    if subject_id is not None:
        query = query.where(ErasureRequestRow.subject_id == subject_id)
    return query


def open_request(session: Session, subject_id: str) -> ErasureRequestRow | None:
    return session.exec(open_requests(subject_id)).first()


def to_destruction(row: KeyDestructionRow) -> Destruction:
    return Destruction(
        id=row.id,
        subject_id=row.subject_id,
        key_name=row.key_name,
        region=row.region,
        state=DestructionState(row.state),
        reason=row.reason,
        scheduled_at=row.scheduled_at,
        not_before=row.not_before,
        cancelled_by=row.cancelled_by,
        executed_at=row.executed_at,
    )


def subject_decision(session: Session, subject: SubjectRow, now: datetime) -> Decision:
    records = session.exec(
        select(RecordRow)
        .where(RecordRow.subject_id == subject.id)
        .where(RecordRow.state == RecordState.ACTIVE)
    ).all()
    facts = [RecordFacts(r.id, r.retain_until) for r in records]
    return decide_subject(
        subject.id, facts, active_holds(session, subject.id), subject.restricted, now
    )


def open_destruction(session: Session, subject_id: str) -> KeyDestructionRow | None:
    return session.exec(
        select(KeyDestructionRow)
        .where(KeyDestructionRow.subject_id == subject_id)
        .where(col(KeyDestructionRow.state).in_(OPEN_DESTRUCTION))
    ).first()


class Destructions:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def schedule(self, subject_id: str, reason: str, actor: Actor) -> KeyDestructionRow | None:
        """Schedule the subject key's destruction (idempotent: returns None if already open)."""
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id, for_update=True)
            if subject.state != SubjectState.ACTIVE or open_destruction(session, subject_id):
                return None
            if transfer_in_progress(session, subject_id):
                return None  # the sweep schedules it once the transfer is done
            now = self.ctx.clock()
            row = KeyDestructionRow(
                id=uuid.uuid4().hex,
                subject_id=subject_id,
                key_name=subject.key_name,
                region=subject.region,
                state=DestructionState.SCHEDULED,
                reason=reason,
                scheduled_at=now,
                not_before=self.ctx.settings.destruction.waiting_period.after(now),
            )
            session.add(row)
            request = open_request(session, subject_id)
            if request is not None:
                request.status, request.earliest_at = ErasureStatus.SCHEDULED, row.not_before
                session.add(request)
            self.ctx.audit.append(
                session,
                actor=actor,
                action="destruction.schedule",
                target=row.id,
                subject_id=subject_id,
                region=subject.region,
                purpose=reason,
            )
        return row

    @contextmanager
    def _granted(
        self, actor: Actor, action: str, destruction_id: str
    ) -> Iterator[tuple[Session, KeyDestructionRow]]:
        """Destruction ``destruction_id`` in a region ``actor`` is granted, in a transaction:
        a refusal is audited as ``action``, and ``action`` is appended when the block ends."""
        with (
            self.ctx.audit_refusal(actor, action, destruction_id),
            session_scope(self.ctx.engine) as session,
        ):
            row = session.get(KeyDestructionRow, destruction_id)
            if row is None:
                raise NotFound(f"destruction {destruction_id} not found")
            require_region(actor, row.region)
            yield session, row
            self.ctx.audit.append(
                session,
                actor=actor,
                action=action,
                target=row.id,
                subject_id=row.subject_id,
                region=row.region,
            )

    def cancel(self, destruction_id: str, actor: Actor) -> Destruction:
        with self._granted(actor, "destruction.cancel", destruction_id) as (session, row):
            if row.state != DestructionState.SCHEDULED:
                raise Conflict(
                    f"destruction {destruction_id} is {row.state}; only scheduled ones cancel"
                )
            row.state, row.cancelled_by, row.cancelled_at = (
                DestructionState.CANCELLED,
                actor.name,
                self.ctx.clock(),
            )
            session.add(row)
        return to_destruction(row)

    def destruction(self, destruction_id: str, actor: Actor) -> Destruction:
        """One destruction in a region ``actor`` is granted (NotFound for an unknown id)."""
        with self._granted(actor, "destruction.get", destruction_id) as (_, row):
            return to_destruction(row)

    def destructions(
        self, actor: Actor, state: DestructionState | None = None
    ) -> list[Destruction]:
        """Destructions in the regions ``actor`` is granted, oldest first."""
        return list(self._listing(actor, state, None, None).items)

    def destructions_page(
        self, actor: Actor, state: DestructionState | None, limit: int, cursor: str | None
    ) -> Page[Destruction]:
        """One page of them (keyset ``(scheduled_at, id)``)."""
        return self._listing(actor, state, check_limit(limit), cursor)

    def _listing(
        self, actor: Actor, state: DestructionState | None, limit: int | None, cursor: str | None
    ) -> Page[Destruction]:
        listing = scope("destructions", actor.name, state=state)
        shape = (datetime, str)
        position = self.ctx.position(actor, "destruction.list", listing, cursor, shape)
        order = (col(KeyDestructionRow.scheduled_at), col(KeyDestructionRow.id))
        with session_scope(self.ctx.engine) as session:
            query = (
                select(KeyDestructionRow)
                .where(col(KeyDestructionRow.region).in_(self.ctx.granted(actor)))
                .order_by(*order)
            )
            if state is not None:
                query = query.where(KeyDestructionRow.state == state)
            if (keyset := after(order, position)) is not None:
                query = query.where(keyset)
            if limit is not None:
                query = query.limit(limit + 1)
            rows = session.exec(query).all()
            self.ctx.audit.append(
                session, actor=actor, action="destruction.list", purpose=state or ""
            )
            found = [to_destruction(r) for r in rows]
        if limit is None:
            return Page(tuple(found))
        return cut(found, limit, lambda d: (d.scheduled_at, d.id), self.ctx.cursors, listing)

    def certificate(self, destruction_id: str, actor: Actor) -> dict[str, Any]:
        with self._granted(actor, "destruction.certificate", destruction_id) as (_, row):
            if row.certificate is None:
                raise Conflict(f"destruction {destruction_id} is {row.state}; no certificate yet")
            document: dict[str, Any] = json.loads(row.certificate)
            return document

    # -- executing ---------------------------------------------------------------

    def _claim(self, regions: Sequence[str], worker: str) -> KeyDestructionRow | None:
        now = self.ctx.clock()
        with session_scope(self.ctx.engine) as session:
            row = session.exec(
                select(KeyDestructionRow)
                .where(col(KeyDestructionRow.region).in_(regions))
                .where(
                    or_(
                        and_(
                            col(KeyDestructionRow.state) == DestructionState.SCHEDULED,
                            col(KeyDestructionRow.not_before) <= now,
                        ),
                        and_(
                            col(KeyDestructionRow.state) == DestructionState.EXECUTING,
                            col(KeyDestructionRow.claimed_at) < now - _LEASE,
                        ),
                    )
                )
                .order_by(col(KeyDestructionRow.not_before))
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            row.state, row.claimed_by, row.claimed_at = DestructionState.EXECUTING, worker, now
            session.add(row)
        return row

    def execute_due(
        self, actor: Actor = SYSTEM, regions: Sequence[str] | None = None
    ) -> tuple[int, int]:
        """Execute destructions past their waiting period (in ``regions``, default all)."""
        executed = blocked = 0
        where = sorted(self.ctx.regions) if regions is None else list(regions)
        # One id per call: two threads of one process never share a claim.
        worker = uuid.uuid4().hex[:16]
        while (row := self._claim(where, worker)) is not None:
            try:
                done = self._execute(row, actor, worker)
            except _Superseded:
                continue
            if done:
                executed += 1
            else:
                blocked += 1
        return executed, blocked

    def _mine(self, session: Session, destruction_id: str, worker: str) -> KeyDestructionRow:
        """The destruction, locked and still this worker's; renews the claim."""
        row = session.get(KeyDestructionRow, destruction_id, with_for_update=True)
        if row is None or row.claimed_by != worker or row.state != DestructionState.EXECUTING:
            raise _Superseded
        row.claimed_at = self.ctx.clock()
        session.add(row)
        return row

    def _renew(self, destruction_id: str, worker: str) -> KeyDestructionRow:
        with session_scope(self.ctx.engine) as session:
            return self._mine(session, destruction_id, worker)

    def _execute(self, row: KeyDestructionRow, actor: Actor, worker: str) -> bool:
        now = self.ctx.clock()
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, row.subject_id, for_update=True)
            destruction = self._mine(session, row.id, worker)
            decision = subject_decision(session, subject, now)
            if not decision.disposable:
                destruction.state = DestructionState.BLOCKED
                session.add(destruction)
                self.ctx.audit.about(
                    session,
                    actor,
                    "destruction.blocked",
                    subject,
                    target=row.id,
                    purpose="; ".join(r.detail for r in reasons(decision.blocks))[:200],
                )
                return False
            subject.state = SubjectState.DESTROYING
            session.add(subject)
        region = self.ctx.region(row.region)
        if self._renew(row.id, worker).key_destroyed_at is None:
            region.keys.destroy(row.key_name)
            with session_scope(self.ctx.engine) as session:
                self._mine(session, row.id, worker).key_destroyed_at = self.ctx.clock()
        objects, counts = self._wipe(row.subject_id)
        origin = RemnantOrigin(row.subject_id, RemnantReason.ERASURE, row.id, row.key_name)
        for done, key in enumerate(objects, 1):
            delete_or_keep(self.ctx, region, key, origin, actor)
            if done % _DELETES_PER_RENEWAL == 0:
                self._renew(row.id, worker)
        # A record erased earlier may have left objects waiting for its reseal: the
        # whole key is gone now, so they are shredded too.
        promote(self.ctx, actor, subject_id=row.subject_id)
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, row.subject_id, for_update=True)
            destruction = self._mine(session, row.id, worker)
            finished = self.ctx.clock()
            subject.state, subject.destroyed_at = SubjectState.DESTROYED, finished
            destruction.state, destruction.executed_at = DestructionState.DONE, finished
            destruction.certificate = destruction_certificate(
                self.ctx,
                destruction,
                counts,
                region.keys.label,
                region.location,
                shredded_remnants(session, [row.region], subject_id=row.subject_id),
            )
            for request in session.exec(open_requests(subject.id)).all():
                request.status, request.executed_at = ErasureStatus.EXECUTED, finished
                session.add(request)
            session.add_all([subject, destruction])
            self.ctx.audit.about(
                session,
                actor,
                "subject.destroy",
                subject,
                target=row.id,
                purpose=row.reason,
            )
        return True

    def _wipe(self, subject_id: str) -> tuple[list[str], dict[str, int]]:
        """Wipe every wrapped DEK and header copy of the subject; return object keys and counts."""
        now = self.ctx.clock()
        with session_scope(self.ctx.engine) as session:
            records = session.exec(
                select(RecordRow).where(RecordRow.subject_id == subject_id)
            ).all()
            objects: list[str] = []
            counts = {"records": 0, "versions": 0, "bytes": 0}
            for record in records:
                if record.state != RecordState.PENDING:
                    counts["records"] += 1
                if record.state != RecordState.ERASED:
                    record.state, record.erased_at = RecordState.ERASED, now
                    session.add(record)
                for version in session.exec(
                    select(RecordVersionRow).where(RecordVersionRow.record_id == record.id)
                ).all():
                    objects.append(version.object_key)
                    if version.state != VersionState.PENDING:
                        counts["versions"] += 1
                        counts["bytes"] += version.size
                    version.state = VersionState.ERASED
                    version.wrapped_dek, version.header = None, None
                    session.add(version)
        return objects, counts
