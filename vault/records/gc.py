"""Garbage collection of what crashed writes leave behind (``recvault gc``).

A write inserts pending rows, then writes the object, then commits. A crash
leaves pending rows (with or without an object) or, rarely, an object whose
rows were removed. Both are invisible to readers; after a grace period
(longer than any write) they are removed here. Safe to run concurrently.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from vault.context import VaultContext
from vault.domain import GcResult, RecordState, VersionState
from vault.durations import Duration
from vault.metadata import RecordRow, RecordVersionRow, session_scope
from vault.storage.base import ObjectInfo


class GarbageCollector:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def run(self, grace: Duration | None = None) -> GcResult:
        grace = grace or self.ctx.settings.limits.gc_grace
        now = self.ctx.clock()
        cutoff = now - grace.approx_timedelta()
        pending = self._pending_versions(cutoff)
        orphans = sum(self._orphans(region, cutoff) for region in self.ctx.regions)
        temps = 0
        for region in self.ctx.regions.values():
            remover = getattr(region.store, "remove_stale_temp", None)
            if remover is not None:
                temps += int(remover(grace.approx_timedelta()))
        return GcResult(pending, orphans, temps)

    def _pending_versions(self, cutoff: datetime) -> int:
        with session_scope(self.ctx.engine) as session:
            rows = session.exec(
                select(RecordVersionRow)
                .where(RecordVersionRow.state == VersionState.PENDING)
                .where(col(RecordVersionRow.created_at) < cutoff)
            ).all()
            stale = [(r.record_id, r.version, r.object_key) for r in rows]
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

    def _orphans(self, region: str, cutoff: datetime, page: int = 500) -> int:
        store = self.ctx.regions[region].store
        removed = 0
        batch: list[ObjectInfo] = []

        def flush(batch: list[ObjectInfo]) -> int:
            keys = [o.key for o in batch]
            with session_scope(self.ctx.engine) as session:
                known = set(
                    session.exec(
                        select(RecordVersionRow.object_key).where(
                            col(RecordVersionRow.object_key).in_(keys)
                        )
                    ).all()
                )
            count = 0
            for obj in batch:
                old_enough = obj.last_modified is None or obj.last_modified < cutoff
                if obj.key not in known and old_enough:
                    store.delete(obj.key)
                    count += 1
            return count

        for obj in store.list(f"{region}/", page_size=page):
            batch.append(obj)
            if len(batch) >= page:
                removed += flush(batch)
                batch = []
        if batch:
            removed += flush(batch)
        return removed
