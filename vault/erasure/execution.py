"""Executing due key destructions: claim, re-check, destroy the key, wipe, delete, certify.

A worker claims a destruction past its waiting period (``FOR UPDATE SKIP
LOCKED``; a vanished worker's claim is taken over after ``_LEASE``, renewed at
every step), re-checks the rules (a hold or restriction placed meanwhile
blocks it), destroys the subject key once (``key_destroyed_at`` records it),
wipes every wrapped DEK and header copy, deletes every object version (one
kept under Object Lock becomes a shredded remnant) and stores the signed
certificate. Every step is idempotent, so a rerun finishes a destruction that
stopped half way.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from vault.context import VaultContext
from vault.domain import (
    Actor,
    DestructionState,
    ErasureStatus,
    RecordState,
    RemnantReason,
    SubjectState,
    VersionState,
)
from vault.erasure.certificates import destruction_certificate
from vault.erasure.decisions import open_requests, reasons, subject_decision
from vault.erasure.remnants import RemnantOrigin, delete_or_keep, promote, shredded_remnants
from vault.metadata import KeyDestructionRow, RecordRow, RecordVersionRow, session_scope

#: an executing destruction whose worker vanished is taken over after this long
_LEASE = timedelta(minutes=15)
#: objects deleted between two renewals of the claim
_DELETES_PER_RENEWAL = 500


class _Superseded(Exception):
    """The destruction was taken over by another worker (this one was too slow): stop."""


def execute_due(ctx: VaultContext, actor: Actor, regions: Sequence[str] | None) -> tuple[int, int]:
    """Execute destructions past their waiting period (in ``regions``, default all):
    how many were executed, and how many the rules now block."""
    executed = blocked = 0
    where = sorted(ctx.regions) if regions is None else list(regions)
    # One id per call: two threads of one process never share a claim.
    worker = uuid.uuid4().hex[:16]
    while (row := _claim(ctx, where, worker)) is not None:
        try:
            done = _execute(ctx, row, actor, worker)
        except _Superseded:
            continue
        if done:
            executed += 1
        else:
            blocked += 1
    return executed, blocked


def _claim(ctx: VaultContext, regions: Sequence[str], worker: str) -> KeyDestructionRow | None:
    now = ctx.clock()
    with session_scope(ctx.engine) as session:
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


def _mine(
    ctx: VaultContext, session: Session, destruction_id: str, worker: str
) -> KeyDestructionRow:
    """The destruction, locked and still this worker's; renews the claim."""
    row = session.get(KeyDestructionRow, destruction_id, with_for_update=True)
    if row is None or row.claimed_by != worker or row.state != DestructionState.EXECUTING:
        raise _Superseded
    row.claimed_at = ctx.clock()
    session.add(row)
    return row


def _renew(ctx: VaultContext, destruction_id: str, worker: str) -> KeyDestructionRow:
    with session_scope(ctx.engine) as session:
        return _mine(ctx, session, destruction_id, worker)


def _execute(ctx: VaultContext, row: KeyDestructionRow, actor: Actor, worker: str) -> bool:
    now = ctx.clock()
    with session_scope(ctx.engine) as session:
        subject = ctx.subject(session, row.subject_id, for_update=True)
        destruction = _mine(ctx, session, row.id, worker)
        decision = subject_decision(session, subject, now)
        if not decision.disposable:
            destruction.state = DestructionState.BLOCKED
            session.add(destruction)
            ctx.audit.about(
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
    region = ctx.region(row.region)
    if _renew(ctx, row.id, worker).key_destroyed_at is None:
        region.keys.destroy(row.key_name)
        with session_scope(ctx.engine) as session:
            _mine(ctx, session, row.id, worker).key_destroyed_at = ctx.clock()
    objects, counts = _wipe(ctx, row.subject_id)
    origin = RemnantOrigin(row.subject_id, RemnantReason.ERASURE, row.id, row.key_name)
    for done, key in enumerate(objects, 1):
        delete_or_keep(ctx, region, key, origin, actor)
        if done % _DELETES_PER_RENEWAL == 0:
            _renew(ctx, row.id, worker)
    # A record erased earlier may have left objects waiting for its reseal: the
    # whole key is gone now, so they are shredded too.
    promote(ctx, actor, subject_id=row.subject_id)
    with session_scope(ctx.engine) as session:
        subject = ctx.subject(session, row.subject_id, for_update=True)
        destruction = _mine(ctx, session, row.id, worker)
        finished = ctx.clock()
        subject.state, subject.destroyed_at = SubjectState.DESTROYED, finished
        destruction.state, destruction.executed_at = DestructionState.DONE, finished
        destruction.certificate = destruction_certificate(
            ctx,
            destruction,
            counts,
            region.keys.label,
            region.location,
            shredded_remnants(session, [row.region], subject_id=row.subject_id),
        )
        for request in session.exec(open_requests(subject.id)).all():
            request.status, request.executed_at = ErasureStatus.EXECUTED, finished
            request.reasons = "[]"  # nothing keeps the subject any more
            session.add(request)
        session.add_all([subject, destruction])
        ctx.audit.about(
            session,
            actor,
            "subject.destroy",
            subject,
            target=row.id,
            purpose=row.reason,
        )
    return True


def _wipe(ctx: VaultContext, subject_id: str) -> tuple[list[str], dict[str, int]]:
    """Wipe every wrapped DEK and header copy of the subject; return object keys and counts."""
    now = ctx.clock()
    with session_scope(ctx.engine) as session:
        records = session.exec(select(RecordRow).where(RecordRow.subject_id == subject_id)).all()
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
