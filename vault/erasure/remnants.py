"""Shredded remnants: locked objects a store keeps after the key that sealed them is gone.

On S3 with Object Lock in COMPLIANCE mode nothing deletes an object before
its retain-until date. A transfer (source objects), a subject's erasure and a
per-record erasure all destroy the key first; an object the store then keeps
is unreadable bytes, not data. It is recorded here as a *remnant* instead of
failing the operation, shown apart from violations in the residency report,
listed in the destruction certificate, and deleted by the sweep once its lock
lapses. Only an object whose key is verifiably destroyed becomes a remnant:
``key_destroyed`` asks the key provider, never the DB. A per-record erasure
deletes objects before its reseal trims the key versions, so its locked
objects wait in ``awaiting-shred`` (still violations) until the trim is seen.
See ``docs/adr/0013-shredded-remnants.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from vault.context import VaultContext
from vault.domain import Actor, Remnant, RemnantReason, RemnantState
from vault.metadata import ShreddedRemnantRow, session_scope
from vault.regions import Region
from vault.storage.base import ObjectLocked, ObjectStore

_BATCH = 500


@dataclass(frozen=True)
class RemnantOrigin:
    """What tried to delete an object, and the key whose destruction makes it a remnant."""

    subject_id: str
    reason: RemnantReason
    #: the transfer, destruction or record id
    source_id: str
    key_name: str
    #: per-record erasure: the key version that sealed it (trimmed by the reseal)
    key_version: int | None = None


def key_destroyed(region: Region, key_name: str, key_version: int | None = None) -> bool:
    """Whether the key provider no longer holds the key (or, with ``key_version``, any
    version up to it: they were trimmed)."""
    description = region.keys.describe(key_name)
    if not description.exists:
        return True
    return key_version is not None and description.min_available_version > key_version


def delete_or_keep(
    ctx: VaultContext, region: Region, object_key: str, origin: RemnantOrigin, actor: Actor
) -> bool:
    """Delete the object; if its lock refuses and its key is destroyed, keep it as a remnant.

    Returns True when the object is gone. A locked object whose key still exists
    raises ``ObjectLocked`` as before: it is not shredded, so not a remnant.
    """
    try:
        region.store.delete(object_key)
        return True
    except ObjectLocked as locked:
        if not key_destroyed(region, origin.key_name, origin.key_version):
            raise
        refusal = locked
    try:
        _delete_shredded(region.store, object_key, refusal)
        return True
    except ObjectLocked as still:
        _record(ctx, region.name, object_key, origin, RemnantState.SHREDDED, still, actor)
        return False


def keep_awaiting(
    ctx: VaultContext,
    region: Region,
    object_key: str,
    origin: RemnantOrigin,
    locked: ObjectLocked,
    actor: Actor,
) -> None:
    """Record a locked object whose key is still to be trimmed (per-record erasure)."""
    _record(ctx, region.name, object_key, origin, RemnantState.AWAITING_SHRED, locked, actor)


def _delete_shredded(store: ObjectStore, object_key: str, locked: ObjectLocked) -> None:
    """Retry the delete of an object whose key is destroyed, lifting a legal-hold mirror.

    A legal hold is mirrored onto objects so the store protects the data it
    covers; once the key is gone these bytes are no data (a transfer's hold is
    mirrored onto the copies), so the mirror is lifted. The hold itself stays.
    """
    if not locked.legal_hold:
        raise locked
    store.set_legal_hold(object_key, False)
    store.delete(object_key)


def _record(
    ctx: VaultContext,
    region: str,
    object_key: str,
    origin: RemnantOrigin,
    state: RemnantState,
    locked: ObjectLocked,
    actor: Actor,
) -> None:
    now = ctx.clock()
    shredded = now if state is RemnantState.SHREDDED else None
    with session_scope(ctx.engine) as session:
        row = session.exec(
            select(ShreddedRemnantRow).where(ShreddedRemnantRow.object_key == object_key)
        ).first()
        if row is not None and row.state == state and row.retain_until == locked.retain_until:
            return  # a rerun met the same lock: recorded already
        if row is None:
            row = ShreddedRemnantRow(
                id=uuid.uuid4().hex,
                object_key=object_key,
                region=region,
                subject_id=origin.subject_id,
                reason=origin.reason.value,
                source_id=origin.source_id,
                key_name=origin.key_name,
                key_version=origin.key_version,
                recorded_at=now,
                state=state.value,
            )
        row.state, row.retain_until, row.shredded_at = state.value, locked.retain_until, shredded
        session.add(row)
        _audit(ctx, session, row, actor, "remnant.record", state.value)


def _audit(
    ctx: VaultContext,
    session: Session,
    row: ShreddedRemnantRow,
    actor: Actor,
    action: str,
    outcome: str,
) -> None:
    until = row.retain_until.isoformat() if row.retain_until else "legal-hold"
    ctx.audit.append(
        session,
        actor=actor,
        action=action,
        target=row.object_key,
        subject_id=row.subject_id,
        region=row.region,
        purpose=f"{row.reason}:{row.key_name}:{until}",
        outcome=outcome,
    )


# -- promotion and the sweep ------------------------------------------------------


def promote(
    ctx: VaultContext,
    actor: Actor,
    *,
    regions: Sequence[str] | None = None,
    subject_id: str | None = None,
) -> int:
    """Mark awaiting remnants shredded once their key (version) is seen destroyed."""
    promoted, last = 0, ""
    while True:
        with session_scope(ctx.engine) as session:
            query = (
                select(ShreddedRemnantRow)
                .where(ShreddedRemnantRow.state == RemnantState.AWAITING_SHRED)
                .where(col(ShreddedRemnantRow.id) > last)
                .order_by(col(ShreddedRemnantRow.id))
                .limit(_BATCH)
            )
            if regions is not None:
                query = query.where(col(ShreddedRemnantRow.region).in_(regions))
            if subject_id is not None:
                query = query.where(ShreddedRemnantRow.subject_id == subject_id)
            rows = session.exec(query).all()
        if not rows:
            return promoted
        for row in rows:
            last = row.id
            region = ctx.region(row.region)
            if not key_destroyed(region, row.key_name, row.key_version):
                continue
            with session_scope(ctx.engine) as session:
                fresh = session.get(ShreddedRemnantRow, row.id, with_for_update=True)
                if fresh is None or fresh.state != RemnantState.AWAITING_SHRED:
                    continue
                fresh.state, fresh.shredded_at = RemnantState.SHREDDED.value, ctx.clock()
                session.add(fresh)
                _audit(ctx, session, fresh, actor, "remnant.record", RemnantState.SHREDDED.value)
            promoted += 1


def sweep_remnants(ctx: VaultContext, regions: Sequence[str], actor: Actor) -> tuple[int, int]:
    """Delete shredded remnants whose lock has lapsed (by the vault's clock).

    Returns (deleted, still locked). A store that still refuses keeps the row,
    with the retain-until it now reports; two sweeps at once delete an object
    twice at worst (deleting a missing key is no error) and remove the row once.
    """
    promote(ctx, actor, regions=regions)
    now = ctx.clock()
    deleted, last = 0, ""
    refused = 0
    while True:
        with session_scope(ctx.engine) as session:
            rows = session.exec(
                _shredded(regions)
                .where(
                    or_(
                        col(ShreddedRemnantRow.retain_until).is_(None),
                        col(ShreddedRemnantRow.retain_until) <= now,
                    )
                )
                .where(col(ShreddedRemnantRow.id) > last)
                .order_by(col(ShreddedRemnantRow.id))
                .limit(_BATCH)
            ).all()
        if not rows:
            break
        for row in rows:
            last = row.id
            outcome = _delete_due(ctx, row, actor)
            deleted += outcome is True
            refused += outcome is False
    with session_scope(ctx.engine) as session:
        waiting = count_shredded(session, regions, locked_at=now)
    return deleted, refused + waiting


def _delete_due(ctx: VaultContext, row: ShreddedRemnantRow, actor: Actor) -> bool | None:
    """True: deleted now; False: the store still refuses; None: another sweep took it."""
    store = ctx.region(row.region).store
    try:
        try:
            store.delete(row.object_key)
        except ObjectLocked as locked:
            _delete_shredded(store, row.object_key, locked)
    except ObjectLocked as still:
        with session_scope(ctx.engine) as session:
            fresh = session.get(ShreddedRemnantRow, row.id, with_for_update=True)
            later = still.retain_until
            if fresh is not None and later is not None and later != fresh.retain_until:
                fresh.retain_until = later  # the store knows better
                session.add(fresh)
        return False
    with session_scope(ctx.engine) as session:
        fresh = session.get(ShreddedRemnantRow, row.id, with_for_update=True)
        if fresh is None:
            return None
        session.delete(fresh)
        _audit(ctx, session, fresh, actor, "remnant.delete", "ok")
    return True


def _shredded(regions: Sequence[str]) -> SelectOfScalar[ShreddedRemnantRow]:
    return (
        select(ShreddedRemnantRow)
        .where(ShreddedRemnantRow.state == RemnantState.SHREDDED)
        .where(col(ShreddedRemnantRow.region).in_(regions))
    )


# -- reading -----------------------------------------------------------------------


def to_remnant(row: ShreddedRemnantRow) -> Remnant:
    return Remnant(
        object_key=row.object_key,
        region=row.region,
        retain_until=row.retain_until,
        destroyed_key=row.key_name,
        key_version=row.key_version,
        reason=RemnantReason(row.reason),
        recorded_at=row.recorded_at,
    )


def shredded_remnants(
    session: Session,
    regions: Sequence[str],
    *,
    subject_id: str | None = None,
    limit: int | None = None,
) -> list[Remnant]:
    """Shredded remnants in ``regions`` (of one subject), the first to become deletable first."""
    query = _shredded(regions).order_by(
        col(ShreddedRemnantRow.retain_until), col(ShreddedRemnantRow.object_key)
    )
    if subject_id is not None:
        query = query.where(ShreddedRemnantRow.subject_id == subject_id)
    if limit is not None:
        query = query.limit(limit)
    return [to_remnant(r) for r in session.exec(query).all()]


def count_shredded(
    session: Session, regions: Sequence[str], *, locked_at: datetime | None = None
) -> int:
    """How many shredded remnants ``regions`` hold (still locked at ``locked_at``, if given)."""
    query = (
        select(func.count())
        .select_from(ShreddedRemnantRow)
        .where(ShreddedRemnantRow.state == RemnantState.SHREDDED)
        .where(col(ShreddedRemnantRow.region).in_(regions))
    )
    if locked_at is not None:
        query = query.where(col(ShreddedRemnantRow.retain_until) > locked_at)
    return int(session.exec(query).one())
