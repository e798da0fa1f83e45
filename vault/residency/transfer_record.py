"""What a transfer between regions keeps on record: state, copies, audit events, result.

The small reads and writes every step of a transfer (``transfer``,
``transfer_start``, ``transfer_cutover``) shares: moving the ``TransferRow`` to
a new state, listing its ``TransferItemRow`` copies, appending the
``subject.transfer`` audit event, and the ``TransferResult`` the caller gets.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from vault.context import VaultContext
from vault.domain import (
    Actor,
    LegalBasis,
    TransferItemState,
    TransferResult,
    TransferState,
)
from vault.metadata import ShreddedRemnantRow, TransferItemRow, TransferRow, session_scope


def set_state(ctx: VaultContext, transfer_id: str, state: TransferState) -> None:
    with session_scope(ctx.engine) as session:
        row = session.get(TransferRow, transfer_id)
        assert row is not None
        row.state = state
        session.add(row)


def transfer_items(ctx: VaultContext, transfer_id: str) -> list[TransferItemRow]:
    with session_scope(ctx.engine) as session:
        return list(
            session.exec(
                select(TransferItemRow).where(TransferItemRow.transfer_id == transfer_id)
            ).all()
        )


def transfer_result(
    ctx: VaultContext, row: TransferRow, copied: int, resumed: bool
) -> TransferResult:
    items = transfer_items(ctx, row.id)
    with session_scope(ctx.engine) as session:
        remnants = session.exec(
            select(func.count())
            .select_from(ShreddedRemnantRow)
            .where(ShreddedRemnantRow.source_id == row.id)
        ).one()
    return TransferResult(
        id=row.id,
        subject_id=row.subject_id,
        from_region=row.from_region,
        to_region=row.to_region,
        legal_basis=LegalBasis(row.legal_basis),
        evidence_ref=row.evidence_ref,
        state=TransferState(row.state),
        versions=sum(1 for i in items if i.state == TransferItemState.COPIED),
        copied_now=copied,
        resumed=resumed,
        hold_override=row.override_hold,
        started_at=row.started_at,
        finished_at=row.finished_at,
        remnants=int(remnants),
    )


def audit_transfer_in(
    ctx: VaultContext,
    session: Session,
    row: TransferRow,
    outcome: str,
    region: str,
    actor: Actor,
) -> None:
    """Append the transfer's ``subject.transfer`` event in ``session``."""
    ctx.audit.append(
        session,
        actor=actor,
        action="subject.transfer",
        target=row.subject_id,
        subject_id=row.subject_id,
        region=region,
        purpose=f"{row.legal_basis}:{row.evidence_ref}",
        outcome=outcome if not row.override_hold or outcome != "ok" else "ok:hold-override",
    )


def audit_transfer(
    ctx: VaultContext, row: TransferRow, actor: Actor, outcome: str, region: str
) -> None:
    """Append the transfer's ``subject.transfer`` event in a transaction of its own."""
    with session_scope(ctx.engine) as session:
        audit_transfer_in(ctx, session, row, outcome, region, actor)
