"""Key rotation: rotate subject keys, rewrap their DEKs in batches, retire old versions.

Rotating one subject key is a job (``KeyRotationRow``) persisted at every step:

    pending → rotating → rewrapping → done        (or failed / cancelled)

- *pending*: enqueued under the subject's row lock; at most one open job per key.
- *rotating*: ``target_version`` holds the latest version seen before the
  ``rotate`` call. A job found here after a crash is not rotated again when the
  key's latest version has already moved past it.
- *rewrapping*: ``target_version`` is the new version and
  ``SubjectRow.min_key_version`` is raised with it, so a concurrent write
  re-checks its DEK (``vault.records.writes``). The DB's wrapped DEKs of the
  key below the target are rewrapped batch by batch; each batch's rows and the
  job's ``rewrapped`` counter commit together.
- *done*: under the subject lock, a count proves that no wrapped DEK of the key
  is left below the target; only then are the minimum encryption and decryption
  versions raised (and, for a reseal, older versions trimmed). No DEK is ever
  left without a version that can open it.

Workers claim jobs with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite
serializes writers) and hold a lease renewed at every step; a worker that died
is taken over when its lease runs out. Objects are never rewritten: the key
block sits outside the key derivation (DESIGN section 5).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from sqlmodel import Session, col, select

from vault.context import VaultContext, require_region
from vault.domain import OPEN_ROTATION, SYSTEM, Actor, RotationReason, RotationState, SubjectState
from vault.errors import Erased, Unavailable
from vault.metadata import KeyRotationRow, SubjectRow, session_scope
from vault.rotation.jobs import (
    _ENQUEUE_CHUNK,
    PARALLEL_JOBS,
    RotationJobs,
    StillWanted,
    _chunks,
)
from vault.rotation.report import RotationReport, Tally

__all__ = ["KeyRotation"]


class KeyRotation(RotationJobs):
    """Rotation jobs: enqueue, claim, run; shared by manual, scheduled and reseal runs."""

    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    # -- entry points ------------------------------------------------------------

    def rotate(
        self,
        region: str | None = None,
        subject_id: str | None = None,
        actor: Actor = SYSTEM,
        reason: str = RotationReason.MANUAL,
    ) -> RotationReport:
        """Rotate every live subject key selected (a region, one subject, or all granted)."""
        regions = self.ctx.granted(actor)
        with self.ctx.audit_refusal(actor, "key.rotate", subject_id or "") as note:
            if region is not None:
                self.ctx.region(region)
                require_region(actor, region)
                regions = [region]
            if subject_id is not None:
                with session_scope(self.ctx.engine) as session:
                    subject = self.ctx.subject(session, subject_id)
                    note.about(subject)
                    require_region(actor, subject.region)
                    if subject.state != SubjectState.ACTIVE:
                        raise Erased(
                            f"subject {subject_id} is {subject.state}; its key is not rotated"
                        )
        with session_scope(self.ctx.engine) as session:
            query = select(SubjectRow.id).where(SubjectRow.state == SubjectState.ACTIVE)
            query = query.where(col(SubjectRow.region).in_(regions))
            if subject_id is not None:
                query = query.where(SubjectRow.id == subject_id)
            selected = list(session.exec(query.order_by(col(SubjectRow.id))).all())
        self.enqueue(selected, reason)
        return self.drain(actor, regions=regions, subject_id=subject_id)

    def reseal(self, subject_id: str, actor: Actor = SYSTEM) -> int:
        """Per-record crypto-shred: rotate after the erasure, rewrap, retire and trim.

        An open job of the key is turned into the reseal and sent back to
        *pending*: its target version may predate the erasure, and the erased
        record's wrapped DEK may already sit under it.
        """
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id, for_update=True)
            job = self._open_job(session, subject.key_name)
            if job is None:
                session.add(self._new_job(subject, RotationReason.RESEAL))
            else:
                job.reason = RotationReason.RESEAL
                if job.state != RotationState.PENDING:
                    job.state, job.claimed_by = RotationState.PENDING, None
                session.add(job)
        return self.drain(actor, subject_id=subject_id).deks_rewrapped

    # -- enqueueing --------------------------------------------------------------

    def _new_job(self, subject: SubjectRow, reason: str) -> KeyRotationRow:
        return KeyRotationRow(
            id=uuid.uuid4().hex,
            subject_id=subject.id,
            key_name=subject.key_name,
            region=subject.region,
            reason=reason,
            state=RotationState.PENDING,
            started_at=self.ctx.clock(),
        )

    @staticmethod
    def _open_job(session: Session, key_name: str) -> KeyRotationRow | None:
        return session.exec(
            select(KeyRotationRow)
            .where(KeyRotationRow.key_name == key_name)
            .where(col(KeyRotationRow.state).in_(OPEN_ROTATION))
            .with_for_update()
        ).first()

    def enqueue(
        self, subject_ids: Sequence[str], reason: str, still_wanted: StillWanted | None = None
    ) -> int:
        """Add a pending job for each live subject without an open one; return how many.

        The subject rows are locked while checking, so concurrent runs add one job per key.
        """
        created = 0
        for chunk in _chunks(sorted(subject_ids), _ENQUEUE_CHUNK):
            with session_scope(self.ctx.engine) as session:
                subjects = session.exec(
                    select(SubjectRow)
                    .where(col(SubjectRow.id).in_(chunk))
                    .where(SubjectRow.state == SubjectState.ACTIVE)
                    .order_by(col(SubjectRow.id))
                    .with_for_update()
                ).all()
                busy = set(
                    session.exec(
                        select(KeyRotationRow.key_name)
                        .where(col(KeyRotationRow.key_name).in_([s.key_name for s in subjects]))
                        .where(col(KeyRotationRow.state).in_(OPEN_ROTATION))
                    ).all()
                )
                for subject in subjects:
                    if subject.key_name in busy:
                        continue
                    if still_wanted is not None and not still_wanted(session, subject):
                        continue
                    session.add(self._new_job(subject, reason))
                    created += 1
        return created

    # -- claiming and running ----------------------------------------------------

    def drain(
        self,
        actor: Actor,
        *,
        regions: Sequence[str] | None = None,
        subject_id: str | None = None,
        parallel: int = PARALLEL_JOBS,
    ) -> RotationReport:
        """Run open jobs (within the filter) until none is left that this run may claim.

        ``parallel`` threads each claim jobs of their own, so one key's DB work overlaps
        another's key-service calls. A key-service or DB outage stops the whole run.
        """
        tally = Tally()
        threads = [
            threading.Thread(target=self._work, args=(actor, regions, subject_id, tally))
            for _ in range(max(0, parallel - 1))
        ]
        for thread in threads:
            thread.start()
        self._work(actor, regions, subject_id, tally)
        for thread in threads:
            thread.join()
        if tally.stopped:
            exc = tally.stopped[0]
            if not isinstance(exc, Unavailable):
                raise exc
            done = tally.report()
            raise type(exc)(
                f"key rotation stopped: {exc.message}. {done.keys_rotated} keys rotated and "
                f"{done.deks_rewrapped} DEKs rewrapped before it; no DEK was lost. "
                "Run the rotation again to resume.",
                retry_after=exc.retry_after,
            ) from exc
        return tally.report()
