"""Starting or resuming a transfer between regions: its legal basis and every refusal.

Before anything is copied: the legal basis and its evidence are required and
checked, the subject must be active, elsewhere than the target region, without
a namesake there and without an open key destruction; an unfinished transfer
of the subject is resumed instead (to the same region only). A legal hold
refuses the transfer unless an admin overrides it, which is recorded on the
transfer and in its audit event.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select

from keys.naming import subject_key_name
from vault.context import VaultContext, require_region
from vault.domain import (
    OPEN_DESTRUCTION,
    Actor,
    LegalBasis,
    SubjectState,
    TransferState,
)
from vault.errors import Conflict, HeldByLegalHold, InvalidInput
from vault.metadata import KeyDestructionRow, SubjectRow, TransferRow
from vault.residency.transfer_record import audit_transfer_in
from vault.retention.holds import active_holds

_EVIDENCE_LIMIT = 160  # basis and evidence share the audit event's 200-character purpose


def required_basis(value: LegalBasis | str | None) -> LegalBasis:
    if not value:
        raise InvalidInput("a legal basis is required for a transfer between regions")
    try:
        return LegalBasis(value)
    except ValueError:
        known = ", ".join(b.value for b in LegalBasis)
        raise InvalidInput(f"unknown legal basis {value!r} (one of: {known})") from None


def required_evidence(value: str | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("evidence_ref is required (where the legal basis is documented)")
    # the length as given, as the API's schema counts it
    if len(value) > _EVIDENCE_LIMIT or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"evidence_ref: at most {_EVIDENCE_LIMIT} printable characters")
    return value.strip()


def start_or_resume(
    ctx: VaultContext,
    session: Session,
    subject: Any,
    to_region: str,
    basis: LegalBasis,
    evidence: str,
    actor: Actor,
) -> tuple[TransferRow, bool]:
    """The subject's transfer to ``to_region``, new or unfinished; and whether it resumes."""
    ctx.check_access(subject, actor, data=False)
    require_region(actor, to_region)
    running = session.exec(
        select(TransferRow)
        .where(TransferRow.subject_id == subject.id)
        .where(TransferRow.state != TransferState.DONE)
    ).first()
    if running is not None:
        if running.to_region != to_region:
            raise Conflict(f"a transfer of {subject.id} to {running.to_region} is in progress")
        return running, True
    if subject.state != SubjectState.ACTIVE:
        raise Conflict(f"subject {subject.id} is being erased")
    if subject.region == to_region:
        raise Conflict(f"subject {subject.id} is already in region {to_region}")
    if _reference_taken(ctx, session, subject, to_region):
        raise Conflict(f"a subject with the same reference already lives in {to_region}")
    destruction = session.exec(
        select(KeyDestructionRow.id)
        .where(KeyDestructionRow.subject_id == subject.id)
        .where(col(KeyDestructionRow.state).in_(OPEN_DESTRUCTION))
    ).first()
    if destruction is not None:
        raise Conflict(f"the key of subject {subject.id} is scheduled for destruction")
    transfer_id = uuid.uuid4().hex
    row = TransferRow(
        id=transfer_id,
        subject_id=subject.id,
        from_region=subject.region,
        to_region=to_region,
        legal_basis=basis.value,
        evidence_ref=evidence,
        new_key_name=subject_key_name(ctx.name_secret, f"{subject.id}/transfer/{transfer_id}"),
        old_key_name=subject.key_name,
        state=TransferState.COPYING,
        requested_by=actor.name[:200],
        started_at=ctx.clock(),
    )
    session.add(row)
    return row, False


def check_holds(
    ctx: VaultContext,
    session: Session,
    row: TransferRow,
    resumed: bool,
    override_hold: bool,
    actor: Actor,
) -> None:
    """Refuse while a legal hold covers the subject, unless an admin overrides it."""
    holds = active_holds(session, row.subject_id)
    overriding = bool(holds) and not row.override_hold
    if overriding and not override_hold:
        cases = ", ".join(sorted({h.case_ref for h in holds}))
        raise HeldByLegalHold(f"subject {row.subject_id} is under legal hold ({cases})")
    if overriding:
        row.override_hold = True
        session.add(row)
        session.flush()
    outcome = "resumed" if resumed else "started"
    audit_transfer_in(
        ctx,
        session,
        row,
        outcome + (":hold-override" if overriding else ""),
        row.from_region,
        actor,
    )


def _reference_taken(
    ctx: VaultContext, session: Session, subject: SubjectRow, to_region: str
) -> bool:
    """Whether the target region already has a live subject for this reference."""
    base = subject.ref_base or subject.ref_hmac
    return (
        session.exec(
            select(SubjectRow.id)
            .where(col(SubjectRow.ref_hmac).in_([ctx.ref_tag(to_region, base), base]))
            .where(SubjectRow.region == to_region)
            .where(SubjectRow.id != subject.id)
            .where(col(SubjectRow.state).in_([SubjectState.ACTIVE, SubjectState.DESTROYING]))
        ).first()
        is not None
    )
