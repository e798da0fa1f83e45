"""The rotation job runner: claim a job, rotate, rewrap page by page, finish.

Split from ``vault.rotation.rotate`` (entry points and queueing). See that module's
docstring for the job states and the guarantees.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from keys.base import DekWrapper, KeyLifecycle, KeyNotFound, WrappedDek
from vault.context import VaultContext
from vault.domain import OPEN_ROTATION, Actor, RotationReason, RotationState, SubjectState
from vault.errors import Erased, Unavailable, VaultError
from vault.metadata import KeyRotationRow, RecordVersionRow, SubjectRow, session_scope
from vault.residency.leases import transfer_in_progress
from vault.rotation.report import RotationFailure, RotationSkip, Tally

#: a job whose worker has not reported for this long is taken over
LEASE = timedelta(minutes=10)
_ENQUEUE_CHUNK = 500
#: key-service batches (``limits.wrap_batch`` each) per page read, rewrapped and committed
_CALLS_PER_PAGE = 4
#: jobs one run works on at once (threads, each with a worker id and claims of its own)
PARALLEL_JOBS = 4


def _rewrite_sql(paramstyle: str) -> str:
    """The page update, sent straight to the driver: per-row statement building in the
    ORM costs more than the key service's rewrap itself at 100k DEKs."""
    mark = "?" if paramstyle == "qmark" else "%s"
    # Only a row nobody changed meanwhile: an erased row must stay wiped.
    return (
        f"UPDATE record_versions SET wrapped_dek = {mark}, key_version = {mark} "  # noqa: S608
        f"WHERE record_id = {mark} AND version = {mark} AND wrapped_dek = {mark}"
    )


StillWanted = Callable[[Session, SubjectRow], bool]


class _Superseded(Exception):
    """The job changed under this worker (taken over, reset, cancelled): let it go."""


#: why a job was deferred: its subject is moving between regions (ADR 0014)
TRANSFER_IN_PROGRESS = "transfer-in-progress"


def _below_target(key_name: str, target: int) -> Any:
    return (
        (col(RecordVersionRow.key_name) == key_name)
        & col(RecordVersionRow.wrapped_dek).is_not(None)
        & (col(RecordVersionRow.key_version) < target)
    )


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RotationJobs:
    """Claiming and running rotation jobs (used by ``KeyRotation``)."""

    ctx: VaultContext

    def _work(
        self, actor: Actor, regions: Sequence[str] | None, subject_id: str | None, tally: Tally
    ) -> None:
        """One thread of a run: claim and run jobs until none is left or the run stops."""
        worker = uuid.uuid4().hex[:16]
        while not tally.stopped:
            try:
                with tally.lock:
                    skip = set(tally.tried)
                claimed = self._claim(worker, regions, subject_id, skip)
            except BaseException as exc:  # surfaced by drain
                tally.stopped.append(exc)
                return
            if claimed is None:
                return
            job, resumed = claimed
            if not tally.claimed(job.id, resumed):
                self._release(job.id, worker)  # another thread of this run had it already
                continue
            try:
                self._run(job, worker, actor, tally)
            except _Superseded:
                continue
            except Unavailable as exc:
                tally.stopped.append(exc)  # first: other threads stop claiming
                self._give_up(job, worker, actor, exc, permanent=False)
                return
            except VaultError as exc:
                permanent = isinstance(exc, KeyNotFound | Erased)
                self._give_up(job, worker, actor, exc, permanent=permanent)
                tally.failed(RotationFailure(job.subject_id, job.region, exc.code, exc.message))
            except BaseException as exc:
                tally.stopped.append(exc)
                self._give_up(job, worker, actor, VaultError(repr(exc)[:200]), permanent=False)
                return

    def _claim(
        self,
        worker: str,
        regions: Sequence[str] | None,
        subject_id: str | None,
        tried: set[str],
    ) -> tuple[KeyRotationRow, bool] | None:
        now = self.ctx.clock()
        with session_scope(self.ctx.engine) as session:
            query = (
                select(KeyRotationRow)
                .where(col(KeyRotationRow.state).in_(OPEN_ROTATION))
                .where(
                    or_(
                        col(KeyRotationRow.claimed_by).is_(None),
                        col(KeyRotationRow.claimed_at) < now - LEASE,
                    )
                )
            )
            if regions is not None:
                query = query.where(col(KeyRotationRow.region).in_(regions))
            if subject_id is not None:
                query = query.where(KeyRotationRow.subject_id == subject_id)
            if tried:
                query = query.where(col(KeyRotationRow.id).not_in(tried))
            job = session.exec(
                query.order_by(col(KeyRotationRow.started_at), col(KeyRotationRow.id))
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if job is None:
                return None
            resumed = job.claimed_at is not None
            job.claimed_by, job.claimed_at = worker, now
            session.add(job)
        return job, resumed

    def _mine(
        self, session: Session, job_id: str, worker: str, states: tuple[str, ...]
    ) -> KeyRotationRow:
        """The job, locked and still this worker's in one of ``states``; renews the lease."""
        job = session.get(KeyRotationRow, job_id, with_for_update=True)
        if job is None or job.claimed_by != worker or job.state not in states:
            raise _Superseded
        job.claimed_at = self.ctx.clock()
        session.add(job)
        return job

    def _run(self, job: KeyRotationRow, worker: str, actor: Actor, tally: Tally) -> None:
        keys = self.ctx.region(job.region).keys
        target = job.target_version
        if job.state in (RotationState.PENDING, RotationState.ROTATING):
            target = self._rotate(job, worker, keys, actor, tally)
        while True:
            self._rewrap(job, worker, keys, target, tally)
            if self._finish(job, worker, keys, target, actor, tally):
                tally.rotated(job.region)
                return

    def _hold_off(
        self,
        session: Session,
        subject: SubjectRow,
        row: KeyRotationRow,
        actor: Actor,
        tally: Tally,
    ) -> bool:
        """Under the subject's row lock: whether the job must stop here (ADR 0014).

        A job whose subject was erased, or whose key a transfer replaced, is
        cancelled (that key is destroyed or about to be). A job whose subject is
        being transferred is released, kept open for a later run, and the
        deferral is audited and reported. The caller raises ``_Superseded``
        after its transaction commits.
        """
        if subject.state != SubjectState.ACTIVE or subject.key_name != row.key_name:
            row.state, row.finished_at, row.claimed_by = (
                RotationState.CANCELLED,
                self.ctx.clock(),
                None,
            )
            session.add(row)
            return True
        if not transfer_in_progress(session, subject.id):
            return False
        row.claimed_by = None
        session.add(row)
        self.ctx.audit.about(
            session,
            actor,
            "key.rotate",
            subject,
            purpose=row.reason,
            outcome=f"deferred:{TRANSFER_IN_PROGRESS}",
        )
        tally.skipped(RotationSkip(subject.id, subject.region, TRANSFER_IN_PROGRESS))
        return True

    def _rotate(
        self, job: KeyRotationRow, worker: str, keys: KeyLifecycle, actor: Actor, tally: Tally
    ) -> int:
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, job.subject_id, for_update=True)
            row = self._mine(
                session, job.id, worker, (RotationState.PENDING, RotationState.ROTATING)
            )
            stop = self._hold_off(session, subject, row, actor, tally)
        if stop:
            raise _Superseded
        described = keys.describe(job.key_name)
        if not described.exists:
            raise KeyNotFound(f"no subject key {job.key_name} in region {job.region}")
        if job.state == RotationState.ROTATING and described.latest_version > job.target_version:
            latest = described.latest_version  # the rotate call went through before the stop
        else:
            with session_scope(self.ctx.engine) as session:
                subject = self.ctx.subject(session, job.subject_id, for_update=True)
                row = self._mine(
                    session, job.id, worker, (RotationState.PENDING, RotationState.ROTATING)
                )
                stop = self._hold_off(session, subject, row, actor, tally)
                if not stop:
                    row.state, row.target_version = RotationState.ROTATING, described.latest_version
            if stop:
                raise _Superseded
            latest = keys.rotate(job.key_name)
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, job.subject_id, for_update=True)
            row = self._mine(
                session, job.id, worker, (RotationState.PENDING, RotationState.ROTATING)
            )
            row.state, row.target_version = RotationState.REWRAPPING, latest
            subject.min_key_version = max(subject.min_key_version, latest)
            session.add_all([row, subject])
        return latest

    def _rewrap(
        self, job: KeyRotationRow, worker: str, keys: DekWrapper, target: int, tally: Tally
    ) -> None:
        batch = self.ctx.settings.limits.wrap_batch
        while True:
            # The (key_name, key_version) index makes each page a short range scan: rows
            # already rewrapped have left the range, so no page rescans them. Rows a
            # concurrent write adds are caught by the count in ``_finish``. A page is a
            # few key-service batches, so DB round trips and commits are amortised.
            rows = self._page(job.key_name, target, batch * _CALLS_PER_PAGE)
            if not rows:
                return
            fresh: list[WrappedDek] = []
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                fresh.extend(keys.rewrap(job.key_name, [wrapped or "" for _, _, wrapped in chunk]))
            if any(w.key_version < target for w in fresh):
                raise Unavailable(f"the key service rewrapped below version {target}; retry")
            with session_scope(self.ctx.engine) as session:
                row = self._mine(session, job.id, worker, (RotationState.REWRAPPING,))
                connection = session.connection()
                connection.exec_driver_sql(
                    _rewrite_sql(connection.dialect.paramstyle),
                    [
                        (new.ciphertext, new.key_version, record_id, version, old)
                        for (record_id, version, old), new in zip(rows, fresh, strict=True)
                    ],
                )
                row.rewrapped += len(rows)
                session.add(row)
            tally.rewrapped(job.region, len(rows))

    def _page(self, key_name: str, target: int, limit: int) -> list[tuple[str, int, str]]:
        """Up to ``limit`` (record id, version, wrapped DEK) of the key below ``target``.

        One statement outside any transaction: on SQLite it reads the WAL snapshot
        without taking the write lock that every session transaction takes, so the
        run's threads do not queue behind each other for a read.
        """
        engine = self.ctx.engine
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        sql = (
            "SELECT record_id, version, wrapped_dek FROM record_versions "  # noqa: S608
            f"WHERE key_name = {mark} AND key_version < {mark} "
            f"AND wrapped_dek IS NOT NULL LIMIT {mark}"
        )
        dbapi = engine.dialect.loaded_dbapi
        try:
            connection = engine.raw_connection()
        except sa_exc.OperationalError as exc:
            raise Unavailable("metadata database unavailable") from exc
        try:
            cursor = connection.cursor()
            cursor.execute(sql, (key_name, target, limit))
            rows = [(str(r[0]), int(r[1]), str(r[2])) for r in cursor.fetchall()]
            cursor.close()
        except dbapi.OperationalError as exc:
            raise Unavailable("metadata database unavailable") from exc
        finally:
            connection.close()
        return rows

    def _finish(
        self,
        job: KeyRotationRow,
        worker: str,
        keys: KeyLifecycle,
        target: int,
        actor: Actor,
        tally: Tally,
    ) -> bool:
        """Raise the minimums once no DEK of the key is left below ``target``.

        Not while the subject is being transferred: the copy still unwraps with
        the old versions (ADR 0014).
        """
        with session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, job.subject_id, for_update=True)
            row = self._mine(session, job.id, worker, (RotationState.REWRAPPING,))
            stop = self._hold_off(session, subject, row, actor, tally)
            if not stop:
                left = session.exec(
                    select(func.count())
                    .select_from(RecordVersionRow)
                    .where(_below_target(job.key_name, target))
                ).one()
                if left:
                    return False  # a write raced the last batch: rewrap it too
                self._retire(session, subject, row, keys, target, actor)
        if stop:
            raise _Superseded
        return True

    def _retire(
        self,
        session: Session,
        subject: SubjectRow,
        row: KeyRotationRow,
        keys: KeyLifecycle,
        target: int,
        actor: Actor,
    ) -> None:
        """Raise the key's minimum versions (trim for a reseal) and close the job."""
        reseal = row.reason == RotationReason.RESEAL
        keep = 0 if reseal else self.ctx.settings.rotation.keep_versions
        floor = target - keep
        if keep:
            described = keys.describe(row.key_name)
            floor = max(floor, described.min_decryption_version, described.min_available_version)
        keys.set_min_encryption_version(row.key_name, target)
        keys.set_min_decryption_version(row.key_name, max(1, floor))
        if reseal:
            keys.trim(row.key_name, target)
        row.state, row.finished_at, row.claimed_by = RotationState.DONE, self.ctx.clock(), None
        session.add(row)
        self.ctx.audit.about(
            session,
            actor,
            "key.rotate",
            subject,
            purpose=f"{row.reason}: v{target}, {row.rewrapped} DEKs rewrapped",
        )

    def _release(self, job_id: str, worker: str) -> None:
        with session_scope(self.ctx.engine) as session:
            row = session.get(KeyRotationRow, job_id, with_for_update=True)
            if row is not None and row.claimed_by == worker:
                row.claimed_by = None
                session.add(row)

    def _give_up(
        self, job: KeyRotationRow, worker: str, actor: Actor, exc: VaultError, *, permanent: bool
    ) -> None:
        """Release the job (kept open to resume), or close it as failed; audit either way."""
        try:
            with session_scope(self.ctx.engine) as session:
                row = session.get(KeyRotationRow, job.id, with_for_update=True)
                if row is not None and row.claimed_by == worker:
                    row.claimed_by = None
                    if permanent:
                        row.state, row.finished_at = RotationState.FAILED, self.ctx.clock()
                    session.add(row)
                self.ctx.audit.append(
                    session,
                    actor=actor,
                    action="key.rotate",
                    target=job.subject_id,
                    subject_id=job.subject_id,
                    region=job.region,
                    purpose=job.reason,
                    outcome=f"{'failed' if permanent else 'stopped'}:{exc.code}",
                )
        except VaultError:
            pass  # the DB is down too: the lease hands the job over later
