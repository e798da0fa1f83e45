"""Committing written versions: pending rows become committed, records current, at once.

A write inserts *pending* rows, stores the object, then commits here in one
transaction that re-reads everything under lock: a record, subject or
transfer that moved on in between turns the commit into a ``Conflict`` (the
object is then abandoned and ``gc`` removes anything left).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, update
from sqlmodel import Session, select

from keys.base import WrappedDek
from vault.audit.chain import AuditEntry
from vault.context import VaultContext
from vault.domain import (
    Actor,
    Category,
    RecordInfo,
    RecordState,
    SubjectState,
    VersionInfo,
    VersionState,
)
from vault.errors import Conflict
from vault.metadata import RecordRow, RecordVersionRow, SubjectRow, session_scope
from vault.residency.leases import transfer_in_progress
from vault.retention.processing import cancel_pending_destruction

if TYPE_CHECKING:
    from vault.records.writes import RecordInput

RECORDS = RecordRow.__table__  # type: ignore[attr-defined]
VERSIONS = RecordVersionRow.__table__  # type: ignore[attr-defined]


@dataclass
class PendingVersion:
    """One version on its way in: planned, DEK wrapped, object written, then committed."""

    item: RecordInput
    record_id: str
    version: int
    subject: SubjectRow
    length: int
    object_key: str
    #: normalised (``writes._content_type``)
    content_type: str
    dek: bytes = b""
    wrapped: WrappedDek | None = None
    header: bytes = b""
    etag: str = ""


def commit_versions(
    ctx: VaultContext, plan: list[PendingVersion], actor: Actor, purpose: str, action: str
) -> list[RecordInfo]:
    """Mark every pending version committed and its record current, in one transaction."""
    now = ctx.clock()
    infos: list[RecordInfo] = []
    with session_scope(ctx.engine) as session:
        state = _CommitState.read(ctx, session, plan)
        version_updates, record_updates, events = [], {}, []
        for p in plan:
            record, subject = state.check(p)
            retain = max(record.retain_until, ctx.retain_until(record.category, now))
            latest = max(record.current_version, p.version)
            version_updates.append(
                {
                    "b_record_id": p.record_id,
                    "b_version": p.version,
                    "state": VersionState.COMMITTED.value,
                    "header": p.header,
                    "etag": p.etag,
                    "committed_at": now,
                }
            )
            record_updates[p.record_id] = {
                "b_id": p.record_id,
                "state": RecordState.ACTIVE.value
                if record.state == RecordState.PENDING
                else record.state,
                "current_version": latest,
                "last_processed_at": now,
                "retain_until": retain,
            }
            events.append(AuditEntry(action, p.record_id, subject.id, subject.region, purpose))
            infos.append(_info(p, record, subject, latest, now, retain))
        _apply(session, version_updates, list(record_updates.values()))
        infos = _with_versions(session, infos)
        for subject_id in state.subjects:
            cancel_pending_destruction(session, subject_id, now)
        ctx.audit.append_many(session, actor, events)
    return infos


@dataclass
class _CommitState:
    """What a commit re-reads under lock: nothing may have changed since the rows went in."""

    subjects: dict[str, SubjectRow]
    moving: set[str]
    records: dict[str, Any]
    pending: set[tuple[str, int]]

    @classmethod
    def read(cls, ctx: VaultContext, session: Session, plan: list[PendingVersion]) -> _CommitState:
        # Subjects locked, so a transfer cannot start between these checks and the commit.
        subjects = {
            sid: ctx.subject(session, sid, for_update=True)
            for sid in sorted({p.subject.id for p in plan})
        }
        moving = {sid for sid in subjects if transfer_in_progress(session, sid)}
        ids = [p.record_id for p in plan]
        records = {
            row.id: row for row in session.execute(select(RECORDS).where(RECORDS.c.id.in_(ids)))
        }
        pending = {
            (row.record_id, row.version)
            for row in session.execute(
                select(VERSIONS.c.record_id, VERSIONS.c.version)
                .where(VERSIONS.c.record_id.in_(ids))
                .where(VERSIONS.c.state == VersionState.PENDING.value)
            )
        }
        return cls(subjects, moving, records, pending)

    def check(self, p: PendingVersion) -> tuple[Any, SubjectRow]:
        """The record row and locked subject of ``p``; Conflict if either moved on."""
        record = self.records.get(p.record_id)
        subject = self.subjects[p.subject.id]
        if (
            record is None
            or (p.record_id, p.version) not in self.pending
            or subject.state != SubjectState.ACTIVE
        ):
            raise Conflict(f"record {p.record_id} changed while it was written; retry")
        if subject.id in self.moving or subject.region != p.subject.region:
            raise Conflict(f"subject {subject.id} is being transferred between regions")
        return record, subject


def _info(
    p: PendingVersion,
    record: Any,
    subject: SubjectRow,
    latest: int,
    now: datetime,
    retain: datetime,
) -> RecordInfo:
    return RecordInfo(
        id=p.record_id,
        subject_id=subject.id,
        category=Category(record.category),
        state=RecordState.ACTIVE,
        version=latest,
        size=p.length,
        content_type=p.content_type,
        created_at=record.created_at,
        last_processed_at=now,
        retain_until=retain,
        region=subject.region,
    )


def _with_versions(session: Session, infos: list[RecordInfo]) -> list[RecordInfo]:
    """The answers of a write list every version, as ``record_info`` does, not an empty list."""
    rows = session.execute(
        select(VERSIONS)
        .where(VERSIONS.c.record_id.in_([i.id for i in infos]))
        .where(VERSIONS.c.state != VersionState.PENDING.value)
        .order_by(VERSIONS.c.record_id, VERSIONS.c.version)
    )
    versions: dict[str, list[VersionInfo]] = defaultdict(list)
    for v in rows:
        versions[v.record_id].append(
            VersionInfo(v.version, v.size, v.content_type, v.created_at, v.key_version, v.etag)
        )
    return [replace(i, versions=tuple(versions[i.id])) for i in infos]


def _apply(
    session: Session, version_updates: list[dict[str, Any]], record_updates: list[dict[str, Any]]
) -> None:
    """Two executemany updates: versions committed, records current."""
    session.execute(
        update(VERSIONS)
        .where(VERSIONS.c.record_id == bindparam("b_record_id"))
        .where(VERSIONS.c.version == bindparam("b_version"))
        .values(
            state=bindparam("state"),
            header=bindparam("header"),
            etag=bindparam("etag"),
            committed_at=bindparam("committed_at"),
        ),
        version_updates,
    )
    session.execute(
        update(RECORDS)
        .where(RECORDS.c.id == bindparam("b_id"))
        .values(
            state=bindparam("state"),
            current_version=bindparam("current_version"),
            last_processed_at=bindparam("last_processed_at"),
            retain_until=bindparam("retain_until"),
        ),
        record_updates,
    )
