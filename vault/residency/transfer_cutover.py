"""The end of a transfer between regions: switch the subject to its copies, then clean up.

``switch`` points every committed version, and the subject (region, key,
reference tag), at the verified copies in one transaction, or sends the
transfer back to copying when a copy is missing or a version is new.
``clean`` destroys the old subject key first, then deletes the old objects
(one the store keeps under Object Lock becomes a shredded remnant) and marks
the transfer done.
"""

from __future__ import annotations

from sqlmodel import col, select

from vault.context import VaultContext
from vault.domain import (
    Actor,
    RemnantReason,
    TransferItemState,
    TransferState,
    VersionState,
)
from vault.erasure.remnants import RemnantOrigin, delete_or_keep
from vault.metadata import (
    RecordRow,
    RecordVersionRow,
    TransferItemRow,
    TransferRow,
    session_scope,
)
from vault.residency.leases import renew
from vault.residency.transfer_record import audit_transfer_in, set_state, transfer_items
from vault.retention.object_lock import lock_new_versions
from vault.storage.base import ObjectNotFound


def switch(ctx: VaultContext, row: TransferRow, actor: Actor, runner: str) -> None:
    target = ctx.region(row.to_region)
    items = {(i.record_id, i.version): i for i in transfer_items(ctx, row.id)}
    for item in items.values():
        if item.state != TransferItemState.COPIED:
            continue
        try:
            target.store.head(item.new_object_key)
        except ObjectNotFound:
            set_state(ctx, row.id, TransferState.COPYING)  # e.g. removed by gc
            _requeue(ctx, item)
            return
    moved: list[tuple[str, int]] = []
    with session_scope(ctx.engine) as session:
        subject = ctx.subject(session, row.subject_id, for_update=True)
        fresh = session.get(TransferRow, row.id, with_for_update=True)
        assert fresh is not None
        renew(fresh, runner, ctx.clock())
        versions = session.exec(
            select(RecordVersionRow)
            .join(RecordRow, col(RecordRow.id) == col(RecordVersionRow.record_id))
            .where(RecordRow.subject_id == row.subject_id)
            .where(RecordVersionRow.state == VersionState.COMMITTED)
        ).all()
        live = {(v.record_id, v.version): v for v in versions}
        if any(k not in items or items[k].state != TransferItemState.COPIED for k in live):
            fresh.state = TransferState.COPYING
            session.add(fresh)
            return
        for key, item in items.items():
            version = live.get(key)
            if version is None:  # erased while the transfer ran: drop its copy
                item.state = TransferItemState.DROPPED
                session.add(item)
                continue
            version.object_key, version.header = item.new_object_key, item.header
            version.wrapped_dek, version.key_name = item.wrapped_dek, row.new_key_name
            version.key_version, version.lock_until = item.key_version, None
            session.add(version)
            moved.append(key)
        base = subject.ref_base or subject.ref_hmac  # subjects from before ADR 0005
        subject.ref_hmac, subject.ref_base = ctx.ref_tag(row.to_region, base), base
        subject.region, subject.key_name = row.to_region, row.new_key_name
        subject.min_key_version = 0
        session.add(subject)
        fresh.state = TransferState.CLEANING
        session.add(fresh)
        audit_transfer_in(ctx, session, fresh, "switched", row.to_region, actor)
    lock_new_versions(ctx, moved)


def _requeue(ctx: VaultContext, item: TransferItemRow) -> None:
    with session_scope(ctx.engine) as session:
        fresh = session.get(TransferItemRow, (item.transfer_id, item.record_id, item.version))
        assert fresh is not None
        fresh.state = TransferItemState.COPYING
        session.add(fresh)


def clean(ctx: VaultContext, row: TransferRow, actor: Actor) -> None:
    source, target = ctx.region(row.from_region), ctx.region(row.to_region)
    # The key first: from here no stray copy of an old object can be read, and an
    # old object the store keeps under Object Lock is a shredded remnant.
    source.keys.destroy(row.old_key_name)
    origin = RemnantOrigin(row.subject_id, RemnantReason.TRANSFER, row.id, row.old_key_name)
    for item in transfer_items(ctx, row.id):
        delete_or_keep(ctx, source, item.old_object_key, origin, actor)
        if item.state == TransferItemState.DROPPED:
            target.store.delete(item.new_object_key)
    with session_scope(ctx.engine) as session:
        fresh = session.get(TransferRow, row.id)
        assert fresh is not None
        fresh.state, fresh.finished_at = TransferState.DONE, ctx.clock()
        session.add(fresh)
        audit_transfer_in(ctx, session, fresh, "ok", row.to_region, actor)
