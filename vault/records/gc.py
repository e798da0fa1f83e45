"""Garbage collection of what crashed writes leave behind (``recvault gc``).

A write inserts pending rows, then writes the object, then commits. A crash
leaves pending rows (with or without an object), a temp file of a local
store, or an incomplete S3 multipart upload. After a grace period (longer
than any write) those are removed here. Safe to run concurrently.

What gc never removes is a stored object that no version row references.
Puts are atomic, so such an object is a complete write, and the likeliest
reason the DB does not know it is that the DB was restored from a backup
older than the object: deleting it would lose acknowledged records. Each
one is kept and reported (``GcResult.kept``): a complete sealed object
(header parses, size as declared) as ``unknown``, anything else as
unreadable, with what its header says (record, key name and version) so an
operator can tell what it is (docs/operations.md, Restore drill). The
copies and sources of a transfer that has not finished are known too: the
transfer owns them until it is done (ADR 0014).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import col, select

from vault.context import VaultContext
from vault.domain import (
    GcResult,
    KeptObject,
    KeptReason,
    RecordState,
    TransferState,
    VersionState,
)
from vault.durations import Duration
from vault.errors import VaultError
from vault.format.envelope import read_header, sealed_size
from vault.metadata import (
    RecordRow,
    RecordVersionRow,
    ShreddedRemnantRow,
    TransferItemRow,
    TransferRow,
    session_scope,
)
from vault.storage.base import ObjectInfo, ObjectNotFound, ObjectStore


class GarbageCollector:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def run(self, grace: Duration | None = None, *, dry_run: bool = False) -> GcResult:
        grace = grace or self.ctx.settings.limits.gc_grace
        now = self.ctx.clock()
        cutoff = now - grace.approx_timedelta()
        pending = self._pending_versions(cutoff, dry_run)
        kept: list[KeptObject] = []
        for name in self.ctx.regions:
            kept.extend(self._unreferenced(name))
        temps = 0
        for region in self.ctx.regions.values():
            remover = getattr(region.store, "remove_stale_temp", None)
            if remover is not None:
                temps += int(remover(grace.approx_timedelta(), dry_run=dry_run))
        unknown = sum(1 for k in kept if k.reason == KeptReason.UNKNOWN)
        return GcResult(
            pending_versions_removed=pending,
            temp_files_removed=temps,
            unknown_objects_kept=unknown,
            unreadable_objects_kept=len(kept) - unknown,
            kept=tuple(kept),
            dry_run=dry_run,
        )

    def _pending_versions(self, cutoff: datetime, dry_run: bool) -> int:
        with session_scope(self.ctx.engine) as session:
            rows = session.exec(
                select(RecordVersionRow)
                .where(RecordVersionRow.state == VersionState.PENDING)
                .where(col(RecordVersionRow.created_at) < cutoff)
            ).all()
            stale = [(r.record_id, r.version, r.object_key) for r in rows]
        if dry_run:
            return len(stale)
        removed = 0
        for record_id, version, object_key in stale:
            region = object_key.split("/", 1)[0]
            if region in self.ctx.regions:
                self.ctx.regions[region].store.delete(object_key)
            with session_scope(self.ctx.engine) as session:
                row = session.get(RecordVersionRow, (record_id, version))
                if row is None or row.state != VersionState.PENDING:
                    continue
                session.delete(row)
                session.flush()
                record = session.get(RecordRow, record_id)
                if record is not None and record.state == RecordState.PENDING:
                    others = session.exec(
                        select(RecordVersionRow).where(RecordVersionRow.record_id == record_id)
                    ).first()
                    if others is None:
                        session.delete(record)
                removed += 1
        return removed

    def _unreferenced(self, region: str, page: int = 500) -> Iterator[KeptObject]:
        """Objects of ``region`` that no version row references, whatever their age.

        No grace here: a write commits its pending rows before it stores the object,
        so an object in flight is referenced already, and these objects are only
        reported, never removed. After a restore they are minutes old (the records
        written since the dump) and must be listed at once."""
        store = self.ctx.regions[region].store
        batch: list[ObjectInfo] = []
        for obj in store.list(f"{region}/", page_size=page):
            batch.append(obj)
            if len(batch) >= page:
                yield from self._examine(region, store, batch)
                batch = []
        if batch:
            yield from self._examine(region, store, batch)

    def _examine(
        self, region: str, store: ObjectStore, batch: list[ObjectInfo]
    ) -> Iterator[KeptObject]:
        keys = [o.key for o in batch]
        with session_scope(self.ctx.engine) as session:
            known = set(
                session.exec(
                    select(RecordVersionRow.object_key).where(
                        col(RecordVersionRow.object_key).in_(keys)
                    )
                ).all()
            )
            # Shredded remnants are known too: kept by the store's lock, deleted by the sweep.
            known.update(
                session.exec(
                    select(ShreddedRemnantRow.object_key).where(
                        col(ShreddedRemnantRow.object_key).in_(keys)
                    )
                ).all()
            )
            moving = select(TransferItemRow).join(
                TransferRow, col(TransferRow.id) == col(TransferItemRow.transfer_id)
            )
            moving = moving.where(TransferRow.state != TransferState.DONE)
            for item in session.exec(
                moving.where(
                    or_(
                        col(TransferItemRow.new_object_key).in_(keys),
                        col(TransferItemRow.old_object_key).in_(keys),
                    )
                )
            ).all():
                known.update((item.new_object_key, item.old_object_key))
        strangers = [o for o in batch if o.key not in known]
        kept = [k for k in (describe_object(region, store, o) for o in strangers) if k is not None]
        record_ids = {k.record_id for k in kept if k.record_id}
        if record_ids:
            with session_scope(self.ctx.engine) as session:
                known_records = set(
                    session.exec(
                        select(RecordRow.id).where(col(RecordRow.id).in_(record_ids))
                    ).all()
                )
            kept = [replace(k, record_known=k.record_id in known_records) for k in kept]
        yield from kept


def describe_object(region: str, store: ObjectStore, obj: ObjectInfo) -> KeptObject | None:
    """What an unreferenced object is, from its header; None when it is gone meanwhile."""
    try:
        header = read_header(lambda start, stop: store.get_range(obj.key, start, stop))
    except ObjectNotFound:
        return None
    except VaultError as exc:
        return KeptObject(region, obj.key, obj.size, KeptReason.UNPARSABLE, detail=exc.message)
    try:
        expected = sealed_size(header.plaintext_length, header.length)
    except VaultError as exc:
        expected, detail = -1, exc.message
    else:
        detail = f"header declares {expected} bytes"
    complete = expected == obj.size
    return KeptObject(
        region,
        obj.key,
        obj.size,
        KeptReason.UNKNOWN if complete else KeptReason.SIZE_MISMATCH,
        record_id=header.record_id,
        record_version=header.record_version,
        key_name=header.key_block.key_name,
        key_version=header.key_block.key_version,
        detail="" if complete else detail,
    )
