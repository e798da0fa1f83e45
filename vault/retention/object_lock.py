"""Mirror retention and legal holds onto S3 Object Lock (stores that support it).

Each committed object version carries a retain-until equal to its record's
``retain_until`` (COMPLIANCE by default) and a legal hold while one of ours
covers it. Processing events move ``retain_until`` often; object retention is
only extended in sweeps, once it lags by more than the configured slack.
recvault enforces its own rules regardless of what the store does.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select

from vault.context import VaultContext
from vault.domain import VersionState
from vault.metadata import RecordRow, RecordVersionRow, SubjectRow, session_scope
from vault.retention.holds import active_holds


def lock_new_versions(ctx: VaultContext, versions: list[tuple[str, int]]) -> None:
    """Apply retention (and any covering hold) to freshly committed versions."""
    if not any(region.store.supports_object_lock for region in ctx.regions.values()):
        return
    for record_id, version in versions:
        with session_scope(ctx.engine) as session:
            row = session.get(RecordVersionRow, (record_id, version))
            record = session.get(RecordRow, record_id)
            if row is None or record is None:
                continue
            subject = ctx.subject(session, record.subject_id)
            region = ctx.region(subject.region)
            if not region.store.supports_object_lock:
                continue
            region.store.set_retention(row.object_key, record.retain_until, region.retention_mode)
            holds = active_holds(session, subject.id)
            if any(
                (h.scope == "subject") or (h.scope == "record" and h.target_id == record_id)
                for h in holds
            ):
                region.store.set_legal_hold(row.object_key, True)
            row.lock_until = record.retain_until
            session.add(row)


def extend_locks(ctx: VaultContext, regions: Sequence[str] | None = None, batch: int = 500) -> int:
    """Extend object retention that lags its record's ``retain_until`` by more than the slack.

    Only in ``regions`` when given (a sweep acts on its caller's regions).
    """
    slack = ctx.settings.retention.object_lock_slack.approx_timedelta()
    lock_regions = [
        name
        for name, r in ctx.regions.items()
        if r.store.supports_object_lock and (regions is None or name in regions)
    ]
    if not lock_regions:
        return 0
    extended, last_key = 0, ""
    while True:
        with session_scope(ctx.engine) as session:
            rows = session.exec(
                select(RecordVersionRow, RecordRow)
                .join(RecordRow, col(RecordRow.id) == col(RecordVersionRow.record_id))
                .join(SubjectRow, col(SubjectRow.id) == col(RecordRow.subject_id))
                .where(col(SubjectRow.region).in_(lock_regions))
                .where(RecordVersionRow.state == VersionState.COMMITTED)
                .where(col(RecordVersionRow.object_key) > last_key)
                .where(
                    col(RecordVersionRow.lock_until).is_(None)
                    | (col(RecordVersionRow.lock_until) < col(RecordRow.retain_until))
                )
                .order_by(col(RecordVersionRow.object_key))
                .limit(batch)
            ).all()
            if not rows:
                return extended
            for version, record in rows:
                last_key = version.object_key
                lag = record.retain_until - (version.lock_until or record.created_at)
                if version.lock_until is not None and lag <= slack:
                    continue
                region = ctx.region(version.object_key.split("/", 1)[0])
                region.store.set_retention(
                    version.object_key, record.retain_until, region.retention_mode
                )
                version.lock_until = record.retain_until
                session.add(version)
                extended += 1
