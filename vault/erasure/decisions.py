"""Where a subject stands on erasure: its open request and destruction, and whether its key may go.

The queries and the decision that scheduling, executing and requesting an
erasure (``destruction``, ``execution``, ``requests``) and the disposal sweep
all ask: the erasure requests not yet carried out, the subject's open key
destruction, the disposal rules' decision over its live records, and that
decision's blocks as the ``Reason`` values callers get.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from vault.domain import (
    OPEN_DESTRUCTION,
    OPEN_ERASURE,
    DestructionState,
    Reason,
    RecordState,
)
from vault.metadata import ErasureRequestRow, KeyDestructionRow, RecordRow, SubjectRow
from vault.retention.holds import active_holds
from vault.retention.rules import Block, Decision, RecordFacts, decide_subject


def reasons(blocks: Iterable[Block]) -> tuple[Reason, ...]:
    return tuple(
        Reason(
            kind=b.kind.value,
            detail=b.describe(),
            until=b.until,
            case_ref=b.case_ref,
            hold_id=b.hold_id,
            record_id=b.record_id,
        )
        for b in blocks
    )


def open_requests(subject_id: str | None = None) -> SelectOfScalar[ErasureRequestRow]:
    """The one query for erasure requests not yet carried out (of one subject, or all)."""
    query = select(ErasureRequestRow).where(col(ErasureRequestRow.status).in_(OPEN_ERASURE))
    if subject_id is not None:
        query = query.where(ErasureRequestRow.subject_id == subject_id)
    return query


def open_request(session: Session, subject_id: str) -> ErasureRequestRow | None:
    return session.exec(open_requests(subject_id)).first()


def subject_decision(session: Session, subject: SubjectRow, now: datetime) -> Decision:
    records = session.exec(
        select(RecordRow)
        .where(RecordRow.subject_id == subject.id)
        .where(RecordRow.state == RecordState.ACTIVE)
    ).all()
    facts = [RecordFacts(r.id, r.retain_until) for r in records]
    return decide_subject(
        subject.id, facts, active_holds(session, subject.id), subject.restricted, now
    )


def open_destruction(session: Session, subject_id: str) -> KeyDestructionRow | None:
    return session.exec(
        select(KeyDestructionRow)
        .where(KeyDestructionRow.subject_id == subject_id)
        .where(col(KeyDestructionRow.state).in_(OPEN_DESTRUCTION))
    ).first()


def done_destruction(session: Session, subject_id: str) -> KeyDestructionRow | None:
    """The destruction that erased the subject (its certificate is the proof), if any."""
    return session.exec(
        select(KeyDestructionRow)
        .where(KeyDestructionRow.subject_id == subject_id)
        .where(KeyDestructionRow.state == DestructionState.DONE)
        .order_by(col(KeyDestructionRow.executed_at).desc())
    ).first()
