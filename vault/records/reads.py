"""Reading records: streams, byte ranges, listings and metadata.

The DB is the source of truth for the wrapped DEK; a read unwraps it, checks
the object's key commitment and first segment before returning, then
releases plaintext segment by segment. A content read by a service is a
processing event; metadata reads are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime
from itertools import chain

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from keys.base import KeyNotFound, KeyVersionRetired
from vault.context import VaultContext, require_region
from vault.domain import (
    Actor,
    Category,
    RecordInfo,
    RecordState,
    Role,
    VersionInfo,
    VersionState,
)
from vault.errors import (
    Erased,
    InvalidInput,
    NotFound,
    ProcessingRestricted,
    RangeNotSatisfiable,
)
from vault.format.envelope import ObjectContext, open_range, open_stream, parse_header
from vault.format.reader import ReadMeta, RecordReader
from vault.metadata import RecordRow, RecordVersionRow, SubjectRow, read_scope, session_scope
from vault.paging import Page, after, check_limit, cut, scope
from vault.pools import Lane, shared_pool
from vault.retention.processing import processing_event
from vault.spans import STORE, span

#: Threads that fetch range segments one step ahead (vault.format.envelope.open_range).
PREFETCH_THREADS = 4


def _prefetch() -> ThreadPoolExecutor:
    return shared_pool("prefetch", PREFETCH_THREADS)


def _decrypt(threads: int) -> Lane | None:
    """A lane for one whole-record read: its segments decrypt on a thread of the shared
    pool of ``[limits] decrypt_threads`` while the reading thread reads the next ones
    (``cryptography`` drops the GIL while it decrypts); none for 0 (on the reading thread)."""
    return Lane(shared_pool(f"decrypt-{threads}", threads)) if threads else None


class Records:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    # -- writing ---------------------------------------------------------------
    def open(
        self,
        record_id: str,
        version: int | None,
        byte_range: tuple[int, int] | None,
        actor: Actor,
        purpose: str,
    ) -> RecordReader:
        with self.ctx.audit_refusal(actor, "record.read", record_id) as note:
            for attempt in range(2):
                with read_scope(self.ctx.engine) as session:
                    record = self.ctx.record(session, record_id)
                    subject = self.ctx.subject(session, record.subject_id)
                    note.about(subject)
                    self.ctx.check_access(subject, actor, data=True)
                    if record.state == RecordState.ERASED:
                        raise Erased(f"record {record_id} was erased")
                    row = self._version(session, record, version)
                start, stop = self._range(byte_range, row.size)
                try:
                    reader = self._reader(record, row, subject, start, stop)
                    break
                except KeyVersionRetired:
                    # A rotation rewrapped this DEK (committed) and then retired the key
                    # version the row we read was wrapped with: the row now holds the
                    # rewrapped DEK. Read it again, once.
                    if attempt:
                        raise
        with session_scope(self.ctx.engine) as session:
            record = self.ctx.record(session, record_id)
            if actor.has(Role.SERVICE) and purpose != "export":
                processing_event(self.ctx, session, record, self.ctx.clock())
                session.add(record)
            self.ctx.audit.about(
                session,
                actor,
                "record.read",
                subject,
                target=record_id,
                purpose=purpose,
            )
        return reader

    @staticmethod
    def _version(session: Session, record: RecordRow, version: int | None) -> RecordVersionRow:
        wanted = record.current_version if version is None else version
        row = session.get(RecordVersionRow, (record.id, wanted))
        if row is None or row.state == VersionState.PENDING:
            raise NotFound(f"record {record.id} has no version {wanted}")
        if row.state == VersionState.ERASED or row.wrapped_dek is None:
            raise Erased(f"record {record.id} version {wanted} was erased")
        return row

    @staticmethod
    def _range(byte_range: tuple[int, int] | None, size: int) -> tuple[int, int]:
        if byte_range is None:
            return 0, size
        start, stop = byte_range
        if start < 0 or stop < start:
            raise InvalidInput("a byte range is (start, stop) with 0 <= start <= stop")
        if start > size or (start == size and stop > start):
            raise RangeNotSatisfiable(f"range starts at {start}, past the end ({size})", size=size)
        return start, min(stop, size)

    def _reader(
        self, record: RecordRow, row: RecordVersionRow, subject: SubjectRow, start: int, stop: int
    ) -> RecordReader:
        region = self.ctx.region(subject.region)
        assert row.wrapped_dek is not None and row.header is not None
        context = ObjectContext(record.id, row.version, subject.id, subject.region)
        closers = ExitStack()
        whole = start == 0 and stop == row.size
        # A whole read opens the object first: a local store starts reading ahead
        # while the DEK is unwrapped.
        stream = closers.enter_context(region.store.open(row.object_key)) if whole else None
        try:
            dek = region.keys.unwrap(row.key_name, [row.wrapped_dek])[0]
        except BaseException as exc:
            closers.close()
            if isinstance(exc, KeyNotFound):
                raise self.ctx.key_missing(subject, exc) from None
            raise
        if stream is not None:
            threads = self.ctx.settings.limits.decrypt_threads
            chunks = open_stream(stream, dek=dek, context=context, decrypt=_decrypt(threads))
        else:
            header = parse_header(row.header)
            chunks = open_range(
                lambda a, b: region.store.get_range(row.object_key, a, b),
                header,
                dek=dek,
                context=context,
                start=start,
                stop=stop,
                prefetch=_prefetch(),
            )
        try:
            with span(STORE):  # the first segment read and verified before answering
                first = next(chunks, None)
        except BaseException:
            closers.close()
            raise
        meta = ReadMeta(record.id, row.version, row.size, row.content_type, row.etag, start, stop)
        return RecordReader(chain([first] if first else [], chunks), meta, closers.close)

    # -- metadata (not processing) ---------------------------------------------

    def info(self, record_id: str, actor: Actor) -> RecordInfo:
        with (
            self.ctx.audit_refusal(actor, "record.info", record_id) as note,
            session_scope(self.ctx.engine) as session,
        ):
            record = self.ctx.record(session, record_id)
            subject = self.ctx.subject(session, record.subject_id)
            note.about(subject)
            self._check_region(subject, actor)
            versions = session.exec(
                select(RecordVersionRow)
                .where(RecordVersionRow.record_id == record_id)
                .where(RecordVersionRow.state != VersionState.PENDING)
                .order_by(col(RecordVersionRow.version))
            ).all()
            current = next((v for v in versions if v.version == record.current_version), None)
            self.ctx.audit.about(
                session,
                actor,
                "record.info",
                subject,
                target=record_id,
            )
            return self._info(record, current, subject.region, versions)

    def list(self, subject_id: str, actor: Actor) -> list[RecordInfo]:
        """Every record of the subject (``page`` reads them a page at a time)."""
        return list(self._listing(subject_id, actor, None, None).items)

    def page(
        self, subject_id: str, actor: Actor, limit: int, cursor: str | None
    ) -> Page[RecordInfo]:
        """One page of the subject's records, oldest first (keyset ``(created_at, id)``)."""
        return self._listing(subject_id, actor, check_limit(limit), cursor)

    def _listing(
        self, subject_id: str, actor: Actor, limit: int | None, cursor: str | None
    ) -> Page[RecordInfo]:
        listing = scope("records", actor.name, subject_id=subject_id)
        with (
            self.ctx.audit_refusal(actor, "record.list", subject_id) as note,
            session_scope(self.ctx.engine) as session,
        ):
            subject = self.ctx.subject(session, subject_id)
            note.about(subject)
            self._check_region(subject, actor)
            position = self.ctx.cursors.decode(listing, cursor, (datetime, str))
            order = (col(RecordRow.created_at), col(RecordRow.id))
            # columns, not entities: a page of rows is read without the ORM's bookkeeping
            query = (
                sa_select(
                    col(RecordRow.id),
                    col(RecordRow.category),
                    col(RecordRow.state),
                    col(RecordRow.current_version),
                    col(RecordRow.created_at),
                    col(RecordRow.last_processed_at),
                    col(RecordRow.retain_until),
                    col(RecordVersionRow.size),
                    col(RecordVersionRow.content_type),
                )
                .outerjoin(
                    RecordVersionRow,
                    (col(RecordVersionRow.record_id) == col(RecordRow.id))
                    & (col(RecordVersionRow.version) == col(RecordRow.current_version)),
                )
                .where(col(RecordRow.subject_id) == subject_id)
                .where(col(RecordRow.state) != RecordState.PENDING)
                .order_by(*order)
            )
            if (keyset := after(order, position)) is not None:
                query = query.where(keyset)
            if limit is not None:
                query = query.limit(limit + 1)
            rows = session.connection().execute(query).all()
            infos = [
                RecordInfo(
                    id=row[0],
                    subject_id=subject_id,
                    category=Category(row[1]),
                    state=RecordState(row[2]),
                    version=row[3],
                    size=row[7] or 0,
                    content_type=row[8] or "",
                    created_at=row[4],
                    last_processed_at=row[5],
                    retain_until=row[6],
                    region=subject.region,
                )
                for row in rows
            ]
            self.ctx.audit.about(
                session,
                actor,
                "record.list",
                subject,
                target=subject_id,
            )
        if limit is None:
            return Page(tuple(infos))
        return cut(infos, limit, lambda r: (r.created_at, r.id), self.ctx.cursors, listing)

    @staticmethod
    def _check_region(subject: SubjectRow, actor: Actor) -> None:
        """Metadata access: the region must be granted; while the subject is restricted,
        services (who process) are refused, oversight roles and the DPO are not."""
        require_region(actor, subject.region)
        if subject.restricted and actor.roles <= {Role.SERVICE}:
            raise ProcessingRestricted(f"processing of subject {subject.id} is restricted")

    @staticmethod
    def _info(
        record: RecordRow,
        current: RecordVersionRow | None,
        region: str,
        versions: Sequence[RecordVersionRow] = (),
    ) -> RecordInfo:
        return RecordInfo(
            id=record.id,
            subject_id=record.subject_id,
            category=Category(record.category),
            state=RecordState(record.state),
            version=record.current_version,
            size=current.size if current else 0,
            content_type=current.content_type if current else "",
            created_at=record.created_at,
            last_processed_at=record.last_processed_at,
            retain_until=record.retain_until,
            region=region,
            versions=tuple(
                VersionInfo(v.version, v.size, v.content_type, v.created_at, v.key_version, v.etag)
                for v in versions
            ),
        )
