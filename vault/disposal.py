"""Disposal: plan what may go, erase records alone, and crypto-shred whole subjects.

``plan`` looks at candidates only: records whose retention has passed,
subjects with an open erasure request, and scheduled destructions. Each gets
a decision with every reason it must be kept. ``sweep`` executes the plan:
a record past retention whose subject keeps other live records is erased
alone (objects deleted, DEKs wiped, subject key resealed); a subject whose
records may all go gets its key destruction scheduled after a cancellable
waiting period; due destructions destroy the key, wipe the DEKs, delete the
objects and store a signed certificate. Workers claim rows with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent sweeps act once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from vault.certificates import destruction_certificate
from vault.context import VaultContext
from vault.db import (
    DisposalApprovalRow,
    ErasureRequestRow,
    KeyDestructionRow,
    RecordRow,
    RecordVersionRow,
    SubjectRow,
    session_scope,
)
from vault.domain import (
    SYSTEM,
    Actor,
    Destruction,
    DisposalItem,
    DisposalPlan,
    Reason,
    RecordState,
    SubjectState,
    SweepResult,
    VersionState,
)
from vault.errors import Conflict, NotFound
from vault.holds import active_holds
from vault.keyops import reseal_subject
from vault.locks import extend_locks
from vault.retention import Block, Decision, RecordFacts, decide_record, decide_subject

_WORKER = uuid.uuid4().hex[:16]
#: an executing destruction whose worker vanished is taken over after this long
_LEASE = timedelta(minutes=15)


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


def to_destruction(row: KeyDestructionRow) -> Destruction:
    return Destruction(
        id=row.id,
        subject_id=row.subject_id,
        key_name=row.key_name,
        region=row.region,
        state=row.state,
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
        .where(col(KeyDestructionRow.state).in_(["scheduled", "executing"]))
    ).first()


class Disposal:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    # -- planning ----------------------------------------------------------------

    def plan(self, as_of: datetime | None = None) -> DisposalPlan:
        now = as_of or self.ctx.clock()
        items: list[DisposalItem] = []
        with session_scope(self.ctx.engine) as session:
            approved = self._approvals(session)
            due = session.exec(
                select(RecordRow)
                .where(RecordRow.state == RecordState.ACTIVE)
                .where(col(RecordRow.retain_until) <= now)
            ).all()
            requested = session.exec(
                select(ErasureRequestRow.subject_id).where(
                    col(ErasureRequestRow.status).in_(["deferred", "scheduled"])
                )
            ).all()
            candidates = sorted({r.subject_id for r in due} | set(requested))
            for subject_id in candidates:
                subject = session.get(SubjectRow, subject_id)
                if subject is None or subject.state != SubjectState.ACTIVE:
                    continue
                items.extend(self._plan_subject(session, subject, due, now, approved))
        return DisposalPlan(now, self.ctx.settings.destruction.review, tuple(items))

    def _plan_subject(
        self,
        session: Session,
        subject: SubjectRow,
        due: Iterable[RecordRow],
        now: datetime,
        approved: set[str],
    ) -> list[DisposalItem]:
        decision = subject_decision(session, subject, now)
        scheduled = open_destruction(session, subject.id)
        requested = self._open_request(session, subject.id) is not None
        automatic = self.ctx.settings.destruction.automatic
        if decision.disposable and (automatic or requested):
            action = (
                "destroy"
                if scheduled and scheduled.not_before <= now
                else ("await-waiting-period" if scheduled else "schedule-destruction")
            )
            return [
                DisposalItem(
                    "subject", subject.id, subject.id, True, action, (), subject.id in approved
                )
            ]
        items = []
        if requested or scheduled:
            items.append(
                DisposalItem(
                    "subject",
                    subject.id,
                    subject.id,
                    False,
                    "keep",
                    reasons(decision.blocks),
                    subject.id in approved,
                )
            )
        holds = active_holds(session, subject.id)
        for record in (r for r in due if r.subject_id == subject.id):
            verdict = decide_record(
                RecordFacts(record.id, record.retain_until),
                holds,
                subject.id,
                subject.restricted,
                now,
            )
            action = "erase-record" if verdict.disposable and automatic else "keep"
            items.append(
                DisposalItem(
                    "record",
                    record.id,
                    subject.id,
                    verdict.disposable and automatic,
                    action,
                    reasons(verdict.blocks),
                    record.id in approved,
                )
            )
        return items

    @staticmethod
    def _approvals(session: Session) -> set[str]:
        rows = session.exec(
            select(DisposalApprovalRow.target_id).where(col(DisposalApprovalRow.used_at).is_(None))
        ).all()
        return set(rows)

    @staticmethod
    def _open_request(session: Session, subject_id: str) -> ErasureRequestRow | None:
        return session.exec(
            select(ErasureRequestRow)
            .where(ErasureRequestRow.subject_id == subject_id)
            .where(col(ErasureRequestRow.status).in_(["deferred", "scheduled"]))
        ).first()

    def approve(self, plan: DisposalPlan, actor: Actor, ids: Iterable[str] | None = None) -> int:
        """Review mode: compliance approves disposable items of a plan (all, or ``ids``)."""
        wanted = set(ids) if ids is not None else None
        count = 0
        with session_scope(self.ctx.engine) as session:
            for item in plan.disposable:
                if wanted is not None and item.id not in wanted:
                    continue
                session.add(
                    DisposalApprovalRow(
                        id=uuid.uuid4().hex,
                        kind=item.kind,
                        target_id=item.id,
                        approved_by=actor.name,
                        approved_at=self.ctx.clock(),
                    )
                )
                self.ctx.audit.append(
                    session,
                    actor=actor,
                    action="disposal.approve",
                    target=item.id,
                    subject_id=item.subject_id,
                )
                count += 1
        return count

    # -- sweeping ----------------------------------------------------------------

    def sweep(self, actor: Actor = SYSTEM) -> SweepResult:
        executed, blocked = self.execute_due(actor)
        plan = self.plan()
        review = self.ctx.settings.destruction.review
        erased: dict[str, list[str]] = {}
        scheduled = awaiting = 0
        for item in plan.disposable:
            if review and not item.approved:
                awaiting += 1
                continue
            if item.action == "erase-record" and self.erase_record(item.id, actor):
                erased.setdefault(item.subject_id, []).append(item.id)
            elif (
                item.action == "schedule-destruction"
                and self.schedule(item.subject_id, "retention-passed", actor) is not None
            ):
                scheduled += 1
            if review:
                self._use_approval(item.id)
        for subject_id in erased:
            reseal_subject(self.ctx, subject_id)
        more_executed, more_blocked = self.execute_due(actor)
        extended = extend_locks(self.ctx)
        return SweepResult(
            retention_locks_extended=extended,
            records_erased=sum(len(v) for v in erased.values()),
            destructions_scheduled=scheduled,
            destructions_executed=executed + more_executed,
            destructions_blocked=blocked + more_blocked,
            awaiting_approval=awaiting,
        )

    def _use_approval(self, target_id: str) -> None:
        with session_scope(self.ctx.engine) as session:
            for row in session.exec(
                select(DisposalApprovalRow)
                .where(DisposalApprovalRow.target_id == target_id)
                .where(col(DisposalApprovalRow.used_at).is_(None))
            ).all():
                row.used_at = self.ctx.clock()
                session.add(row)

    def schedule(self, subject_id: str, reason: str, actor: Actor) -> KeyDestructionRow | None:
        """Schedule the subject key's destruction (idempotent: returns None if already open)."""
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id, for_update=True)
            if subject.state != SubjectState.ACTIVE or open_destruction(session, subject_id):
                return None
            now = self.ctx.clock()
            row = KeyDestructionRow(
                id=uuid.uuid4().hex,
                subject_id=subject_id,
                key_name=subject.key_name,
                region=subject.region,
                state="scheduled",
                reason=reason,
                scheduled_at=now,
                not_before=self.ctx.settings.destruction.waiting_period.after(now),
            )
            session.add(row)
            request = self._open_request(session, subject_id)
            if request is not None:
                request.status, request.earliest_at = "scheduled", row.not_before
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

    def cancel(self, destruction_id: str, actor: Actor) -> Destruction:
        with session_scope(self.ctx.engine) as session:
            row = session.get(KeyDestructionRow, destruction_id)
            if row is None:
                raise NotFound(f"destruction {destruction_id} not found")
            if row.state != "scheduled":
                raise Conflict(
                    f"destruction {destruction_id} is {row.state}; only scheduled ones cancel"
                )
            row.state, row.cancelled_by, row.cancelled_at = (
                "cancelled",
                actor.name,
                self.ctx.clock(),
            )
            session.add(row)
            self.ctx.audit.append(
                session,
                actor=actor,
                action="destruction.cancel",
                target=row.id,
                subject_id=row.subject_id,
                region=row.region,
            )
        return to_destruction(row)

    def destructions(self, state: str | None = None) -> list[Destruction]:
        with session_scope(self.ctx.engine) as session:
            query = select(KeyDestructionRow).order_by(col(KeyDestructionRow.scheduled_at))
            if state is not None:
                query = query.where(KeyDestructionRow.state == state)
            return [to_destruction(r) for r in session.exec(query).all()]

    def certificate(self, destruction_id: str) -> dict[str, Any]:
        with session_scope(self.ctx.engine) as session:
            row = session.get(KeyDestructionRow, destruction_id)
            if row is None:
                raise NotFound(f"destruction {destruction_id} not found")
            if row.certificate is None:
                raise Conflict(f"destruction {destruction_id} is {row.state}; no certificate yet")
            document: dict[str, Any] = json.loads(row.certificate)
            return document

    # -- executing ---------------------------------------------------------------

    def _claim(self) -> KeyDestructionRow | None:
        now = self.ctx.clock()
        with session_scope(self.ctx.engine) as session:
            row = session.exec(
                select(KeyDestructionRow)
                .where(
                    or_(
                        and_(
                            col(KeyDestructionRow.state) == "scheduled",
                            col(KeyDestructionRow.not_before) <= now,
                        ),
                        and_(
                            col(KeyDestructionRow.state) == "executing",
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
            row.state, row.claimed_by, row.claimed_at = "executing", _WORKER, now
            session.add(row)
        return row

    def execute_due(self, actor: Actor = SYSTEM) -> tuple[int, int]:
        executed = blocked = 0
        while (row := self._claim()) is not None:
            if self._execute(row, actor):
                executed += 1
            else:
                blocked += 1
        return executed, blocked

    def _execute(self, row: KeyDestructionRow, actor: Actor) -> bool:
        now = self.ctx.clock()
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, row.subject_id, for_update=True)
            decision = subject_decision(session, subject, now)
            destruction = session.get(KeyDestructionRow, row.id)
            assert destruction is not None
            if not decision.disposable:
                destruction.state = "blocked"
                session.add(destruction)
                self.ctx.audit.append(
                    session,
                    actor=actor,
                    action="destruction.blocked",
                    target=row.id,
                    subject_id=subject.id,
                    region=subject.region,
                    purpose="; ".join(r.detail for r in reasons(decision.blocks))[:200],
                )
                return False
            subject.state = SubjectState.DESTROYING
            session.add(subject)
        region = self.ctx.region(row.region)
        region.keys.destroy(row.key_name)
        objects, counts = self._wipe(row.subject_id)
        for key in objects:
            region.store.delete(key)
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, row.subject_id, for_update=True)
            destruction = session.get(KeyDestructionRow, row.id)
            assert destruction is not None
            finished = self.ctx.clock()
            subject.state, subject.destroyed_at = SubjectState.DESTROYED, finished
            destruction.state, destruction.executed_at = "done", finished
            destruction.certificate = destruction_certificate(
                self.ctx, destruction, counts, region.keys.label, region.location
            )
            for request in session.exec(
                select(ErasureRequestRow)
                .where(ErasureRequestRow.subject_id == subject.id)
                .where(col(ErasureRequestRow.status).in_(["deferred", "scheduled"]))
            ).all():
                request.status, request.executed_at = "executed", finished
                session.add(request)
            session.add_all([subject, destruction])
            self.ctx.audit.append(
                session,
                actor=actor,
                action="subject.destroy",
                target=row.id,
                subject_id=subject.id,
                region=subject.region,
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

    def erase_record(self, record_id: str, actor: Actor) -> bool:
        """Erase one record: delete its objects, wipe its DEKs (the caller reseals the key)."""
        with session_scope(self.ctx.engine) as session:
            record = session.get(RecordRow, record_id, with_for_update=True)
            if record is None or record.state != RecordState.ACTIVE:
                return False
            subject = self.ctx.subject(session, record.subject_id)
            verdict = decide_record(
                RecordFacts(record.id, record.retain_until),
                active_holds(session, subject.id),
                subject.id,
                subject.restricted,
                self.ctx.clock(),
            )
            if not verdict.disposable:
                return False
            objects = []
            for version in session.exec(
                select(RecordVersionRow).where(RecordVersionRow.record_id == record_id)
            ).all():
                objects.append(version.object_key)
                version.state = VersionState.ERASED
                version.wrapped_dek, version.header = None, None
                session.add(version)
            record.state, record.erased_at = RecordState.ERASED, self.ctx.clock()
            session.add(record)
            self.ctx.audit.append(
                session,
                actor=actor,
                action="record.erase",
                target=record_id,
                subject_id=subject.id,
                region=subject.region,
                purpose="retention-passed",
            )
            region = self.ctx.region(subject.region)
        for key in objects:
            region.store.delete(key)
        return True
