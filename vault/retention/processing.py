"""Processing events: what moves a record's clock (DESIGN section 7).

Creating a record, adding a version and a content read by a service are
processing events: ``last_processed_at`` moves and ``retain_until`` runs from
it (never backwards); a scheduled destruction of the subject's key is
cancelled. Metadata reads, exports, audits and residency checks are not.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from vault.context import VaultContext
from vault.domain import DestructionState
from vault.metadata import KeyDestructionRow, RecordRow


def move_clock(ctx: VaultContext, record: RecordRow, now: datetime) -> None:
    """A processing event: ``last_processed_at`` moves and retention runs from it."""
    record.last_processed_at = now
    record.retain_until = max(record.retain_until, ctx.retain_until(record.category, now))


def cancel_pending_destruction(session: Session, subject_id: str, now: datetime) -> None:
    """Processing a subject's data cancels a scheduled destruction of its key."""
    scheduled = session.exec(
        select(KeyDestructionRow)
        .where(KeyDestructionRow.subject_id == subject_id)
        .where(KeyDestructionRow.state == DestructionState.SCHEDULED)
    ).all()
    for destruction in scheduled:
        destruction.state, destruction.cancelled_at = DestructionState.CANCELLED, now
        destruction.cancelled_by = "processing-event"
        session.add(destruction)


def processing_event(ctx: VaultContext, session: Session, record: RecordRow, now: datetime) -> None:
    """Move the record's processing clock; a pending key destruction of its subject is cancelled."""
    move_clock(ctx, record, now)
    cancel_pending_destruction(session, record.subject_id, now)
