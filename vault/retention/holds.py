"""Legal holds: placed by admins with a case reference and a reason; held data is never erased.

On stores with S3 Object Lock, a hold is mirrored onto every object version it
covers; our own rules (``vault.retention.rules``) are enforced regardless.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from vault.context import VaultContext, audit_target, require_region
from vault.domain import Actor, Hold, HoldScope, RecordState, SubjectState, VersionState
from vault.errors import Conflict, InvalidInput, NotFound, PermissionDenied, VaultError
from vault.metadata import LegalHoldRow, RecordRow, RecordVersionRow, SubjectRow, session_scope
from vault.paging import Page, after, check_limit, cut, scope
from vault.retention.rules import HoldFacts


def to_hold(row: LegalHoldRow) -> Hold:
    return Hold(
        id=row.id,
        scope=HoldScope(row.scope),
        target_id=row.target_id,
        subject_id=row.subject_id,
        case_ref=row.case_ref,
        reason=row.reason,
        placed_by=row.placed_by,
        placed_at=row.placed_at,
        released_by=row.released_by,
        released_at=row.released_at,
        release_reason=row.release_reason,
        active=row.released_at is None,
    )


def active_holds(session: Session, subject_id: str | None = None) -> list[HoldFacts]:
    query = select(LegalHoldRow).where(col(LegalHoldRow.released_at).is_(None))
    if subject_id is not None:
        query = query.where(LegalHoldRow.subject_id == subject_id)
    return [HoldFacts(r.id, r.scope, r.target_id, r.case_ref) for r in session.exec(query).all()]


def _text(value: str, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} is required")
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters")
    return value.strip()


class Holds:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def place(self, scope: str, target_id: str, case_ref: str, reason: str, actor: Actor) -> Hold:
        try:
            try:
                hold_scope = HoldScope(scope)
            except ValueError:
                raise InvalidInput("scope must be 'subject' or 'record'") from None
            case_ref = _text(case_ref, "case_ref", 200)
            reason = _text(reason, "reason", 2000)
            with session_scope(self.ctx.engine) as session:
                if hold_scope is HoldScope.RECORD:
                    record = session.get(RecordRow, target_id)
                    if record is None or record.state == RecordState.PENDING:
                        raise NotFound(f"record {target_id} not found")
                    subject_id = record.subject_id
                else:
                    subject_id = target_id
                subject = self.ctx.subject(session, subject_id)
                require_region(actor, subject.region)
                if subject.state not in (SubjectState.ACTIVE, SubjectState.DESTROYING):
                    raise Conflict(f"subject {subject_id} is already erased")
                row = LegalHoldRow(
                    id=uuid.uuid4().hex,
                    scope=hold_scope.value,
                    target_id=target_id,
                    subject_id=subject_id,
                    case_ref=case_ref,
                    reason=reason,
                    placed_by=actor.name,
                    placed_at=self.ctx.clock(),
                )
                session.add(row)
                self.ctx.audit.about(
                    session,
                    actor,
                    "hold.place",
                    subject,
                    target=row.id,
                    purpose=f"case {case_ref}"[:200],
                )
        except VaultError as exc:
            self.ctx.audit.record(
                actor=actor,
                action="hold.place",
                target=audit_target(target_id),
                outcome=f"refused:{exc.code}",
            )
            raise
        self._mirror(row.subject_id, row.target_id if hold_scope is HoldScope.RECORD else None)
        return to_hold(row)

    def release(self, hold_id: str, reason: str, actor: Actor) -> Hold:
        try:
            reason = _text(reason, "reason", 2000)
            with session_scope(self.ctx.engine) as session:
                row = session.get(LegalHoldRow, hold_id)
                if row is None:
                    raise NotFound(f"hold {hold_id} not found")
                if row.released_at is not None:
                    raise Conflict(f"hold {hold_id} was already released")
                if (
                    self.ctx.settings.destruction.release_needs_other_principal
                    and row.placed_by == actor.name
                ):
                    raise PermissionDenied("a hold must be released by another principal")
                subject = self.ctx.subject(session, row.subject_id)
                require_region(actor, subject.region)
                row.released_by, row.released_at = actor.name, self.ctx.clock()
                row.release_reason = reason
                session.add(row)
                self.ctx.audit.about(
                    session,
                    actor,
                    "hold.release",
                    subject,
                    target=hold_id,
                )
        except VaultError as exc:
            self.ctx.audit.record(
                actor=actor,
                action="hold.release",
                target=audit_target(hold_id),
                outcome=f"refused:{exc.code}",
            )
            raise
        self._mirror(row.subject_id, None)
        return to_hold(row)

    def list(self, actor: Actor, include_released: bool = True) -> list[Hold]:
        """Holds on subjects of the regions ``actor`` is granted (every hold for all regions)."""
        return list(self._listing(actor, include_released, None, None).items)

    def page(
        self,
        actor: Actor,
        include_released: bool,
        limit: int,
        cursor: str | None,
        subject_id: str | None = None,
        case_ref: str | None = None,
    ) -> Page[Hold]:
        """One page of those holds, oldest first (keyset ``(placed_at, id)``).

        ``subject_id``: only the holds on that subject (or its records); ``case_ref``:
        only those whose case reference contains it, ignoring case. A cursor is bound
        to both filters.
        """
        return self._listing(
            actor, include_released, check_limit(limit), cursor, subject_id, case_ref
        )

    def _listing(
        self,
        actor: Actor,
        include_released: bool,
        limit: int | None,
        cursor: str | None,
        subject_id: str | None = None,
        case_ref: str | None = None,
    ) -> Page[Hold]:
        wanted = (case_ref or "").strip().lower() or None
        listing = scope(
            "holds",
            actor.name,
            active_only=not include_released,
            subject_id=subject_id,
            case_ref=wanted,
        )
        position = self.ctx.position(actor, "hold.list", listing, cursor, (datetime, str))
        order = (col(LegalHoldRow.placed_at), col(LegalHoldRow.id))
        with session_scope(self.ctx.engine) as session:
            query = select(LegalHoldRow).order_by(*order)
            if not include_released:
                query = query.where(col(LegalHoldRow.released_at).is_(None))
            if subject_id is not None:
                query = query.where(col(LegalHoldRow.subject_id) == subject_id)
            if wanted is not None:
                query = query.where(
                    func.lower(col(LegalHoldRow.case_ref)).contains(wanted, autoescape=True)
                )
            if actor.regions is not None:
                query = query.join(
                    SubjectRow, col(SubjectRow.id) == col(LegalHoldRow.subject_id)
                ).where(col(SubjectRow.region).in_(self.ctx.granted(actor)))
            if (keyset := after(order, position)) is not None:
                query = query.where(keyset)
            if limit is not None:
                query = query.limit(limit + 1)
            rows = session.exec(query).all()
            self.ctx.audit.append(session, actor=actor, action="hold.list")
        holds = [to_hold(r) for r in rows]
        if limit is None:
            return Page(tuple(holds))
        return cut(holds, limit, lambda h: (h.placed_at, h.id), self.ctx.cursors, listing)

    def _mirror(self, subject_id: str, record_id: str | None) -> None:
        """Set each covered object's Object Lock legal hold to match our holds."""
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id)
            store = self.ctx.region(subject.region).store
            if not store.supports_object_lock:
                return
            holds = active_holds(session, subject_id)
            subject_held = any(h.scope == "subject" for h in holds)
            held_records = {h.target_id for h in holds if h.scope == "record"}
            query = (
                select(RecordVersionRow, RecordRow)
                .join(RecordRow, col(RecordRow.id) == col(RecordVersionRow.record_id))
                .where(RecordRow.subject_id == subject_id)
                .where(RecordVersionRow.state == VersionState.COMMITTED)
            )
            if record_id is not None:
                query = query.where(RecordRow.id == record_id)
            versions = [(v.object_key, r.id) for v, r in session.exec(query).all()]
        for object_key, rid in versions:
            store.set_legal_hold(object_key, subject_held or rid in held_records)
