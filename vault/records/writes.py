"""Writing records: put, bulk put and new versions, crash-safe.

Write order: wrap DEKs (one batched call per subject key) → insert *pending*
version rows → stream the sealed objects to the store → mark the versions
committed with their header, in one transaction that also moves the
processing clock and appends the audit events. Anything a crash leaves
(pending rows, unreferenced objects) is invisible to readers and removed by
``recvault gc``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain

from sqlalchemy import exc as sa_exc
from sqlalchemy import insert
from sqlmodel import Session, func, select

from keys.base import DekWrapper
from vault.context import VaultContext
from vault.crypto import random_bytes
from vault.domain import (
    Actor,
    Category,
    RecordInfo,
    RecordState,
    SubjectState,
    VersionState,
)
from vault.errors import (
    Conflict,
    Erased,
    InvalidInput,
    TooLarge,
    VaultError,
)
from vault.format.content import Content, content_length, content_stream
from vault.format.envelope import KeyBlock, ObjectContext, seal
from vault.metadata import RecordRow, RecordVersionRow, SubjectRow, session_scope
from vault.pools import shared_pool
from vault.records.commit import RECORDS, VERSIONS, PendingVersion, commit_versions
from vault.residency.leases import transfer_in_progress
from vault.retention.object_lock import lock_new_versions
from vault.spans import STORE, span
from vault.storage.base import ObjectStore, PutBatch


def _writers(threads: int) -> ThreadPoolExecutor:
    """Threads that seal and store a bulk put's objects on a store with parallel puts."""
    return shared_pool(f"write-{threads}", threads)


@dataclass(frozen=True)
class RecordInput:
    """One record to store with ``put_records``."""

    subject_id: str
    category: Category | str
    content: Content
    content_type: str = "application/octet-stream"
    size: int | None = None


def _category(value: Category | str) -> Category:
    try:
        return Category(value)
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise InvalidInput(f"unknown category {value!r} (one of: {known})") from None


def _content_type(value: str) -> str:
    value = value.strip() or "application/octet-stream"
    if len(value) > 255 or any(ord(c) < 32 for c in value):
        raise InvalidInput("content type is too long or has control characters")
    return value


class RecordWriter:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def put(self, items: Sequence[RecordInput], actor: Actor, purpose: str) -> list[RecordInfo]:
        if not items:
            return []
        plan = self._plan_new(items, actor)
        return self._write(plan, actor, purpose, action="record.create")

    def update(
        self,
        record_id: str,
        content: Content,
        content_type: str,
        size: int | None,
        *,
        actor: Actor,
        purpose: str,
    ) -> RecordInfo:
        with (
            self.ctx.audit_refusal(actor, "record.update", record_id) as note,
            session_scope(self.ctx.engine) as session,
        ):
            record = self.ctx.record(session, record_id)
            subject = self.ctx.subject(session, record.subject_id)
            note.about(subject)
            self._check_write(session, subject, actor)
            if record.state == RecordState.ERASED:
                raise Erased(f"record {record_id} was erased")
            latest = session.exec(
                select(func.max(RecordVersionRow.version)).where(
                    RecordVersionRow.record_id == record_id
                )
            ).one()
            item = RecordInput(subject.id, record.category, content, content_type, size)
            pending = self._pending(item, record_id, (latest or 0) + 1, subject)
        return self._write([pending], actor, purpose, action="record.update")[0]

    def _check_write(self, session: Session, subject: SubjectRow, actor: Actor) -> None:
        self.ctx.check_access(subject, actor, data=True, dpo_exempt=False)
        if subject.state != SubjectState.ACTIVE:
            raise Conflict(f"subject {subject.id} is being erased")
        if transfer_in_progress(session, subject.id):
            raise Conflict(f"subject {subject.id} is being transferred between regions")

    def _pending(
        self, item: RecordInput, record_id: str, version: int, subject: SubjectRow
    ) -> PendingVersion:
        _category(item.category)
        content_type = _content_type(item.content_type)
        length = content_length(item.content, item.size)
        limit = self.ctx.settings.limits.max_record_bytes
        if length == 0 and not self.ctx.settings.limits.allow_empty_records:
            raise InvalidInput("an empty record is refused (the content has 0 bytes)")
        if length > limit:
            raise TooLarge(f"content of {length} bytes exceeds the limit of {limit} bytes")
        object_id = uuid.uuid4().hex
        return PendingVersion(
            item=item,
            record_id=record_id,
            version=version,
            subject=subject,
            length=length,
            object_key=f"{subject.region}/{object_id[:2]}/{object_id}",
            content_type=content_type,
        )

    def _plan_new(self, items: Sequence[RecordInput], actor: Actor) -> list[PendingVersion]:
        plan: list[PendingVersion] = []
        target = items[0].subject_id
        with (
            self.ctx.audit_refusal(actor, "record.create", target) as note,
            session_scope(self.ctx.engine) as session,
        ):
            subjects: dict[str, SubjectRow] = {}
            for item in items:
                subject = subjects.get(item.subject_id)
                if subject is None:
                    subject = self.ctx.subject(session, item.subject_id)
                    note.about(subject)
                    self._check_write(session, subject, actor)
                    subjects[item.subject_id] = subject
                note.about(subject)
                plan.append(self._pending(item, uuid.uuid4().hex, 1, subject))
        return plan

    def _wrap(self, plan: list[PendingVersion]) -> None:
        by_key: dict[tuple[str, str], list[PendingVersion]] = {}
        for p in plan:
            p.dek = random_bytes(32)
            by_key.setdefault((p.subject.region, p.subject.key_name), []).append(p)
        for (region, key_name), group in by_key.items():
            provider: DekWrapper = self.ctx.region(region).keys
            wrapped = provider.wrap(key_name, [p.dek for p in group])
            for p, w in zip(group, wrapped, strict=True):
                p.wrapped = w

    def _write(
        self, plan: list[PendingVersion], actor: Actor, purpose: str, action: str
    ) -> list[RecordInfo]:
        self._wrap(plan)
        now = self.ctx.clock()
        try:
            with session_scope(self.ctx.engine) as session:
                for subject_id in sorted({p.subject.id for p in plan}):
                    subject = self.ctx.subject(session, subject_id, for_update=True)
                    self._refresh_if_stale(subject, [p for p in plan if p.subject.id == subject_id])
                new_records = [
                    {
                        "id": p.record_id,
                        "subject_id": p.subject.id,
                        "category": _category(p.item.category).value,
                        "state": RecordState.PENDING.value,
                        "current_version": 0,
                        "created_at": now,
                        "last_processed_at": now,
                        "retain_until": now,
                    }
                    for p in plan
                    if p.version == 1
                ]
                if new_records:
                    session.execute(insert(RECORDS), new_records)
                session.execute(
                    insert(VERSIONS),
                    [
                        {
                            "record_id": p.record_id,
                            "version": p.version,
                            "state": VersionState.PENDING.value,
                            "object_key": p.object_key,
                            "size": p.length,
                            "wrapped_dek": p.wrapped.ciphertext if p.wrapped else None,
                            "key_name": p.wrapped.key_name if p.wrapped else "",
                            "key_version": p.wrapped.key_version if p.wrapped else 0,
                            "content_type": p.content_type,
                            "etag": "",
                            "created_at": now,
                        }
                        for p in plan
                    ],
                )
        except sa_exc.IntegrityError:
            raise Conflict("a concurrent update created this version first; retry") from None
        try:
            if len(plan) == 1:
                with span(STORE):  # sealing and writing, with the wait for the content
                    self._store_object(plan[0], self.ctx.region(plan[0].subject.region).store)
            else:
                self._store_batches(plan)
        except BaseException:
            self._abandon(plan)
            raise
        try:
            infos = commit_versions(self.ctx, plan, actor, purpose, action)
        except Conflict:
            # Refused before anything committed (a transfer or an erasure began while the
            # bytes were written): the objects must not stay behind, least of all in a
            # region the subject has just left.
            self._abandon(plan)
            raise
        lock_new_versions(self.ctx, [(p.record_id, p.version) for p in plan])
        return infos

    def _refresh_if_stale(self, subject: SubjectRow, group: list[PendingVersion]) -> None:
        """Rewrap DEKs wrapped under a key version retired while this write was prepared."""
        stale = [p for p in group if p.wrapped and p.wrapped.key_version < subject.min_key_version]
        if stale:
            provider: DekWrapper = self.ctx.region(subject.region).keys
            fresh = provider.rewrap(
                subject.key_name, [p.wrapped.ciphertext for p in stale if p.wrapped]
            )
            for p, wrapped in zip(stale, fresh, strict=True):
                p.wrapped = wrapped

    def _store_batches(self, plan: list[PendingVersion]) -> None:
        """One batch per region, flushed together before the rows commit.

        A store that gains nothing from parallel puts (LocalStore: page-cache
        writes, one flush at commit) is written from this thread; 16 threads
        there measured slower than one, all contending for the GIL
        (docs/benchmarks.md, P5). A network store is written by ``parallel_puts``
        threads at once (S3: 16).
        """
        by_region: dict[str, list[PendingVersion]] = {}
        for p in plan:
            by_region.setdefault(p.subject.region, []).append(p)
        for name, group in sorted(by_region.items()):
            store = self.ctx.region(name).store
            batch = store.batch()
            if store.parallel_puts <= 1:
                for p in group:
                    self._store_object(p, batch)
            else:
                writers = _writers(store.parallel_puts)
                list(writers.map(lambda p, b=batch: self._store_object(p, b), group))
            batch.commit()

    def _store_object(self, p: PendingVersion, store: ObjectStore | PutBatch) -> None:
        assert p.wrapped is not None
        salt = random_bytes(32)
        with content_stream(p.item.content, p.item.size) as (stream, _):
            chunks = seal(
                stream,
                dek=p.dek,
                key_block=KeyBlock(
                    p.wrapped.key_name, p.wrapped.key_version, p.wrapped.ciphertext.encode()
                ),
                context=ObjectContext(p.record_id, p.version, p.subject.id, p.subject.region),
                plaintext_length=p.length,
                salt=salt,
            )
            header = next(chunks)
            store.put(p.object_key, chain([header], chunks))
        p.header, p.etag = header, salt[:16].hex()

    def _abandon(self, plan: list[PendingVersion]) -> None:
        """Best effort after a failed write; ``gc`` removes whatever this misses.

        A version whose object could not be deleted keeps its pending row: gc
        removes pending versions, but keeps (and reports) any object no row names.
        """
        deleted: list[PendingVersion] = []
        for p in plan:
            try:
                self.ctx.region(p.subject.region).store.delete(p.object_key)
            except Exception:  # noqa: S112  # gc retries later
                continue
            deleted.append(p)
        try:
            with session_scope(self.ctx.engine) as session:
                for p in deleted:
                    row = session.get(RecordVersionRow, (p.record_id, p.version))
                    if row is not None and row.state == VersionState.PENDING:
                        session.delete(row)
                session.flush()
                for p in deleted:
                    record = session.get(RecordRow, p.record_id)
                    if record is None or record.state != RecordState.PENDING:
                        continue
                    if (
                        session.exec(
                            select(RecordVersionRow).where(
                                RecordVersionRow.record_id == p.record_id
                            )
                        ).first()
                        is None
                    ):
                        session.delete(record)
        except VaultError:
            pass
